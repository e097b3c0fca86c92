import { Rng, uuidFor } from '../deterministic.ts';
import type { RecordUpdate } from '../feeds.ts';
import type { SimUser } from './directory-people.ts';
import { APPS, LOCATIONS, graphTime, ipv4, ipv6 } from './directory-people.ts';
import {
  RISK_DETAIL_OF_STATE,
  incidentIdOf,
  RISK_STATE_PROGRESSION,
  provisioningObject,
  securityAlert,
  securityIncident,
  servicePrincipalRiskDetection,
  stateAfter,
} from './graph-updatable-records.ts';

/** Graph records (camelCase resources) for the Graph sources; pure functions of their inputs. */

export type GraphSourceKey =
  | 'signIns'
  | 'nonInteractiveSignIns'
  | 'servicePrincipalSignIns'
  | 'managedIdentitySignIns'
  | 'directoryAudits'
  | 'riskyUsers'
  | 'riskDetections'
  | 'userRegistrationDetails'
  | 'servicePrincipalRiskDetections'
  | 'provisioning'
  | 'securityAlerts'
  | 'securityIncidents';

/** Sources whose records Microsoft changes in place later; each change moves their last-update field. */
export const UPDATABLE_SOURCES: ReadonlySet<GraphSourceKey> = new Set([
  'riskDetections',
  'servicePrincipalRiskDetections',
  'securityAlerts',
  'securityIncidents',
]);

/** The last-update property of each updatable source (filterable, and what each change moves). */
export const GRAPH_UPDATED_FIELD: Partial<Record<GraphSourceKey, string>> = {
  riskDetections: 'lastUpdatedDateTime',
  servicePrincipalRiskDetections: 'lastUpdatedDateTime',
  securityAlerts: 'lastUpdateDateTime',
  securityIncidents: 'lastUpdateDateTime',
};

export interface GraphRecordContext {
  seed: string;
  tenantId: string;
  domain: string;
  users: readonly SimUser[];
  entraP1: boolean;
  entraP2: boolean;
}

type GraphRecord = Record<string, unknown>;

/** Reports Entra keeps only for its retention period (Free 7 days, P1/P2 30): older records are not served. */
export const RETAINED_SOURCES: ReadonlySet<GraphSourceKey> = new Set([
  'signIns',
  'nonInteractiveSignIns',
  'servicePrincipalSignIns',
  'managedIdentitySignIns',
  'directoryAudits',
]);

/** Entity-snapshot sources: a record updates the state of one user; the id is the user's id. */
export const ENTITY_SOURCES: ReadonlySet<GraphSourceKey> = new Set(['riskyUsers', 'userRegistrationDetails']);

export function userOfRecord(ctx: GraphRecordContext, source: GraphSourceKey, index: number): SimUser {
  if (ENTITY_SOURCES.has(source)) {
    const user = ctx.users[index % ctx.users.length];
    if (!user) throw new Error('tenant has no users');
    return user;
  }
  const rng = new Rng(`${ctx.seed}|${ctx.tenantId}|${source}|user|${index}`);
  const user = ctx.users[rng.int(ctx.users.length)];
  if (!user) throw new Error('tenant has no users');
  return user;
}

export function graphRecordId(ctx: GraphRecordContext, source: GraphSourceKey, index: number): string {
  if (ENTITY_SOURCES.has(source)) return userOfRecord(ctx, source, index).id;
  if (source === 'securityAlerts') {
    // Defender alert ids look like `da637551227677560813_-961444813` (provider prefix, ticks, hash).
    const rng = new Rng(`${ctx.seed}|${ctx.tenantId}|${source}|id|${index}`);
    return `da${String(638_000_000_000_000_000 + index * 1_000_003).padStart(18, '0')}_-${rng.int(2_000_000_000)}`;
  }
  if (source === 'securityIncidents') return incidentIdOf(index * 3);
  if (source === 'servicePrincipalRiskDetections') return new Rng(`${ctx.seed}|${ctx.tenantId}|${source}|id|${index}`).hex(52);
  if (source === 'directoryAudits') {
    const rng = new Rng(`${ctx.seed}|${ctx.tenantId}|${source}|idpfx|${index}`);
    return `Directory_${rng.uuid().toUpperCase().replace(/-/g, '').slice(0, 5)}_${uuidFor(`${ctx.seed}|${ctx.tenantId}|${source}|${index}`)}`.slice(0, 60);
  }
  return uuidFor(`${ctx.seed}|${ctx.tenantId}|${source}|${index}`);
}

