/**
 * The versioned permission manifest: which application roles each source needs, per resource. Roles granted in a
 * tenant are read from fresh app-only tokens and compared with the manifest version in force
 * (PERMISSION_MANIFEST_VERSION). A new version is added here, never edited in place, so a release can move every
 * connected organization forward and watch upgrades happen or wait for approval.
 */
import { SOURCES, type SourceName } from '../runtime/index.ts';

export type ManifestResource = 'management' | 'graph';

export interface RoleRequirement {
  resource: ManifestResource;
  role: string;
}

/** A role a source works without, collecting less: what it adds is said in the source's status when it is missing. */
export interface OptionalRole extends RoleRequirement {
  adds: string;
}

export interface PermissionManifest {
  version: number;
  /** What changed and why (shown in history when organizations move to this version). */
  note: string;
  /**
   * The sources this version collects and the roles each cannot work without. A source added in a later version is
   * absent from earlier ones: under those it is neither polled nor paused.
   */
  sources: Readonly<Partial<Record<SourceName, readonly RoleRequirement[]>>>;
  /** Roles that enrich a source without being needed for it (issue 13: least privilege). */
  optionalRoles?: Readonly<Partial<Record<SourceName, readonly OptionalRole[]>>>;
  /**
   * Roles the Audit Search back-fill (history before the connection, docs/decisions/0155) needs. Requested like a
   * source's roles, but missing them pauses no source: only the back-fill is "not permitted" and the connection stays
   * Active (docs/decisions/0202). Absent: the version does not request the back-fill.
   */
  backfillRoles?: readonly RoleRequirement[];
}

const mgmt = (role: string): RoleRequirement => ({ resource: 'management', role });
const graph = (role: string): RoleRequirement => ({ resource: 'graph', role });

/** Roles that let the control plane assign missing roles itself (reference/microsoft-apis.md §3.7). */
export const AUTO_UPGRADE_ROLES: readonly RoleRequirement[] = [graph('AppRoleAssignment.ReadWrite.All'), graph('Application.Read.All')];

/** Resource application ids in every customer tenant (the same in all clouds). */
export const RESOURCE_APP_IDS: Readonly<Record<ManifestResource, string>> = {
  management: 'c5393580-f805-4401-95e8-94b7a6ef2fc2',
  graph: '00000003-0000-0000-c000-000000000000',
};

/** Both "List signIns" pages (v1.0 and beta) ask AuditLog.Read.All and Directory.Read.All for every sign-in type. */
const SIGN_IN_ROLES: readonly RoleRequirement[] = [graph('AuditLog.Read.All'), graph('Directory.Read.All')];

const V1: PermissionManifest = {
  version: 1,
  note: "least-privileged roles per Microsoft's permission tables",
  sources: {
    'management:Audit.AzureActiveDirectory': [mgmt('ActivityFeed.Read')],
    'management:Audit.Exchange': [mgmt('ActivityFeed.Read')],
    'management:Audit.SharePoint': [mgmt('ActivityFeed.Read')],
    'management:Audit.General': [mgmt('ActivityFeed.Read')],
    'management:DLP.All': [mgmt('ActivityFeed.Read'), mgmt('ActivityFeed.ReadDlp')],
    // A long-standing known issue made sign-ins need Directory.Read.All next to AuditLog.Read.All.
    'graph:signIns': SIGN_IN_ROLES,
    // The other sign-in types are the same API (beta, filtered by type) under the same permission: no new role, so
    // they join every version rather than starting a new one (docs/decisions/0130).
    'graph:nonInteractiveSignIns': SIGN_IN_ROLES,
    'graph:servicePrincipalSignIns': SIGN_IN_ROLES,
    'graph:managedIdentitySignIns': SIGN_IN_ROLES,
    'graph:directoryAudits': [graph('AuditLog.Read.All')],
    'graph:riskyUsers': [graph('IdentityRiskyUser.Read.All')],
    'graph:riskDetections': [graph('IdentityRiskEvent.Read.All')],
    'graph:userRegistrationDetails': [graph('AuditLog.Read.All')],
  },
};

