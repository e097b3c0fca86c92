/** Source names, the same in the simulator, the pollers, envelopes and status (ARCHITECTURE.md). */
export const MANAGEMENT_SOURCES = [
  'management:Audit.AzureActiveDirectory',
  'management:Audit.Exchange',
  'management:Audit.SharePoint',
  'management:Audit.General',
  'management:DLP.All',
] as const;

export const GRAPH_SOURCES = [
  'graph:signIns',
  'graph:nonInteractiveSignIns',
  'graph:servicePrincipalSignIns',
  'graph:managedIdentitySignIns',
  'graph:directoryAudits',
  'graph:riskyUsers',
  'graph:riskDetections',
  'graph:userRegistrationDetails',
  'graph:servicePrincipalRiskDetections',
  'graph:provisioning',
  'graph:securityAlerts',
  'graph:securityIncidents',
] as const;

export const SOURCES = [...MANAGEMENT_SOURCES, ...GRAPH_SOURCES] as const;

export type ManagementSource = (typeof MANAGEMENT_SOURCES)[number];
export type GraphSource = (typeof GRAPH_SOURCES)[number];
export type SourceName = (typeof SOURCES)[number];

export function isSourceName(value: string): value is SourceName {
  return (SOURCES as readonly string[]).includes(value);
}

/** `management:Audit.Exchange` → `Audit.Exchange`, the Management Activity API content type. */
export function managementContentType(source: ManagementSource): string {
  return source.slice('management:'.length);
}

/**
 * Entra sign-in logs come in four types (`signInEventTypes` of the beta signIn resource). Each type is its own
 * source — its own cursor, ledger, status and licence gap (docs/decisions/0130). `graph:signIns` keeps its name: it
 * was, and stays, the interactive user sign-ins v1.0 serves, so connected organizations keep their cursors.
 */
export const SIGN_IN_EVENT_TYPES = ['interactiveUser', 'nonInteractiveUser', 'servicePrincipal', 'managedIdentity'] as const;
export type SignInEventType = (typeof SIGN_IN_EVENT_TYPES)[number];

export const SIGN_IN_SOURCES = {
  'graph:signIns': 'interactiveUser',
  'graph:nonInteractiveSignIns': 'nonInteractiveUser',
  'graph:servicePrincipalSignIns': 'servicePrincipal',
  'graph:managedIdentitySignIns': 'managedIdentity',
} as const satisfies Partial<Record<GraphSource, SignInEventType>>;
export type SignInSource = keyof typeof SIGN_IN_SOURCES;

export function isSignInSource(source: string): source is SignInSource {
  return Object.hasOwn(SIGN_IN_SOURCES, source);
}
