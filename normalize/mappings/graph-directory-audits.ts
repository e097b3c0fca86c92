/**
 * Graph directory audits (`/auditLogs/directoryAudits`): actor from initiatedBy (user or app), targets from
 * targetResources, classification from category + activityDisplayName (same table as the Management API's
 * directory events, which use the same activity names with a trailing dot).
 */
import type { MapContext } from '../event-draft.ts';
import { outcomeFromResult, verbOf } from '../event-draft.ts';
import type { SiemEvent } from '../../schemas/index.ts';
import { arr, isObject, nameValues, lookup, str, type Json } from '../record-values.ts';
import type { SiemEventTargetResource } from '../../schemas/index.ts';
import { modifiedPropertiesText } from './management-common.ts';
import { classifyDirectoryOperation } from './management-entra.ts';
import { ENTRA_ACTIVITY_REPORT, graphDraft } from './graph-common.ts';

export function mapGraphDirectoryAudit(record: Json, ctx: MapContext): SiemEvent {
  const activity = str(record.activityDisplayName);
  const category = str(record.category);
  const draft = graphDraft(record, ctx, {
    timeFields: ['activityDateTime'],
    dataset: 'azure.auditlogs',
    action: activity,
    provider: str(record.loggedByService),
    code: category ?? 'directoryAudit',
  });
  const ev = draft.ev;
  const m = draft.m365;
  let c = classifyDirectoryOperation(activity);
  if (c.classUid === 3004 && (category === 'UserManagement' || category === 'GroupManagement')) {
    const verb = verbOf(str(record.operationType) ?? activity ?? '');
    const type = verb === 'access' || verb === null ? 'info' : verb;
    c =
      category === 'UserManagement'
        ? {
            category: ['iam'],
            type: ['user', type],
            classUid: 3007,
            activityId: verb === 'creation' ? 1 : verb === 'deletion' ? 3 : verb === 'change' ? 2 : 99,
          }
        : { category: ['iam'], type: ['group', type], classUid: 3006, activityId: 99 };
  }
  draft.classify(c);
  const result = str(record.result);
  ev.event.outcome = result === null ? 'unknown' : outcomeFromResult(result);
  const reason = str(record.resultReason);
  if (reason) ev.event.reason = reason;
  m.correlation_id = str(record.correlationId);
  draft.m365.activity_details = ENTRA_ACTIVITY_REPORT.auditLogs;

  const initiatedBy = isObject(record.initiatedBy) ? record.initiatedBy : {};
  const user = isObject(initiatedBy.user) ? initiatedBy.user : null;
  const app = isObject(initiatedBy.app) ? initiatedBy.app : null;
  if (user) {
    draft.actor(user.userPrincipalName, user.id, user.displayName);
    draft.sourceFrom(user.ipAddress);
    m.user_type = str(user.userType);
  }
  if (app) {
    m.app = { id: str(app.appId), name: str(app.displayName) };
  }
  const targets = arr(record.targetResources).filter(isObject) as Json[];
  m.target_resources = targetResources(targets);
  const userTarget = targets.find((t) => str(t.type)?.toLowerCase() === 'user');
  if (userTarget) draft.targetUser(userTarget.userPrincipalName, userTarget.id, userTarget.displayName);
  const groupTarget = targets.find((t) => str(t.type)?.toLowerCase() === 'group');
  if (groupTarget) ev.group = { id: str(groupTarget.id), name: str(groupTarget.displayName) };
  const modified = targets.map((t) => modifiedPropertiesText(t.modifiedProperties)).filter((t): t is string => t !== null);
  if (modified.length > 0) m.modified_properties_text = modified.join('; ');
  const details = nameValues(record.additionalDetails);
  const agent = lookup(details, 'User-Agent');
  if (agent) ev.user_agent = { original: agent };
  if (details.length > 0) m.parameters_text = details.map(([k, v]) => `${k}=${v}`).join('; ');
  return draft.finish();
}

/** Every targetResources entry (type, id, name, UPN): rules ask for any target of a type, not only the first. */
function targetResources(targets: readonly Json[]): SiemEventTargetResource[] | null {
  const out = targets.map((t) => ({
    type: str(t.type),
    id: str(t.id),
    name: str(t.displayName),
    user_principal_name: str(t.userPrincipalName),
  }));
  return out.length > 0 ? out : null;
}
