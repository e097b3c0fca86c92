/**
 * Graph sign-ins (`/auditLogs/signIns`, all four types) → OCSF Authentication 3002 / Logon. Outcome from
 * status.errorCode: 0 or absent = success, anything else = failure (interrupts such as 50074 too; error.code keeps the
 * number so rules can tell them apart). `m365.auth.sign_in_type` says which type: the record's own signInEventTypes
 * (beta) or, where the record has none (v1.0 serves interactive sign-ins only), the type of the source that fetched
 * it. Workload sign-ins (service principal, managed identity) have no user: the identity goes to
 * `m365.service_principal` and `m365.app`, `user.*` stays empty.
 */
import { SIGN_IN_SOURCES, isSignInSource, type SignInEventType } from '../../runtime/index.ts';
import type { MapContext } from '../event-draft.ts';
import type { SiemEvent } from '../../schemas/index.ts';
import { arr, bool, isObject, str, type Json } from '../record-values.ts';
import { ENTRA_ACTIVITY_REPORT, geoOf, graphDraft } from './graph-common.ts';

export function mapGraphSignIn(record: Json, ctx: MapContext): SiemEvent {
  const draft = graphDraft(record, ctx, {
    timeFields: ['createdDateTime'],
    dataset: 'azure.signinlogs',
    action: 'Sign-in activity',
    provider: 'AzureActiveDirectory',
    code: 'signIn',
  });
  const ev = draft.ev;
  const m = draft.m365;
  draft.classify({ category: ['authentication'], type: ['start'], classUid: 3002, activityId: 1 });
  const status = isObject(record.status) ? record.status : null;
  const rawCode = status ? status.errorCode : undefined;
  const code = rawCode === null || rawCode === undefined || rawCode === '' ? null : String(rawCode);
  const failed = code !== null && code !== '0';
  // No status at all: we cannot tell, so unknown (never a silent success).
  ev.event.outcome = status === null ? 'unknown' : failed ? 'failure' : 'success';
  const details = status ? str(status.additionalDetails) : null;
  // error.code is kept on success too ("0"): Sigma rules ask for ResultType 0, and "0 = success" is Microsoft's own encoding.
  if (code !== null) ev.error = { code, message: null };
  if (failed && status) {
    const reason = str(status.failureReason);
    const text = reason && details ? `${reason} (${details})` : (reason ?? details);
    ev.error = { code, message: reason };
    ev.event.reason = text;
    ev.message = text;
  }
  m.status_additional_details = details;
  draft.m365.activity_details = ENTRA_ACTIVITY_REPORT.signIns;
  m.home_tenant_id = str(record.homeTenantId);
  m.resource_tenant_id = str(record.resourceTenantId);
  m.network_location_types = networkLocationTypes(record.networkLocationDetails);
  draft.actor(record.userPrincipalName, record.userId, record.userDisplayName);
  draft.sourceFrom(record.ipAddress);
  const geo = geoOf(record.location);
  if (geo) draft.sourceGeo(geo);
  const agent = str(record.userAgent);
  if (agent) ev.user_agent = { original: agent };
  m.app = { id: str(record.appId), name: str(record.appDisplayName) };
  m.resource = { id: str(record.resourceId), name: str(record.resourceDisplayName) };
  m.client_app = str(record.clientAppUsed);
  m.conditional_access_status = str(record.conditionalAccessStatus);
  m.correlation_id = str(record.correlationId);
  m.session_id = str(record.sessionId);
  m.user_type = str(record.userType);
  const signInType = signInTypeOf(record, ctx);
  m.auth = {
    requirement: str(record.authenticationRequirement),
    protocol: str(record.authenticationProtocol),
    is_interactive: bool(record.isInteractive),
    sign_in_type: signInType,
    client_credential_type: str(record.clientCredentialType),
    incoming_token_type: str(record.incomingTokenType),
  };
  if (signInType === 'servicePrincipal' || signInType === 'managedIdentity') {
    const msi = isObject(record.managedServiceIdentity) ? record.managedServiceIdentity : null;
    const msiType = str(msi?.msiType);
    m.service_principal = {
      id: str(record.servicePrincipalId),
      name: str(record.servicePrincipalName),
      credential_key_id: str(record.servicePrincipalCredentialKeyId),
      managed_identity_type: msiType === 'none' ? null : msiType,
      managed_identity_resource_id: str(msi?.associatedResourceId),
    };
  }
  const device = isObject(record.deviceDetail) ? record.deviceDetail : null;
  if (device) {
    m.device = {
      id: str(device.deviceId),
      name: str(device.displayName),
      os: str(device.operatingSystem),
      browser: str(device.browser),
      is_compliant: bool(device.isCompliant),
      is_managed: bool(device.isManaged),
      trust_type: str(device.trustType),
    };
  }
  const eventTypes = [...arr(record.riskEventTypes_v2), ...arr(record.riskEventTypes)].filter((t): t is string => typeof t === 'string');
  m.risk = {
    level: str(record.riskLevelAggregated),
    level_during_sign_in: str(record.riskLevelDuringSignIn),
    state: str(record.riskState),
    detail: str(record.riskDetail),
    event_types: eventTypes.length > 0 ? [...new Set(eventTypes)] : null,
  };
  return draft.finish();
}

/** The record's first signInEventTypes value, else the type of the source that fetched it (v1.0: interactive). */
function signInTypeOf(record: Json, ctx: MapContext): SignInEventType | string | null {
  const declared = arr(record.signInEventTypes).find((t): t is string => typeof t === 'string' && t !== '');
  if (declared) return declared;
  const source = ctx.envelope.source;
  return isSignInSource(source) ? SIGN_IN_SOURCES[source] : null;
}

/** networkLocationDetails[].networkType, every entry (namedNetwork, trustedNamedLocation, …); null when none. */
function networkLocationTypes(details: unknown): string[] | null {
  const types = arr(details)
    .filter(isObject)
    .map((d) => str((d as Json).networkType))
    .filter((t): t is string => t !== null);
  return types.length > 0 ? [...new Set(types)] : null;
}
