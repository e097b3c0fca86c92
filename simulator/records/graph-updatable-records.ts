import type { Rng } from '../deterministic.ts';
import { uuidFor } from '../deterministic.ts';
import type { RecordUpdate } from '../feeds.ts';
import type { SimUser } from './directory-people.ts';
import { APPS, LOCATIONS, graphTime, ipv4 } from './directory-people.ts';

/**
 * Graph records that Microsoft changes after they first appear, and provisioning logs: service-principal risk
 * detections (v1.0 servicePrincipalRiskDetection), Defender XDR alerts (security.alert, `/security/alerts_v2`) and
 * incidents (security.incident), and provisioningObjectSummary. Shapes and enumerations follow the Graph v1.0
 * resource pages; every later change is a RecordUpdate that moves the last-update time and the state.
 */

type GraphRecord = Record<string, unknown>;

export interface UpdatableContext {
  seed: string;
  tenantId: string;
  domain: string;
  users: readonly SimUser[];
}

/** The riskState values a detection moves through when nobody names one (riskDetection resource, riskState). */
export const RISK_STATE_PROGRESSION = ['dismissed', 'confirmedCompromised', 'remediated'] as const;

/** riskDetail that Microsoft documents for each state an administrator or the user brings a detection to. */
export const RISK_DETAIL_OF_STATE: Readonly<Record<string, string>> = {
  atRisk: 'none',
  dismissed: 'adminDismissedAllRiskForUser',
  confirmedCompromised: 'adminConfirmedUserCompromised',
  remediated: 'userPerformedSecuredPasswordReset',
  confirmedSafe: 'adminConfirmedSigninSafe',
};

/** The state after the given updates: the last explicit one, else the n-th step of the documented progression. */
export function stateAfter(updates: readonly RecordUpdate[], initial: string, progression: readonly string[]): string {
  let state = initial;
  updates.forEach((u, i) => {
    state = u.state ?? progression[Math.min(i, progression.length - 1)] ?? state;
  });
  return state;
}

function lastUpdated(eventMs: number, updates: readonly RecordUpdate[]): number {
  return updates.length > 0 ? (updates[updates.length - 1] as RecordUpdate).atMs : eventMs;
}

const SP_RISK_EVENT_TYPES = [
  'investigationsThreatIntelligence',
  'suspiciousSignins',
  'leakedCredentials',
  'anomalousServicePrincipalActivity',
  'suspiciousAPITraffic',
];

export function servicePrincipalRiskDetection(ctx: UpdatableContext, id: string, eventMs: number, rng: Rng, updates: readonly RecordUpdate[]): GraphRecord {
  const app = rng.pick(APPS);
  const state = stateAfter(updates, 'atRisk', RISK_STATE_PROGRESSION);
  const l = rng.pick(LOCATIONS);
  return {
    '@odata.type': '#microsoft.graph.servicePrincipalRiskDetection',
    id,
    requestId: null,
    correlationId: null,
    riskEventType: rng.pick(SP_RISK_EVENT_TYPES),
    riskState: state,
    riskLevel: state === 'atRisk' || state === 'confirmedCompromised' ? rng.pick(['low', 'medium', 'high']) : 'none',
    riskDetail: RISK_DETAIL_OF_STATE[state] ?? 'none',
    source: 'IdentityProtection',
    detectionTimingType: 'offline',
    activity: 'servicePrincipal',
    tokenIssuerType: 'AzureAD',
    ipAddress: rng.chance(0.6) ? ipv4(rng) : null,
    location: rng.chance(0.6)
      ? { city: l.city, state: l.state, countryOrRegion: l.countryOrRegion, geoCoordinates: { altitude: null, latitude: l.latitude, longitude: l.longitude } }
      : null,
    activityDateTime: graphTime(eventMs - rng.int(3_600_000)),
    detectedDateTime: graphTime(eventMs),
    lastUpdatedDateTime: graphTime(lastUpdated(eventMs, updates)),
    servicePrincipalId: uuidFor(`${ctx.seed}|${ctx.tenantId}|sp|${app.appId}`),
    servicePrincipalDisplayName: app.name,
    appId: app.appId,
    keyIds: [rng.uuid()],
    additionalInfo: JSON.stringify([{ Key: 'alertUrl', Value: null }]),
  };
}