const V2: PermissionManifest = {
  version: 2,
  note: 'registration details also need UserAuthenticationMethod.Read.All (premium-check 403s seen with AuditLog.Read.All alone); directory audits take Directory.Read.All as the stored permissions table lists',
  sources: {
    ...V1.sources,
    'graph:directoryAudits': [graph('AuditLog.Read.All'), graph('Directory.Read.All')],
    'graph:userRegistrationDetails': [graph('AuditLog.Read.All'), graph('UserAuthenticationMethod.Read.All')],
  },
};

/**
 * Version 3 (docs/decisions/0140): the least-privileged application role of each new source from its Microsoft Graph
 * page (Defender XDR alerts and incidents, service-principal risk, provisioning logs, the Audit Search back-fill),
 * and least privilege for two old ones: `DLP.All` needs only `ActivityFeed.Read` (`ActivityFeed.ReadDlp` adds the
 * detected sensitive data and is optional), `userRegistrationDetails` only `AuditLog.Read.All`.
 */
const V3: PermissionManifest = {
  version: 3,
  note: 'Defender XDR alerts and incidents, service-principal risk detections, provisioning logs and the audit back-fill; DLP without ActivityFeed.ReadDlp collects without sensitive data; registration details need only AuditLog.Read.All',
  sources: {
    ...V2.sources,
    'management:DLP.All': [mgmt('ActivityFeed.Read')],
    'graph:userRegistrationDetails': [graph('AuditLog.Read.All')],
    'graph:servicePrincipalRiskDetections': [graph('IdentityRiskEvent.Read.All')],
    'graph:provisioning': [graph('AuditLog.Read.All')],
    'graph:securityAlerts': [graph('SecurityAlert.Read.All')],
    'graph:securityIncidents': [graph('SecurityIncident.Read.All')],
  },
  optionalRoles: {
    'management:DLP.All': [{ ...mgmt('ActivityFeed.ReadDlp'), adds: 'the sensitive data DLP detected' }],
  },
};

/**
 * Version 4 (docs/decisions/0202): the Audit Search back-fill's AuditLogsQuery.Read.All (Microsoft Graph "Create
 * auditLogQuery": the application role for all audit logs; the per-service AuditLogsQuery-<service>.Read.All roles
 * would each see one workload only). Without it every source still flows; the back-fill says "not permitted".
 */
const V4: PermissionManifest = {
  version: 4,
  note: 'the Audit Search back-fill of history before the connection needs AuditLogsQuery.Read.All; without it no source pauses, the back-fill is not permitted',
  sources: { ...V3.sources },
  ...(V3.optionalRoles ? { optionalRoles: V3.optionalRoles } : {}),
  backfillRoles: [graph('AuditLogsQuery.Read.All')],
};

const MANIFESTS: readonly PermissionManifest[] = [V1, V2, V3, V4];
export const MANIFEST_VERSIONS: readonly number[] = MANIFESTS.map((m) => m.version);
export const LATEST_MANIFEST_VERSION = Math.max(...MANIFEST_VERSIONS);

export function manifestFor(version: number): PermissionManifest {
  const manifest = MANIFESTS.find((m) => m.version === version);
  if (!manifest) throw new Error(`unknown permission manifest version ${version}`);
  return manifest;
}

const uniqueSorted = (roles: Iterable<string>): string[] => [...new Set(roles)].sort();

/** The sources a manifest version collects, in the order of SOURCES. */
export function manifestSources(manifest: PermissionManifest): SourceName[] {
  return SOURCES.filter((s) => manifest.sources[s] !== undefined);
}