const SIGNIN_FAILURES = [
  { errorCode: 50126, failureReason: 'Error validating credentials due to invalid username or password.' },
  { errorCode: 50074, failureReason: 'Strong Authentication is required.' },
  { errorCode: 53003, failureReason: 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.' },
];

const RISK_EVENT_TYPES = ['unfamiliarFeatures', 'anonymizedIPAddress', 'unlikelyTravel', 'maliciousIPAddress', 'passwordSpray'];

function location(rng: Rng): Record<string, unknown> {
  const l = rng.pick(LOCATIONS);
  return { city: l.city, state: l.state, countryOrRegion: l.countryOrRegion, geoCoordinates: { altitude: null, latitude: l.latitude, longitude: l.longitude } };
}

function signIn(ctx: GraphRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): GraphRecord {
  const app = rng.pick(APPS);
  const failed = rng.chance(0.25);
  const failure = rng.pick(SIGNIN_FAILURES);
  const risky = rng.chance(0.15);
  const p2 = ctx.entraP2;
  const riskLevel = risky ? rng.pick(['low', 'medium', 'high']) : 'none';
  const caApplied = rng.chance(0.6);
  return {
    id: graphRecordId(ctx, 'signIns', index),
    createdDateTime: graphTime(eventMs),
    userDisplayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
    userId: user.id,
    appId: app.appId,
    appDisplayName: app.name,
    ipAddress: rng.chance(0.2) ? ipv6(rng) : ipv4(rng),
    clientAppUsed: rng.pick(['Browser', 'Mobile Apps and Desktop clients', 'Exchange ActiveSync', 'IMAP4']),
    correlationId: rng.uuid(),
    conditionalAccessStatus: caApplied ? (failed && failure.errorCode === 53003 ? 'failure' : 'success') : 'notApplied',
    isInteractive: true,
    riskDetail: p2 ? (risky ? 'none' : 'none') : 'hidden',
    riskLevelAggregated: p2 ? riskLevel : 'hidden',
    riskLevelDuringSignIn: p2 ? riskLevel : 'hidden',
    riskState: p2 ? (risky ? 'atRisk' : 'none') : 'hidden',
    riskEventTypes: p2 && risky ? [rng.pick(RISK_EVENT_TYPES)] : [],
    riskEventTypes_v2: p2 && risky ? [rng.pick(RISK_EVENT_TYPES)] : [],
    resourceDisplayName: rng.pick(['Microsoft Graph', 'Office 365 Exchange Online', 'Windows Azure Service Management API']),
    resourceId: rng.pick(['00000003-0000-0000-c000-000000000000', '00000002-0000-0ff1-ce00-000000000000']),
    status: failed
      ? { errorCode: failure.errorCode, failureReason: failure.failureReason, additionalDetails: "The user didn't enter the right credentials." }
      : { errorCode: 0, failureReason: 'Other.', additionalDetails: null },
    deviceDetail: {
      deviceId: rng.chance(0.5) ? rng.uuid() : '',
      displayName: rng.chance(0.5) ? `DESKTOP-${rng.hex(7).toUpperCase()}` : null,
      operatingSystem: rng.pick(['Windows 10', 'MacOs', 'Ios', 'Android']),
      browser: rng.pick(['Edge 120.0.0', 'Chrome 120.0.0', 'Mobile Safari']),
      isCompliant: rng.chance(0.5),
      isManaged: rng.chance(0.5),
      trustType: rng.pick(['Azure AD joined', 'Hybrid Azure AD joined', '']),
    },
    location: location(rng),
    appliedConditionalAccessPolicies: caApplied
      ? [
          {
            id: uuidFor(`${ctx.seed}|${ctx.tenantId}|ca|mfa`),
            displayName: 'Require MFA for admins',
            enforcedGrantControls: ['Mfa'],
            enforcedSessionControls: [],
            result: rng.pick(['success', 'notApplied', 'failure']),
          },
        ]
      : [],
  };
}

/**
 * Properties the beta signIn resource has and v1.0 does not ("List signIns", beta: signInEventTypes,
 * servicePrincipalId, authenticationRequirement, incomingTokenType, …). An interactive sign-in read on beta carries
 * them too.
 */
export function betaSignInProperties(record: GraphRecord, type: 'interactiveUser' | 'nonInteractiveUser'): GraphRecord {
  return {
    ...record,
    signInEventTypes: [type],
    isInteractive: type === 'interactiveUser',
    servicePrincipalId: '',
    servicePrincipalName: null,
    userType: 'member',
    authenticationRequirement: type === 'interactiveUser' ? 'multiFactorAuthentication' : 'singleFactorAuthentication',
    incomingTokenType: type === 'interactiveUser' ? 'none' : 'primaryRefreshToken',
    tokenIssuerType: 'AzureAD',
    managedServiceIdentity: { msiType: 'none', associatedResourceId: null, federatedTokenId: null, federatedTokenIssuer: null },
  };
}

/** Non-interactive user sign-ins: a client redeeming a refresh token on the user's behalf, no prompt. */
function nonInteractiveSignIn(ctx: GraphRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): GraphRecord {
  const base = signIn(ctx, index, eventMs, rng, user);
  const expired = rng.chance(0.1);
  return {
    ...betaSignInProperties(base, 'nonInteractiveUser'),
    id: graphRecordId(ctx, 'nonInteractiveSignIns', index),
    clientAppUsed: 'Mobile Apps and Desktop clients',
    status: expired
      ? {
          errorCode: 70044,
          failureReason: 'The session has expired or is invalid due to sign-in frequency checks by conditional access.',
          additionalDetails: null,
        }
      : { errorCode: 0, failureReason: 'Other.', additionalDetails: null },
  };
}

const WORKLOAD_IDENTITIES = [
  { name: 'payroll-sync', appId: '8f5c2a1e-6b3d-4e7a-9c10-2d4b6f8a0c11' },
  { name: 'backup-agent', appId: '2b7e9d40-1c3f-4a56-8e21-7f9a0b3c5d12' },
  { name: 'ci-deployer', appId: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e13' },
] as const;

function workloadSignIn(
  ctx: GraphRecordContext,
  key: 'servicePrincipalSignIns' | 'managedIdentitySignIns',
  index: number,
  eventMs: number,
  rng: Rng,
): GraphRecord {
  const identity = rng.pick(WORKLOAD_IDENTITIES);
  const managed = key === 'managedIdentitySignIns';
  const spId = uuidFor(`${ctx.seed}|${ctx.tenantId}|sp|${identity.name}|${managed}`);
  const failed = !managed && rng.chance(0.1);
  const resource = rng.pick([
    { id: '00000003-0000-0000-c000-000000000000', name: 'Microsoft Graph' },
    { id: 'cfa8b339-82a2-471a-a3c9-0fc0be7a4093', name: 'Azure Key Vault' },
    { id: '797f4846-ba00-4fd7-ba43-dac1f8f63013', name: 'Windows Azure Service Management API' },
  ]);
  const msiType = managed ? rng.pick(['systemAssigned', 'userAssigned']) : 'none';
  return {
    id: graphRecordId(ctx, key, index),
    createdDateTime: graphTime(eventMs),
    // Workload identities are no user: the user properties are empty.
    userDisplayName: null,
    userPrincipalName: null,
    userId: '',
    appId: managed ? spId : identity.appId,
    appDisplayName: managed ? `mi-${identity.name}` : identity.name,
    ipAddress: managed ? '' : ipv4(rng),
    correlationId: rng.uuid(),
    conditionalAccessStatus: 'notApplied',
    isInteractive: false,
    signInEventTypes: [managed ? 'managedIdentity' : 'servicePrincipal'],
    servicePrincipalId: spId,
    servicePrincipalName: managed ? `mi-${identity.name}` : identity.name,
    servicePrincipalCredentialKeyId: managed ? null : rng.uuid(),
    servicePrincipalCredentialThumbprint: managed ? null : rng.hex(40).toUpperCase(),
    clientCredentialType: managed ? 'managedIdentity' : rng.pick(['clientSecret', 'certificate', 'clientAssertion']),
    resourceDisplayName: resource.name,
    resourceId: resource.id,
    resourceServicePrincipalId: uuidFor(`${ctx.seed}|${ctx.tenantId}|resource-sp|${resource.id}`),
    resourceTenantId: ctx.tenantId,
    homeTenantId: ctx.tenantId,
    managedServiceIdentity: managed
      ? {
          msiType,
          associatedResourceId: `/subscriptions/${uuidFor(`${ctx.seed}|${ctx.tenantId}|sub`)}/resourceGroups/rg-${identity.name}/providers/Microsoft.Web/sites/${identity.name}`,
          federatedTokenId: null,
          federatedTokenIssuer: null,
        }
      : { msiType: 'none', associatedResourceId: null, federatedTokenId: null, federatedTokenIssuer: null },
    status: failed
      ? {
          errorCode: 7000215,
          failureReason: 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
          additionalDetails: null,
        }
      : { errorCode: 0, failureReason: null, additionalDetails: null },
    location: managed ? { city: null, state: null, countryOrRegion: null, geoCoordinates: {} } : location(rng),
    appliedConditionalAccessPolicies: [],
    riskDetail: 'none',
    riskLevelAggregated: 'none',
    riskLevelDuringSignIn: 'none',
    riskState: 'none',
    riskEventTypes_v2: [],
  };
}

const AUDIT_ACTIVITIES = [
  { name: 'Add user', category: 'UserManagement', type: 'Add', service: 'Core Directory' },
  { name: 'Update user', category: 'UserManagement', type: 'Update', service: 'Core Directory' },
  { name: 'Add member to role', category: 'RoleManagement', type: 'Assign', service: 'Core Directory' },
  { name: 'Consent to application', category: 'ApplicationManagement', type: 'Assign', service: 'Core Directory' },
  { name: 'Reset password (self-service)', category: 'UserManagement', type: 'Update', service: 'Self-service Password Management' },
  { name: 'User registered security info', category: 'UserManagement', type: 'Add', service: 'Authentication Methods' },
];

function directoryAudit(ctx: GraphRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): GraphRecord {
  const activity = rng.pick(AUDIT_ACTIVITIES);
  const admin = ctx.users[0] ?? user;
  const byApp = rng.chance(0.2);
  return {
    id: graphRecordId(ctx, 'directoryAudits', index),
    category: activity.category,
    correlationId: rng.uuid(),
    result: rng.chance(0.95) ? 'success' : 'failure',
    resultReason: '',
    activityDisplayName: activity.name,
    activityDateTime: graphTime(eventMs),
    loggedByService: activity.service,
    operationType: activity.type,
    initiatedBy: byApp
      ? { user: null, app: { appId: APPS[0].appId, displayName: 'Microsoft Substrate Management', servicePrincipalId: rng.uuid(), servicePrincipalName: null } }
      : {
          user: {
            id: admin.id,
            displayName: null,
            userPrincipalName: admin.userPrincipalName,
            ipAddress: ipv4(rng),
            userType: null,
            homeTenantId: null,
            homeTenantName: null,
          },
          app: null,
        },
    targetResources: [
      {
        id: user.id,
        displayName: null,
        type: 'User',
        userPrincipalName: user.userPrincipalName,
        groupType: null,
        modifiedProperties:
          activity.category === 'RoleManagement'
            ? [
                { displayName: 'Role.DisplayName', oldValue: null, newValue: '"Global Administrator"' },
                { displayName: 'Role.TemplateId', oldValue: null, newValue: '"62e90394-69f5-4237-9190-012177145e10"' },
              ]
            : [{ displayName: 'AccountEnabled', oldValue: '[]', newValue: '[true]' }],
      },
    ],
    additionalDetails: [
      { key: 'UserType', value: 'Member' },
      { key: 'User-Agent', value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' },
    ],
  };
}

function riskyUser(ctx: GraphRecordContext, _index: number, eventMs: number, rng: Rng, user: SimUser): GraphRecord {
  const p2 = ctx.entraP2;
  const state = rng.pick(['atRisk', 'atRisk', 'confirmedCompromised', 'remediated', 'dismissed']);
  return {
    id: user.id,
    isDeleted: false,
    isProcessing: false,
    riskLastUpdatedDateTime: graphTime(eventMs),
    riskLevel: p2 ? (state === 'remediated' || state === 'dismissed' ? 'none' : rng.pick(['low', 'medium', 'high'])) : 'hidden',
    riskState: state,
    riskDetail: p2
      ? state === 'remediated'
        ? 'userPerformedSecuredPasswordReset'
        : state === 'dismissed'
          ? 'adminDismissedAllRiskForUser'
          : 'none'
      : 'hidden',
    userDisplayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
  };
}

function riskDetection(ctx: GraphRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser, updates: readonly RecordUpdate[]): GraphRecord {
  const p2 = ctx.entraP2;
  const type = rng.pick(RISK_EVENT_TYPES);
  const ip = ipv4(rng);
  const state = stateAfter(updates, 'atRisk', RISK_STATE_PROGRESSION);
  const level = rng.pick(['low', 'medium', 'high']);
  const closed = state === 'dismissed' || state === 'remediated' || state === 'confirmedSafe';
  return {
    id: graphRecordId(ctx, 'riskDetections', index),
    requestId: rng.uuid(),
    correlationId: rng.uuid(),
    riskEventType: p2 ? type : 'generic',
    riskState: state,
    riskLevel: p2 ? (closed ? 'none' : level) : 'hidden',
    riskDetail: p2 ? (RISK_DETAIL_OF_STATE[state] ?? 'none') : 'hidden',
    source: 'IdentityProtection',
    detectionTimingType: rng.pick(['realtime', 'offline']),
    activity: 'signin',
    tokenIssuerType: 'AzureAD',
    ipAddress: ip,
    location: location(rng),
    activityDateTime: graphTime(eventMs - rng.int(120_000)),
    detectedDateTime: graphTime(eventMs),
    lastUpdatedDateTime: graphTime(updates.length > 0 ? (updates[updates.length - 1] as RecordUpdate).atMs : eventMs),
    userId: user.id,
    userDisplayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
    // a JSON *string*, as the service returns it
    additionalInfo: p2
      ? JSON.stringify([
          { Key: 'userAgent', Value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' },
          { Key: 'alertUrl', Value: null },
        ])
      : null,
  };
}

const METHODS = ['microsoftAuthenticatorPush', 'softwareOneTimePasscode', 'mobilePhone', 'email', 'fido2', 'windowsHelloForBusiness'];

function registrationDetails(_ctx: GraphRecordContext, _index: number, eventMs: number, rng: Rng, user: SimUser): GraphRecord {
  const methods = METHODS.filter(() => rng.chance(0.35));
  const mfa = methods.some((m) => m !== 'email');
  return {
    id: user.id,
    userPrincipalName: user.userPrincipalName,
    userDisplayName: user.displayName,
    userType: 'member',
    isAdmin: user.isAdmin,
    isSsprRegistered: methods.length > 0,
    isSsprEnabled: rng.chance(0.7),
    isSsprCapable: methods.length > 0,
    isMfaRegistered: mfa,
    isMfaCapable: mfa,
    isPasswordlessCapable: methods.includes('fido2') || methods.includes('windowsHelloForBusiness'),
    methodsRegistered: methods,
    isSystemPreferredAuthenticationMethodEnabled: true,
    systemPreferredAuthenticationMethods: mfa ? ['push'] : [],
    userPreferredMethodForSecondaryAuthentication: mfa ? 'push' : 'none',
    lastUpdatedDateTime: graphTime(eventMs),
  };
}

type Generator = (ctx: GraphRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser, updates: readonly RecordUpdate[]) => GraphRecord;

const GENERATORS: Record<GraphSourceKey, Generator> = {
  signIns: signIn,
  nonInteractiveSignIns: nonInteractiveSignIn,
  servicePrincipalSignIns: (ctx, index, eventMs, rng) => workloadSignIn(ctx, 'servicePrincipalSignIns', index, eventMs, rng),
  managedIdentitySignIns: (ctx, index, eventMs, rng) => workloadSignIn(ctx, 'managedIdentitySignIns', index, eventMs, rng),
  directoryAudits: directoryAudit,
  riskyUsers: riskyUser,
  riskDetections: riskDetection,
  userRegistrationDetails: registrationDetails,
  servicePrincipalRiskDetections: (ctx, index, eventMs, rng, _user, updates) =>
    servicePrincipalRiskDetection(ctx, graphRecordId(ctx, 'servicePrincipalRiskDetections', index), eventMs, rng, updates),
  provisioning: (ctx, index, eventMs, rng, user) => provisioningObject(ctx, graphRecordId(ctx, 'provisioning', index), eventMs, rng, user),
  securityAlerts: (ctx, index, eventMs, rng, user, updates) =>
    securityAlert(ctx, graphRecordId(ctx, 'securityAlerts', index), index, eventMs, rng, user, updates),
  securityIncidents: (ctx, index, eventMs, rng, user, updates) =>
    securityIncident(ctx, graphRecordId(ctx, 'securityIncidents', index), eventMs, rng, user, updates),
};

/** A record as served: `updates` are the changes visible at the time of the request (oldest first). */
export function generateGraphRecord(
  ctx: GraphRecordContext,
  source: GraphSourceKey,
  index: number,
  eventMs: number,
  updates: readonly RecordUpdate[] = [],
): GraphRecord {
  const rng = new Rng(`${ctx.seed}|${ctx.tenantId}|${source}|rec|${index}`);
  const user = userOfRecord(ctx, source, index);
  return GENERATORS[source](ctx, index, eventMs, rng, user, updates);
}

/** The property each source is filtered and ordered on. */
export const GRAPH_TIME_FIELD: Record<GraphSourceKey, string> = {
  signIns: 'createdDateTime',
  nonInteractiveSignIns: 'createdDateTime',
  servicePrincipalSignIns: 'createdDateTime',
  managedIdentitySignIns: 'createdDateTime',
  directoryAudits: 'activityDateTime',
  riskyUsers: 'riskLastUpdatedDateTime',
  riskDetections: 'detectedDateTime',
  userRegistrationDetails: 'lastUpdatedDateTime',
  servicePrincipalRiskDetections: 'detectedDateTime',
  provisioning: 'activityDateTime',
  securityAlerts: 'createdDateTime',
  securityIncidents: 'createdDateTime',
};
