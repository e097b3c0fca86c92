/**
 * SharePoint and OneDrive records (Audit.SharePoint): file operations (RecordType 6), sharing (14), lists and pages.
 * OCSF File Hosting Activity 6006.
 */
import type { EventDraft, MapContext } from '../event-draft.ts';
import { str, type Json } from '../record-values.ts';
import { emailOf } from '../user.ts';

const FILE_OPERATIONS: Readonly<Record<string, { type: string; activityId: number }>> = {
  FileUploaded: { type: 'creation', activityId: 1 },
  FolderCreated: { type: 'creation', activityId: 1 },
  FileDownloaded: { type: 'access', activityId: 2 },
  FileSyncDownloadedFull: { type: 'access', activityId: 2 },
  FileModified: { type: 'change', activityId: 3 },
  FileModifiedExtended: { type: 'change', activityId: 3 },
  FolderModified: { type: 'change', activityId: 3 },
  FileDeleted: { type: 'deletion', activityId: 4 },
  FileDeletedFirstStageRecycleBin: { type: 'deletion', activityId: 4 },
  FileDeletedSecondStageRecycleBin: { type: 'deletion', activityId: 4 },
  FileRecycled: { type: 'deletion', activityId: 4 },
  FolderDeleted: { type: 'deletion', activityId: 4 },
  FolderRecycled: { type: 'deletion', activityId: 4 },
  FileRenamed: { type: 'change', activityId: 5 },
  FolderRenamed: { type: 'change', activityId: 5 },
  FileCopied: { type: 'creation', activityId: 6 },
  FolderCopied: { type: 'creation', activityId: 6 },
  FileMoved: { type: 'change', activityId: 7 },
  FolderMoved: { type: 'change', activityId: 7 },
  FileRestored: { type: 'change', activityId: 8 },
  FolderRestored: { type: 'change', activityId: 8 },
  FilePreviewed: { type: 'access', activityId: 9 },
  FileCheckedOut: { type: 'change', activityId: 10 },
  LockRecord: { type: 'change', activityId: 10 },
  FileCheckedIn: { type: 'change', activityId: 11 },
  UnlockRecord: { type: 'change', activityId: 11 },
  FileAccessed: { type: 'access', activityId: 14 },
  FileAccessedExtended: { type: 'access', activityId: 14 },
  FileSyncUploadedFull: { type: 'creation', activityId: 15 },
};

const URL_HOST = /^https?:\/\/([^/:?#\s]+)/i;
const UNSHARE = /(Revoked|Removed|Deleted|Disabled|Expired)$/;
const SHARE =
  /^(Sharing|AnonymousLink|CompanyLink|SecureLink|AddedToSecureLink|RemovedFromSecureLink|AddedToGroup|PermissionLevel|AccessRequest|SharingInvitation|GroupAdded)/;

export function mapSharePoint(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const m = draft.m365;
  const operation = str(record.Operation) ?? '';
  const fileOp = FILE_OPERATIONS[operation];
  const sharing = !fileOp && (record.RecordType === 14 || SHARE.test(operation));
  if (fileOp) draft.classify({ category: ['file'], type: [fileOp.type], classUid: 6006, activityId: fileOp.activityId });
  else if (sharing) {
    const unshare = UNSHARE.test(operation) || operation.startsWith('RemovedFrom');
    draft.classify({ category: ['file'], type: ['change'], classUid: 6006, activityId: unshare ? 13 : 12 });
  } else if (operation === 'PageViewed' || operation === 'PageViewedExtended' || operation === 'SearchQueryPerformed') {
    draft.classify({ category: ['web'], type: ['access'], classUid: 6001, activityId: operation.startsWith('Search') ? 5 : 2 });
  } else if (str(record.SourceFileName)) {
    draft.classify({ category: ['file'], type: ['info'], classUid: 6006, activityId: 99 });
  } else draft.classify({ category: ['web'], type: ['info'], classUid: 6001, activityId: 99 });

  const name = str(record.SourceFileName);
  const objectId = str(record.ObjectId);
  if (name || objectId) {
    const ext = str(record.SourceFileExtension)?.replace(/^\./, '').toLowerCase() ?? null;
    const destDir = str(record.DestinationRelativeUrl);
    const destName = str(record.DestinationFileName);
    ev.file = {
      name,
      extension: ext,
      directory: str(record.SourceRelativeUrl),
      path: objectId,
      target_path: destDir || destName ? [destDir, destName].filter(Boolean).join('/') : null,
    };
  }
  if (objectId) {
    const host = URL_HOST.exec(objectId);
    if (host) ev.url = { original: objectId, domain: (host[1] as string).toLowerCase() };
  }
  const siteUrl = str(record.SiteUrl);
  const targetName = str(record.TargetUserOrGroupName);
  if (sharing || targetName) {
    const eventData = str(record.EventData);
    const granted = eventData ? (/<PermissionsGranted>([^<]*)<\/PermissionsGranted>/.exec(eventData)?.[1] ?? null) : null;
    m.sharing = {
      target_name: targetName,
      target_type: str(record.TargetUserOrGroupType),
      sharing_type: str(record.SharingType) ?? granted,
      site_url: siteUrl,
    };
    const targetEmail = emailOf(targetName) ?? emailOf(record.UserSharedWith);
    if (targetEmail) draft.targetUser(targetEmail);
  } else if (siteUrl) m.sharing = { site_url: siteUrl };
}
