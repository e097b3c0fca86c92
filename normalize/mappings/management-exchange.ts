/**
 * Exchange records (Audit.Exchange): admin cmdlets (RecordType 1 and other cmdlet types) with their Parameters kept
 * searchable, and mailbox access (2, 3, 50 MailItemsAccessed, 19).
 */
import type { EventDraft, MapContext } from '../event-draft.ts';
import { crudActivity, verbOf } from '../event-draft.ts';
import {
  arr,
  bool,
  boundDerived,
  DERIVED_MAP_MAX_CHARS,
  DERIVED_VALUE_MAX_CHARS,
  firstStr,
  int,
  isObject,
  nameValues,
  str,
  type Json,
} from '../record-values.ts';
import { emailOf } from '../user.ts';

/** Parameters whose values say where mail goes: an inbox rule or mailbox forwarding outside shows up in email.to. */
const FORWARDING_PARAMETERS = new Set(['forwardto', 'redirectto', 'forwardasattachmentto', 'forwardingsmtpaddress', 'forwardingaddress']);

export function mapExchangeAdmin(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const m = draft.m365;
  const operation = str(record.Operation) ?? '';
  const params = nameValues(record.Parameters);
  if (params.length > 0) {
    const map: Record<string, string> = {};
    const forwardTo: string[] = [];
    let mapChars = 0;
    for (const [k, v] of params) {
      // Each value bounded, and the map as a whole: the full parameters stay in event.original (m365.record).
      if (mapChars < DERIVED_MAP_MAX_CHARS) {
        map[k] = boundDerived(v, DERIVED_VALUE_MAX_CHARS);
        mapChars += k.length + (map[k] as string).length;
      }
      if (FORWARDING_PARAMETERS.has(k.toLowerCase())) {
        for (const part of v.split(/[;,]/)) {
          const address = emailOf(part.trim().replace(/^smtp:/i, ''));
          if (address && !forwardTo.includes(address)) forwardTo.push(address);
        }
      }
    }
    m.parameters = map;
    if (forwardTo.length > 0) ev.email = { to: { address: forwardTo } };
  }
  const verb = verbOf(operation);
  const op = operation.toLowerCase();
  const category = ['api'];
  if (/inboxrule|mailbox|transportrule|forward|journal|mailflow/.test(op)) category.push('email');
  if (/permission|rolegroup|managementrole|roleassignment/.test(op)) category.push('iam');
  draft.classify({ category, type: [verb ?? 'info'], classUid: 6003, activityId: crudActivity(verb) });
  // "user@contoso.com\Rule name": the mailbox the cmdlet changed.
  const objectId = str(record.ObjectId);
  const identity = params.find(([k]) => k.toLowerCase() === 'identity')?.[1] ?? null;
  const owner = emailOf(identity?.split('\\')[0]) ?? (objectId ? emailOf(objectId.split('\\')[0]) : null);
  if (owner && owner !== ev.user?.email) draft.targetUser(owner);
}

const LOGON_TYPES = ['Owner', 'Admin', 'Delegated', 'Transport', 'SystemService', 'BestAccess', 'DelegatedAdmin'];

function mailboxClassification(operation: string) {
  switch (operation) {
    case 'MailItemsAccessed':
    case 'FolderBind':
    case 'MessageBind':
    case 'SearchQueryInitiatedExchange':
    case 'MailboxLogin':
    case 'PreviewItem':
      return { category: ['email'], type: ['access'], classUid: 6001, activityId: 2 };
    case 'Send':
    case 'SendAs':
    case 'SendOnBehalf':
      return { category: ['email'], type: ['creation'], classUid: 4009, activityId: 1 };
    case 'Create':
      return { category: ['email'], type: ['creation'], classUid: 6001, activityId: 1 };
    case 'SoftDelete':
    case 'HardDelete':
    case 'MoveToDeletedItems':
      return { category: ['email'], type: ['deletion'], classUid: 6001, activityId: 4 };
    case 'UpdateInboxRules':
    case 'UpdateFolderPermissions':
    case 'AddFolderPermissions':
    case 'RemoveFolderPermissions':
    case 'ModifyFolderPermissions':
    case 'UpdateCalendarDelegation':
      return { category: ['email', 'configuration'], type: ['change'], classUid: 6001, activityId: 3 };
    default:
      return { category: ['email'], type: ['change'], classUid: 6001, activityId: 3 };
  }
}

function addFolder(folders: string[], f: unknown): void {
  const p = isObject(f) ? str(f.Path) : null;
  if (p && !folders.includes(p)) folders.push(p);
}

export function mapExchangeMailbox(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const m = draft.m365;
  const operation = str(record.Operation) ?? '';
  draft.classify(mailboxClassification(operation));
  // Actor: the logged-on user (UserId); without one, the mailbox owner.
  if (!ev.user?.email) draft.actor(record.MailboxOwnerUPN, null, record.LogonUserDisplayName);
  else if (str(record.LogonUserDisplayName)) draft.user().full_name = str(record.LogonUserDisplayName);
  const owner = emailOf(record.MailboxOwnerUPN);
  if (owner && owner !== ev.user?.email) draft.targetUser(owner);
  const logonType = int(record.LogonType);
  const folders: string[] = [];
  for (const f of arr(record.Folders)) addFolder(folders, f);
  addFolder(folders, record.Folder);
  addFolder(folders, record.DestFolder);
  const item = isObject(record.Item) ? record.Item : null;
  if (item) addFolder(folders, item.ParentFolder);
  const operationProperties = nameValues(record.OperationProperties);
  const accessType = operationProperties.find(([k]) => k === 'MailAccessType')?.[1] ?? null;
  m.mailbox = {
    owner_upn: owner,
    guid: str(record.MailboxGuid),
    logon_type: logonType === null ? null : (LOGON_TYPES[logonType] ?? String(logonType)),
    external_access: bool(record.ExternalAccess),
    operation_count: int(record.OperationCount),
    access_type: accessType,
    folders: folders.length > 0 ? folders : null,
  };
  m.client_app = str(record.ClientInfoString);
  const appId = firstStr(record, 'ClientAppId', 'AppId');
  if (appId && !m.app) m.app = { id: appId };
  const affected = arr(record.AffectedItems).find(isObject) as Json | undefined;
  const subject = (item && str(item.Subject)) ?? (affected ? str(affected.Subject) : null);
  const messageId = (item && str(item.InternetMessageId)) ?? (affected ? str(affected.InternetMessageId) : null);
  if (subject || messageId) ev.email = { ...(ev.email ?? {}), subject, message_id: messageId };
  if (operation.startsWith('Send')) {
    const from = emailOf(record.SendAsUserSmtp) ?? emailOf(record.SendOnBehalfOfUserSmtp) ?? owner;
    if (from) ev.email = { ...(ev.email ?? {}), from: { address: [from] } };
  }
}