const ALERT_KINDS = [
  {
    serviceSource: 'microsoftDefenderForEndpoint',
    detectionSource: 'antivirus',
    category: 'DefenseEvasion',
    title: 'Suspicious execution of hidden file',
    technique: 'T1564.001',
  },
  {
    serviceSource: 'microsoftDefenderForOffice365',
    detectionSource: 'microsoftDefenderForOffice365',
    category: 'InitialAccess',
    title: 'Email messages containing malicious URL removed after delivery',
    technique: 'T1566.002',
  },
  {
    serviceSource: 'microsoftDefenderForIdentity',
    detectionSource: 'microsoftDefenderForIdentity',
    category: 'CredentialAccess',
    title: 'Suspected brute-force attack (Kerberos, NTLM)',
    technique: 'T1110',
  },
  {
    serviceSource: 'microsoftDefenderForCloudApps',
    detectionSource: 'microsoftDefenderForCloudApps',
    category: 'Exfiltration',
    title: 'Mass download by a single user',
    technique: 'T1530',
  },
  {
    serviceSource: 'azureAdIdentityProtection',
    detectionSource: 'azureAdIdentityProtection',
    category: 'InitialAccess',
    title: 'Unfamiliar sign-in properties',
    technique: 'T1078',
  },
] as const;

/** One step of an alert's or incident's triage: what each successive update changes (security.alert properties). */
interface Triage {
  status: string;
  assignedTo: string | null;
  classification: string;
  determination: string;
  resolved: boolean;
}

function triageAfter(updates: readonly RecordUpdate[], analyst: string, incident: boolean): Triage {
  const t: Triage = { status: incident ? 'active' : 'new', assignedTo: null, classification: 'unknown', determination: 'unknown', resolved: false };
  updates.forEach((u, i) => {
    if (i === 0) {
      t.status = incident ? 'inProgress' : 'inProgress';
      t.assignedTo = analyst;
    } else if (i === 1) {
      t.classification = 'truePositive';
      t.determination = incident ? 'multiStagedAttack' : 'malware';
    } else {
      t.status = 'resolved';
      t.resolved = true;
    }
    if (u.state) t.status = u.state;
  });
  return t;
}

function evidence(ctx: UpdatableContext, rng: Rng, user: SimUser, createdMs: number): GraphRecord[] {
  const created = graphTime(createdMs);
  const base = (type: string, roles: string[]) => ({
    '@odata.type': `#microsoft.graph.security.${type}`,
    createdDateTime: created,
    verdict: rng.pick(['unknown', 'suspicious', 'malicious']),
    remediationStatus: 'none',
    remediationStatusDetails: null,
    roles,
    detailedRoles: [],
    tags: [],
  });
  const account = {
    accountName: user.userPrincipalName.split('@')[0],
    domainName: ctx.domain.split('.')[0]?.toUpperCase() ?? null,
    userSid: `S-1-5-21-${rng.int(1e9)}-${rng.int(1e9)}-${rng.int(1e9)}-${1000 + rng.int(9000)}`,
    azureAdUserId: user.id,
    userPrincipalName: user.userPrincipalName,
    displayName: user.displayName,
  };
  const deviceIp = ipv4(rng);
  const sha1 = rng.hex(40);
  const sha256 = rng.hex(64);
  const fileName = rng.pick(['invoice.docm', 'update.exe', 'payload.ps1', 'MsSense.exe']);
  return [
    { ...base('userEvidence', ['compromised']), userAccount: account },
    {
      ...base('deviceEvidence', ['compromised']),
      firstSeenDateTime: graphTime(createdMs - 90 * 86_400_000),
      mdeDeviceId: rng.hex(40),
      azureAdDeviceId: rng.uuid(),
      deviceDnsName: `desktop-${rng.hex(6)}.${ctx.domain}`,
      osPlatform: rng.pick(['Windows10', 'Windows11', 'macOS']),
      osBuild: 22_000 + rng.int(1000),
      healthStatus: 'active',
      riskScore: rng.pick(['low', 'medium', 'high']),
      onboardingStatus: 'onboarded',
      defenderAvStatus: 'updated',
      ipInterfaces: [deviceIp],
      loggedOnUsers: [{ accountName: account.accountName, domainName: account.domainName }],
    },
    { ...base('ipEvidence', ['attacker']), ipAddress: ipv4(rng), countryLetterCode: rng.pick(['US', 'NL', 'RU', 'BR']) },
    { ...base('mailboxEvidence', []), primaryAddress: user.userPrincipalName, displayName: user.displayName, userAccount: account },
    {
      ...base('fileEvidence', []),
      detectionStatus: 'detected',
      fileDetails: {
        sha1,
        sha256,
        fileName,
        filePath: 'C:\\Users\\Public\\Downloads',
        fileSize: 10_000 + rng.int(5_000_000),
        filePublisher: null,
        signer: null,
        issuer: null,
      },
    },
  ];
}