/** Every role a connection needs under a manifest, with the auto-upgrade roles only when auto-upgrade is on. */
export function requiredRoles(manifest: PermissionManifest, autoUpgrade: boolean): string[] {
  const roles = SOURCES.flatMap((s) => (manifest.sources[s] ?? []).map((r) => r.role));
  roles.push(...(manifest.backfillRoles ?? []).map((r) => r.role));
  if (autoUpgrade) roles.push(...AUTO_UPGRADE_ROLES.map((r) => r.role));
  return uniqueSorted(roles);
}

export function resourceOfRole(role: string): ManifestResource {
  for (const manifest of MANIFESTS) {
    for (const reqs of [...Object.values(manifest.sources), ...Object.values(manifest.optionalRoles ?? {}), manifest.backfillRoles]) {
      const found = reqs?.find((r) => r.role === role);
      if (found) return found.resource;
    }
  }
  if (AUTO_UPGRADE_ROLES.some((r) => r.role === role)) return 'graph';
  throw new Error(`role ${role} is not in any manifest`);
}

export interface PermissionDiff {
  required: string[];
  granted: string[];
  missing: string[];
  /** Sources whose roles are all granted. */
  pollable: SourceName[];
  /** Sources paused for missing roles. */
  paused: Array<{ source: SourceName; missingRoles: string[] }>;
  /** Pollable sources collecting less for want of an optional role, with what the role would add. */
  reduced: Array<{ source: SourceName; missingRoles: string[]; without: string }>;
  /** True when the control plane may assign missing roles itself. */
  canAutoUpgrade: boolean;
  /** The back-fill's missing roles: empty when it may run (or when this version does not request it). */
  backfillMissing: string[];
}

/** Compares granted roles (from fresh tokens of both resources) with what the manifest requires. */
export function diffPermissions(manifest: PermissionManifest, autoUpgrade: boolean, grantedRoles: Iterable<string>): PermissionDiff {
  const granted = new Set(grantedRoles);
  const required = requiredRoles(manifest, autoUpgrade);
  const pollable: SourceName[] = [];
  const paused: PermissionDiff['paused'] = [];
  for (const source of manifestSources(manifest)) {
    const missingRoles = uniqueSorted((manifest.sources[source] ?? []).map((r) => r.role).filter((r) => !granted.has(r)));
    if (missingRoles.length === 0) pollable.push(source);
    else paused.push({ source, missingRoles });
  }
  return {
    required,
    granted: uniqueSorted([...granted]),
    missing: required.filter((r) => !granted.has(r)),
    pollable,
    paused,
    reduced: reducedSources(manifest, pollable, granted),
    canAutoUpgrade: autoUpgrade && AUTO_UPGRADE_ROLES.every((r) => granted.has(r.role)),
    backfillMissing: uniqueSorted((manifest.backfillRoles ?? []).map((r) => r.role).filter((r) => !granted.has(r))),
  };
}

/** Pollable sources whose optional roles are not all granted: they collect, without what those roles add. */
export function reducedSources(manifest: PermissionManifest, pollable: readonly SourceName[], granted: ReadonlySet<string>): PermissionDiff['reduced'] {
  const reduced: PermissionDiff['reduced'] = [];
  for (const source of pollable) {
    const missing = (manifest.optionalRoles?.[source] ?? []).filter((r) => !granted.has(r.role));
    if (missing.length > 0) reduced.push({ source, missingRoles: uniqueSorted(missing.map((r) => r.role)), without: missing.map((r) => r.adds).join('; ') });
  }
  return reduced;
}

/**
 * The missing roles that hold up collection: every one except those only the back-fill needs. A pending upgrade of
 * back-fill roles alone is shown, but leaves the connection Active (docs/decisions/0202).
 */
export function blockingRoles(manifest: PermissionManifest, missing: readonly string[]): string[] {
  const needed = new Set(SOURCES.flatMap((s) => (manifest.sources[s] ?? []).map((r) => r.role)));
  const backfillOnly = new Set((manifest.backfillRoles ?? []).map((r) => r.role).filter((r) => !needed.has(r)));
  return missing.filter((r) => !backfillOnly.has(r));
}
