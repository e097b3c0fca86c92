/**
 * Identity Protection: risk detections (`/identityProtection/riskDetections`, an alert per detection and one more per
 * later change of it — dismissed, remediated, confirmed compromised; docs/decisions/0141), service-principal risk
 * detections (the same for workload identities) and risky users (`/identityProtection/riskyUsers`, a state snapshot per user; event.id is derived
 * from the user id and riskLastUpdatedDateTime so each risk change is its own event and a re-served snapshot is not).
 */
import { severityNumber, type EventDraft, type MapContext } from '../event-draft.ts';
import type { SiemEvent, SiemEventM365 } from '../../schemas/index.ts';
import { arr, bool, maybeJson, nameValues, lookup, str, type Json } from '../record-values.ts';
import { derivedEventId, geoOf, graphDraft } from './graph-common.ts';
import { MappingError } from './management-common.ts';

/**
 * The event id of one version of a detection, derived from the detection id, its last-update time and state: a
 * change (dismissed, remediated, confirmed compromised) is a new event, a re-served version the same one. `changed`
 * is true once the detection left its detected state (atRisk): the event is then dated when it changed.
 */
export function riskDetectionEventId(source: string, record: Json): { id: string; changed: boolean } {
  const id = str(record.id);
  if (id === null) throw new MappingError('risk detection has no id');
  const state = str(record.riskState);
  const changed = state !== null && state !== 'atRisk' && str(record.lastUpdatedDateTime) !== null;
  return {
    id: derivedEventId(source, id, str(record.lastUpdatedDateTime) ?? str(record.detectedDateTime) ?? '', state ?? '', str(record.riskDetail) ?? ''),
    changed,
  };
}

/** The detection's own id and state under m365.alert, the same for every change: its newest event is its state. */
function riskAlertState(record: Json, entity: string): SiemEventM365['alert'] {
  return {
    id: str(record.id),
    status: str(record.riskState),
    entity_type: entity,
    severity: str(record.riskLevel),
    updated: str(record.lastUpdatedDateTime) ?? str(record.detectedDateTime),
  };
}

/** The draft of one version of a (user or service-principal) risk detection, with its id, time and m365.alert. */
function riskDetectionDraft(record: Json, ctx: MapContext, source: string, code: string): { draft: EventDraft; eventType: string | null; changed: boolean } {
  const eventType = str(record.riskEventType);
  const version = riskDetectionEventId(source, record);
  const draft = graphDraft(record, ctx, {
    // A change is dated when it happened; the detection as first seen, when it was detected.
    timeFields: version.changed ? ['lastUpdatedDateTime'] : ['detectedDateTime', 'activityDateTime', 'lastUpdatedDateTime'],
    dataset: 'azure.identity_protection',
    action: version.changed ? str(record.riskState) : eventType,
    provider: 'IdentityProtection',
    code,
    id: version.id,
  });
  draft.m365.alert = riskAlertState(record, code);
  return { draft, eventType, changed: version.changed };
}

export function mapGraphRiskDetection(record: Json, ctx: MapContext): SiemEvent {
  const { draft, eventType } = riskDetectionDraft(record, ctx, 'graph:riskDetections', 'riskDetection');
  const ev = draft.ev;
  const m = draft.m365;
  draft.classify({ kind: 'alert', category: ['intrusion_detection', 'authentication'], type: ['info'], classUid: 2004, activityId: 1 });
  draft.actor(record.userPrincipalName, record.userId, record.userDisplayName);
  draft.sourceFrom(record.ipAddress);
  const geo = geoOf(record.location);
  if (geo) draft.sourceGeo(geo);
  const severity = severityNumber(record.riskLevel);
  if (severity !== null) ev.event.severity = severity;
  ev.message = eventType;
  m.correlation_id = str(record.correlationId);
  m.risk = {
    level: str(record.riskLevel),
    state: str(record.riskState),
    detail: str(record.riskDetail),
    event_types: eventType ? [eventType] : null,
    detection_timing: str(record.detectionTimingType),
    source: str(record.source),
  };
  // additionalInfo is a JSON *string* of [{Key, Value}].
  const info = nameValues(maybeJson(record.additionalInfo));
  const agent = lookup(info, 'userAgent');
  if (agent) ev.user_agent = { original: agent };
  return draft.finish();
}

/** `/identityProtection/servicePrincipalRiskDetections`: risk of a workload identity; the actor is the application. */
export function mapGraphServicePrincipalRiskDetection(record: Json, ctx: MapContext): SiemEvent {
  const { draft, eventType, changed } = riskDetectionDraft(record, ctx, 'graph:servicePrincipalRiskDetections', 'servicePrincipalRiskDetection');
  const ev = draft.ev;
  draft.classify({ kind: 'alert', category: ['intrusion_detection', 'iam'], type: ['info'], classUid: 2004, activityId: changed ? 2 : 1 });
  draft.m365.app = { id: str(record.appId), name: str(record.servicePrincipalDisplayName) };
  // The same field workload sign-ins fill: a workload identity's risk joins its sign-ins on m365.service_principal.id.
  const keyIds = arr(record.keyIds)
    .map(str)
    .filter((k): k is string => k !== null);
  draft.m365.service_principal = { id: str(record.servicePrincipalId), name: str(record.servicePrincipalDisplayName), credential_key_id: keyIds[0] ?? null };
  draft.sourceFrom(record.ipAddress);
  const geo = geoOf(record.location);
  if (geo) draft.sourceGeo(geo);
  const severity = severityNumber(record.riskLevel);
  if (severity !== null) ev.event.severity = severity;
  ev.message = eventType;
  draft.m365.risk = {
    level: str(record.riskLevel),
    state: str(record.riskState),
    detail: str(record.riskDetail),
    event_types: eventType ? [eventType] : null,
    detection_timing: str(record.detectionTimingType),
    source: str(record.source),
  };
  return draft.finish();
}

export function mapGraphRiskyUser(record: Json, ctx: MapContext): SiemEvent {
  const userId = str(record.id);
  if (userId === null) throw new MappingError('risky user record has no id');
  const updated = str(record.riskLastUpdatedDateTime) ?? '';
  const state = str(record.riskState);
  const draft = graphDraft(record, ctx, {
    timeFields: ['riskLastUpdatedDateTime'],
    dataset: 'azure.identity_protection',
    action: state,
    provider: 'IdentityProtection',
    code: 'riskyUser',
    id: derivedEventId('graph:riskyUsers', userId, updated, state ?? '', str(record.riskLevel) ?? ''),
  });
  const ev = draft.ev;
  const closed = state === 'remediated' || state === 'dismissed' || state === 'none';
  draft.classify({ kind: 'state', category: ['iam'], type: ['user', 'info'], classUid: 2004, activityId: closed ? 3 : 2 });
  draft.actor(record.userPrincipalName, userId, record.userDisplayName);
  const severity = severityNumber(record.riskLevel);
  if (severity !== null) ev.event.severity = severity;
  if (bool(record.isDeleted)) ev.event.reason = 'user deleted';
  draft.m365.risk = { level: str(record.riskLevel), state, detail: str(record.riskDetail) };
  return draft.finish();
}
