/**
 * Identity Protection: risk detections (`/identityProtection/riskDetections`, an alert per detection, event.id = the
 * detection id) and risky users (`/identityProtection/riskyUsers`, a state snapshot per user; event.id is derived
 * from the user id and riskLastUpdatedDateTime so each risk change is its own event and a re-served snapshot is not).
 */
import type { MapContext } from '../event-draft.ts';
import type { SiemEvent } from '../../schemas/index.ts';
import { bool, maybeJson, nameValues, lookup, str, type Json } from '../record-values.ts';
import { derivedEventId, geoOf, graphDraft, riskSeverity } from './graph-common.ts';
import { MappingError } from './management-common.ts';

export function mapGraphRiskDetection(record: Json, ctx: MapContext): SiemEvent {
  const eventType = str(record.riskEventType);
  const draft = graphDraft(record, ctx, {
    timeFields: ['detectedDateTime', 'activityDateTime', 'lastUpdatedDateTime'],
    dataset: 'azure.identity_protection',
    action: eventType,
    provider: 'IdentityProtection',
    code: 'riskDetection',
  });
  const ev = draft.ev;
  const m = draft.m365;
  draft.classify({ kind: 'alert', category: ['intrusion_detection', 'authentication'], type: ['info'], classUid: 2004, activityId: 1 });
  draft.actor(record.userPrincipalName, record.userId, record.userDisplayName);
  draft.sourceFrom(record.ipAddress);
  const geo = geoOf(record.location);
  if (geo) ev.source = { ...(ev.source ?? {}), geo };
  const severity = riskSeverity(record.riskLevel);
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
  const severity = riskSeverity(record.riskLevel);
  if (severity !== null) ev.event.severity = severity;
  if (bool(record.isDeleted)) ev.event.reason = 'user deleted';
  draft.m365.risk = { level: str(record.riskLevel), state, detail: str(record.riskDetail) };
  return draft.finish();
}
