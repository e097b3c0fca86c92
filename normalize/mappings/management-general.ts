/**
 * Audit.General records: Microsoft Teams (RecordType 25), Security & Compliance alerts (40, event.kind alert),
 * Power BI (20) and everything else the General feed carries (classified by verb).
 */
import type { EventDraft, MapContext } from '../event-draft.ts';
import { crudActivity, severityNumber, verbOf } from '../event-draft.ts';
import { arr, isObject, maybeJson, str, type Json } from '../record-values.ts';
import { emailOf, isGuid } from '../user.ts';

function teamsClassification(operation: string) {
  switch (operation) {
    case 'TeamCreated':
      return { category: ['iam'], type: ['group', 'creation'], classUid: 3006, activityId: 6 };
    case 'TeamDeleted':
      return { category: ['iam'], type: ['group', 'deletion'], classUid: 3006, activityId: 5 };
    case 'MemberAdded':
      return { category: ['iam'], type: ['group', 'change'], classUid: 3006, activityId: 3 };
    case 'MemberRemoved':
      return { category: ['iam'], type: ['group', 'change'], classUid: 3006, activityId: 4 };
    case 'MemberRoleChanged':
      return { category: ['iam'], type: ['group', 'change'], classUid: 3006, activityId: 99 };
    case 'TeamsSessionStarted':
      return { category: ['authentication', 'session'], type: ['start'], classUid: 3002, activityId: 1 };
    default: {
      if (/^(Channel|Tab|App|Bot|Connector|Team).*(Added|Installed|Created)$/.test(operation))
        return { category: ['configuration'], type: ['creation'], classUid: 6003, activityId: 1 };
      if (/^(Channel|Tab|App|Bot|Connector|Team).*(Deleted|Removed|Uninstalled)$/.test(operation))
        return { category: ['configuration'], type: ['deletion'], classUid: 6003, activityId: 4 };
      if (/(Setting|Settings)(Changed|Updated)$|Upgraded$|Updated$/.test(operation))
        return { category: ['configuration'], type: ['change'], classUid: 6003, activityId: 3 };
      if (/^Message.*Deleted|Deleted$/.test(operation)) return { category: ['web'], type: ['deletion'], classUid: 6001, activityId: 4 };
      if (/^(Message|Chat).*(Sent|Created)$/.test(operation)) return { category: ['web'], type: ['creation'], classUid: 6001, activityId: 1 };
      if (/Edited|Updated$/.test(operation)) return { category: ['web'], type: ['change'], classUid: 6001, activityId: 3 };
      if (/Read|Retrieved|Viewed|Accessed|Exported$/.test(operation)) return { category: ['web'], type: ['access'], classUid: 6001, activityId: 2 };
      return { category: ['web'], type: ['info'], classUid: 6001, activityId: 99 };
    }
  }
}

export function mapTeams(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const operation = str(record.Operation) ?? '';
  draft.classify(teamsClassification(operation));
  const teamName = str(record.TeamName);
  const groupId = str(record.AADGroupId);
  if (teamName || groupId) draft.ev.group = { id: groupId, name: teamName };
  const members = arr(record.Members).filter(isObject) as Json[];
  for (const member of members) draft.relatedUser(emailOf(member.UPN) ?? str(member.UPN));
  if ((operation === 'MemberAdded' || operation === 'MemberRemoved' || operation === 'MemberRoleChanged') && members.length === 1) {
    const only = members[0] as Json;
    draft.targetUser(only.UPN, null, only.DisplayName);
  }
}

function alertCategory(category: string | null): string[] {
  switch ((category ?? '').toLowerCase()) {
    case 'datalossprevention':
    case 'datagovernance':
      return ['intrusion_detection', 'file'];
    case 'accessgovernance':
      return ['intrusion_detection', 'iam'];
    case 'threatmanagement':
      return ['intrusion_detection', 'threat'];
    default:
      return ['intrusion_detection'];
  }
}

export function mapSecurityAlert(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const m = draft.m365;
  const operation = str(record.Operation) ?? '';
  const updated = /Updated|Resolved|Dismissed/i.test(operation);
  const category = str(record.Category);
  draft.classify({
    kind: updated ? 'event' : 'alert',
    category: alertCategory(category),
    type: [updated ? 'change' : 'info'],
    classUid: 2004,
    activityId: updated ? 2 : 1,
  });
  // An alert has no success or failure: ResultStatus only says the alert record was written.
  ev.event.outcome = null;
  const name = str(record.Name);
  const policyId = str(record.PolicyId);
  ev.rule = { id: policyId ? [policyId] : null, name: name ? [name] : null, category, description: str(record.Description) };
  ev.message = str(record.Comments) ?? name;
  const severity = severityNumber(record.Severity);
  if (severity !== null) ev.event.severity = severity;
  m.alert = { id: str(record.AlertId), status: str(record.Status), entity_type: str(record.EntityType), severity: str(record.Severity) };
  const entity = str(record.AlertEntityId);
  const entityType = (str(record.EntityType) ?? '').toLowerCase();
  if (entity && (entityType === 'user' || entityType === 'recipients' || entityType === 'sender' || entity.includes('@'))) {
    draft.targetUser(entity, isGuid(entity) ? entity : null);
  }
  const data = maybeJson(record.Data);
  if (isObject(data)) {
    for (const key of ['f3u', 'suid', 'tsd', 'trc']) draft.relatedUser(emailOf(data[key]));
  }
}

export function mapPowerBi(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const operation = str(record.Operation) ?? '';
  const verb = verbOf(operation);
  draft.classify({ category: ['web'], type: [verb ?? 'info'], classUid: 6001, activityId: operation.startsWith('Export') ? 7 : crudActivity(verb) });
  if (typeof record.IsSuccess === 'boolean') draft.ev.event.outcome = record.IsSuccess ? 'success' : 'failure';
}
