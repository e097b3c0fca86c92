/**
 * Provisioning logs (`/auditLogs/provisioning`, provisioningObjectSummary): one event per object the Entra
 * provisioning service created, updated, disabled or deleted in a connected application (or skipped). The
 * identity in the target system is the event's target user; the provisioning application is m365.app.
 */
import type { SiemEvent } from '../../schemas/index.ts';
import type { MapContext } from '../event-draft.ts';
import { arr, isObject, str, type Json } from '../record-values.ts';
import { ENTRA_ACTIVITY_REPORT, graphDraft } from './graph-common.ts';

const TYPE_OF_ACTION: Readonly<Record<string, string>> = {
  create: 'creation',
  update: 'change',
  delete: 'deletion',
  disable: 'change',
  stagedDelete: 'deletion',
};
const ACTIVITY_OF_ACTION: Readonly<Record<string, number>> = { create: 1, update: 3, delete: 4, disable: 5, stagedDelete: 4 };

export function mapGraphProvisioning(record: Json, ctx: MapContext): SiemEvent {
  const action = str(record.provisioningAction) ?? str(record.action);
  const draft = graphDraft(record, ctx, {
    timeFields: ['activityDateTime'],
    dataset: 'azure.provisioning',
    action,
    provider: 'Azure AD Provisioning Service',
    code: 'provisioningObjectSummary',
  });
  const ev = draft.ev;
  draft.m365.activity_details = ENTRA_ACTIVITY_REPORT.provisioningLogs;
  draft.classify({
    kind: 'event',
    category: ['iam'],
    type: ['user', TYPE_OF_ACTION[action ?? ''] ?? 'info'],
    classUid: 3001,
    activityId: ACTIVITY_OF_ACTION[action ?? ''] ?? 99,
  });
  const status = isObject(record.provisioningStatusInfo) ? record.provisioningStatusInfo : {};
  const result = str(status.status);
  ev.event.outcome = result === 'success' ? 'success' : result === 'failure' ? 'failure' : 'unknown';
  if (result && result !== 'success') ev.event.reason = result;
  const error = isObject(status.errorInformation) ? status.errorInformation : null;
  if (error) ev.error = { code: str(error.errorCode), message: str(error.reason) };
  const source = isObject(record.sourceIdentity) ? record.sourceIdentity : {};
  const sourceDetails = isObject(source.details) ? source.details : {};
  const target = isObject(record.targetIdentity) ? record.targetIdentity : {};
  // The Entra user being provisioned, and its identity in the application.
  draft.actor(sourceDetails.UserPrincipalName ?? source.displayName, source.id, source.displayName);
  draft.targetUser(target.displayName, null, null);
  if (draft.ev.user?.target && str(target.id)) draft.ev.user.target.id = str(target.id);
  const sp = isObject(record.servicePrincipal) ? record.servicePrincipal : {};
  draft.m365.app = { id: str(sp.id), name: str(sp.displayName) };
  const targetSystem = isObject(record.targetSystem) ? record.targetSystem : {};
  draft.m365.resource = { id: str(targetSystem.id), name: str(targetSystem.displayName) };
  draft.m365.correlation_id = str(record.changeId);
  draft.m365.result_status = result;
  const failedStep = arr(record.provisioningSteps).find((s) => isObject(s) && str(s.status) === 'failure');
  ev.message =
    `${action ?? 'provisioning'} ${str(target.displayName) ?? str(source.displayName) ?? ''} in ${str(targetSystem.displayName) ?? 'target system'}: ${result ?? 'unknown'}${isObject(failedStep) && str(failedStep.description) ? ` (${str(failedStep.description)})` : ''}`.trim();
  return draft.finish();
}