/** Incident ids are numeric strings (incident i is `10000 + i`); alert i belongs to incident i / 3. */
export function incidentIdOf(alertIndex: number): string {
  return String(10_000 + Math.floor(alertIndex / 3));
}

export function securityAlert(
  ctx: UpdatableContext,
  id: string,
  index: number,
  eventMs: number,
  rng: Rng,
  user: SimUser,
  updates: readonly RecordUpdate[],
): GraphRecord {
  const kind = rng.pick(ALERT_KINDS);
  const analyst = ctx.users[1]?.userPrincipalName ?? user.userPrincipalName;
  const t = triageAfter(updates, analyst, false);
  const incidentId = incidentIdOf(index);
  const updated = lastUpdated(eventMs, updates);
  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id,
    providerAlertId: id,
    incidentId,
    status: t.status,
    severity: rng.pick(['informational', 'low', 'medium', 'high']),
    classification: t.classification,
    determination: t.determination,
    serviceSource: kind.serviceSource,
    detectionSource: kind.detectionSource,
    detectorId: uuidFor(`${ctx.seed}|detector|${kind.title}`),
    tenantId: ctx.tenantId,
    title: kind.title,
    description: `${kind.title} involving ${user.userPrincipalName}.`,
    recommendedActions: 'Collect artifacts and determine scope.',
    category: kind.category,
    assignedTo: t.assignedTo,
    alertWebUrl: `https://security.microsoft.com/alerts/${id}?tid=${ctx.tenantId}`,
    incidentWebUrl: `https://security.microsoft.com/incidents/${incidentId}?tid=${ctx.tenantId}`,
    actorDisplayName: null,
    threatDisplayName: null,
    threatFamilyName: null,
    mitreTechniques: [kind.technique],
    createdDateTime: graphTime(eventMs),
    lastUpdateDateTime: graphTime(updated),
    resolvedDateTime: t.resolved ? graphTime(updated) : null,
    firstActivityDateTime: graphTime(eventMs - 600_000 - rng.int(3_600_000)),
    lastActivityDateTime: graphTime(eventMs - rng.int(600_000)),
    comments: [],
    evidence: evidence(ctx, rng, user, eventMs),
    systemTags: [],
  };
}

export function securityIncident(ctx: UpdatableContext, id: string, eventMs: number, rng: Rng, user: SimUser, updates: readonly RecordUpdate[]): GraphRecord {
  const analyst = ctx.users[1]?.userPrincipalName ?? user.userPrincipalName;
  const t = triageAfter(updates, analyst, true);
  return {
    '@odata.type': '#microsoft.graph.security.incident',
    id,
    incidentWebUrl: `https://security.microsoft.com/incidents/${id}?tid=${ctx.tenantId}`,
    redirectIncidentId: null,
    tenantId: ctx.tenantId,
    displayName: rng.pick([
      'Multi-stage incident involving Initial access & Command and control',
      'Suspicious sign-in activity on one user',
      'Email reported by user as malware or phish',
    ]),
    createdDateTime: graphTime(eventMs),
    lastUpdateDateTime: graphTime(lastUpdated(eventMs, updates)),
    assignedTo: t.assignedTo,
    classification: t.classification,
    determination: t.determination,
    status: t.status,
    severity: rng.pick(['low', 'medium', 'high']),
    customTags: [],
    comments: [],
    systemTags: [],
    description: `Incident correlating alerts on ${user.userPrincipalName}.`,
  };
}

const TARGET_SYSTEMS = ['ServiceNow', 'Workday', 'Salesforce', 'Slack'];

export function provisioningObject(ctx: UpdatableContext, id: string, eventMs: number, rng: Rng, user: SimUser): GraphRecord {
  const target = rng.pick(TARGET_SYSTEMS);
  const action = rng.pick(['create', 'update', 'update', 'disable', 'delete']);
  const failed = rng.chance(0.15);
  const skipped = !failed && rng.chance(0.1);
  const spId = uuidFor(`${ctx.seed}|${ctx.tenantId}|provisioning-sp|${target}`);
  return {
    id,
    activityDateTime: graphTime(eventMs),
    tenantId: ctx.tenantId,
    jobId: `${target}.${rng.hex(32)}.${rng.hex(32)}`,
    cycleId: rng.uuid(),
    changeId: rng.uuid(),
    provisioningAction: action,
    durationInMilliseconds: 50 + rng.int(5000),
    initiatedBy: { id: '', displayName: 'Azure AD Provisioning Service', initiatorType: 'system' },
    servicePrincipal: { id: spId, displayName: target },
    sourceSystem: { id: uuidFor(`${ctx.seed}|aad-system`), displayName: 'Azure Active Directory', details: {} },
    targetSystem: {
      id: uuidFor(`${ctx.seed}|${target}-system`),
      displayName: target,
      details: { ApplicationId: uuidFor(`${ctx.seed}|${target}-app`), ServicePrincipalId: spId, ServicePrincipalDisplayName: target },
    },
    sourceIdentity: { id: user.id, displayName: user.displayName, identityType: 'User', details: { UserPrincipalName: user.userPrincipalName } },
    targetIdentity: { id: rng.hex(16), displayName: user.userPrincipalName, identityType: 'User', details: {} },
    provisioningStatusInfo: {
      status: failed ? 'failure' : skipped ? 'skipped' : 'success',
      errorInformation: failed
        ? {
            errorCode: 'SystemForCrossDomainIdentityManagementBadRequest',
            reason: 'The target system rejected the request.',
            additionalDetails: null,
            errorCategory: 'NonServiceFailure',
            recommendedAction: 'Check the attribute mappings.',
          }
        : null,
    },
    provisioningSteps: [
      {
        name: 'EntryImport',
        provisioningStepType: 'import',
        status: 'success',
        description: `Retrieved ${user.userPrincipalName} from Azure Active Directory`,
        details: {},
      },
      {
        name: 'EntrySynchronizationScoping',
        provisioningStepType: 'scoping',
        status: skipped ? 'skipped' : 'success',
        description: skipped ? 'The user is out of scope.' : 'The user is in scope.',
        details: {},
      },
      {
        name: 'EntryExport',
        provisioningStepType: 'export',
        status: failed ? 'failure' : 'success',
        description: `${action} ${user.userPrincipalName} in ${target}`,
        details: {},
      },
    ],
    modifiedProperties: action === 'update' ? [{ displayName: 'displayName', oldValue: null, newValue: user.displayName }] : [],
  };
}
