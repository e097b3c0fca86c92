/**
 * The Microsoft 365 connection lifecycle of an organization: consent URL, callback (state, tenant pinning,
 * verification), permission diff, auto-upgrade or pending upgrade, approval, repair, disconnect, periodic
 * re-verification. HTTP lives in app.ts; this module holds the rules.
 */
import {
  SOURCES,
  TokenError,
  sleep,
  type Cloud,
  type CloudProfiles,
  type Logger,
  type SourceStatus,
} from '../runtime/index.ts';
import type { AppTokenProvider } from '../runtime/index.ts';
import { ApiError, type Actor } from './auth.ts';
import { ConsentStateSigner, type ConsentPurpose } from './consent-state.ts';
import type { ControlPlaneMetrics } from './metrics.ts';
import {
  newOrganizationId,
  type Connection,
  type HistoryInput,
  type OrganizationRecord,
  type OrganizationStore,
  type PendingUpgrade,
  type Verification,
} from './organization-store.ts';
import { AUTO_UPGRADE_ROLES, diffPermissions, manifestFor, requiredRoles, type PermissionDiff } from './permission-manifest.ts';
import { computeStatus, REASONS, type PipelineStall, type StatusView } from './status.ts';
import { isTenantGuid, resolveTenant } from './tenant-resolver.ts';
import { assignMissingRoles, type AssignRolesResult, type FetchLike } from './upgrades.ts';

export type TokenSource = Pick<AppTokenProvider, 'acquire' | 'clientId'>;

export interface SourceStatusLookup {
  forOrg(orgId: string): ReadonlyMap<string, SourceStatus>;
}

export interface PipelineStallLookup {
  stallsFor(orgId: string): PipelineStall[];
}

export interface ConnectionServiceOptions {
  store: OrganizationStore;
  tokens: TokenSource;
  statuses: SourceStatusLookup;
  /** Stalled pipeline stages per organization (control-plane/pipeline-health.ts); none when absent. */
  pipeline?: PipelineStallLookup;
  signer: ConsentStateSigner;
  clouds: CloudProfiles;
  publicUrl: string;
  manifestVersion: number;
  expectedLagSeconds: number;
  logger: Logger;
  metrics: ControlPlaneMetrics;
  fetchImpl?: FetchLike;
  now?: () => number;
  /** Pause between re-verification attempts after an auto-upgrade (role propagation). */
  propagationDelayMs?: number;
}

export const SYSTEM_ACTOR: Actor = { role: 'system', label: 'control-plane' };
const CONSENT_ACTOR: Actor = { role: 'microsoft', label: 'admin-consent-callback' };

export interface CallbackQuery {
  state?: string;
  tenant?: string;
  admin_consent?: string;
  error?: string;
  error_description?: string;
}

export interface CallbackOutcome {
  httpStatus: number;
  outcome: string;
  title: string;
  message: string;
  orgId?: string;
}

type VerificationOutcome =
  | { ok: true; tenantId: string; diff: PermissionDiff; upgrade: AssignRolesResult | null }
  | { ok: false; error: TokenError };

export interface OrganizationView {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  revision: number;
  connection: { status: string; reason: string | null; tenantId: string | null; cloud: Cloud } | null;
}

export interface ConnectionView extends StatusView {
  remedy: string | null;
  tenantId: string | null;
  requestedTenant: string | null;
  cloud: Cloud | null;
  autoUpgrade: boolean | null;
  manifestVersion: number | null;
  permissions: { required: string[]; granted: string[]; missing: string[] };
  pendingUpgrade: (PendingUpgrade & { consentUrl: string | null; pausedSources: string[] }) | null;
  connectedAt: string | null;
  verifiedAt: string | null;
}

const unique = (items: Iterable<string>) => [...new Set(items)].sort();
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && unique(a).join() === unique(b).join();

export class ConnectionService {
  private readonly now: () => number;
  private readonly fetchImpl: FetchLike;
  /** When each organization was last verified (kept in memory: re-checks that find nothing new write nothing). */
  private readonly lastChecked = new Map<string, string>();

  constructor(private readonly o: ConnectionServiceOptions) {
    this.now = o.now ?? Date.now;
    this.fetchImpl = o.fetchImpl ?? fetch;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private require(orgId: string): OrganizationRecord {
    const record = this.o.store.get(orgId);
    if (!record) throw new ApiError(404, 'not_found', `organization ${orgId} does not exist`);
    return record;
  }

  // ---------------------------------------------------------------- organizations

  async createOrganization(actor: Actor, name: string): Promise<OrganizationView> {
    const id = newOrganizationId();
    const at = this.iso();
    await this.o.store.mutate(id, actor, (current) => {
      if (current) throw new ApiError(409, 'conflict', 'organization id collision; retry');
      return {
        record: {
          schemaVersion: 1,
          orgId: id,
          orgName: name,
          revision: 0,
          updatedAt: at,
          connection: null,
          controlPlane: { createdAt: at, requestedTenant: null, pendingUpgrade: null, verification: null, consumedNonces: [] },
        },
        history: [{ action: 'organization.created', message: `created organization "${name}"` }],
        result: undefined,
      };
    });
    return this.organizationView(this.require(id));
  }

  listOrganizations(): OrganizationView[] {
    return this.o.store.list().map((r) => this.organizationView(r));
  }

  getOrganization(orgId: string): OrganizationView {
    return this.organizationView(this.require(orgId));
  }

  async renameOrganization(actor: Actor, orgId: string, name: string): Promise<OrganizationView> {
    this.require(orgId);
    await this.o.store.mutate(orgId, actor, (current) => {
      if (!current) throw new ApiError(404, 'not_found', `organization ${orgId} does not exist`);
      if (current.orgName === name) return { record: undefined, result: undefined };
      const old = current.orgName;
      current.orgName = name;
      return { record: current, history: [{ action: 'organization.renamed', message: `renamed from "${old}" to "${name}"`, detail: { from: old, to: name } }], result: undefined };
    });
    return this.getOrganization(orgId);
  }

  async deleteOrganization(actor: Actor, orgId: string): Promise<void> {
    this.require(orgId);
    await this.o.store.mutate(orgId, actor, (current) => {
      if (!current) throw new ApiError(404, 'not_found', `organization ${orgId} does not exist`);
      return { record: null, result: undefined };
    });
  }

  history(orgId: string) {
    this.require(orgId);
    return this.o.store.history(orgId);
  }

  private organizationView(r: OrganizationRecord): OrganizationView {
    const status = r.connection ? this.statusOf(r) : null;
    return {
      id: r.orgId,
      name: r.orgName,
      createdAt: r.controlPlane.createdAt,
      updatedAt: r.updatedAt,
      revision: r.revision,
      connection: r.connection && status ? { status: status.status, reason: status.reason, tenantId: r.connection.tenantId, cloud: r.connection.cloud } : null,
    };
  }

  // ---------------------------------------------------------------- consent URLs

  private consentUrl(orgId: string, cloud: Cloud, tenantId: string | null, purpose: ConsentPurpose): string {
    const profile = this.o.clouds[cloud];
    const { state } = this.o.signer.sign(orgId, purpose);
    const params = new URLSearchParams({
      client_id: this.o.tokens.clientId,
      // v2 admin consent takes one resource's .default; it grants every permission the app registration requires.
      scope: `${profile.graphResource}/.default`,
      redirect_uri: `${this.o.publicUrl}/oauth/microsoft/callback`,
      state,
    });
    return `${profile.authorityHost}/${tenantId ?? 'organizations'}/v2.0/adminconsent?${params.toString()}`;
  }

  async connect(actor: Actor, orgId: string, input: { autoUpgrade: boolean; cloud: Cloud; tenant?: string | undefined }): Promise<{ consentUrl: string; tenantId: string | null }> {
    const existing = this.require(orgId);
    const prior = existing.connection;
    if (prior?.connectedAt && prior.tenantId) {
      if (input.tenant && input.tenant.toLowerCase() !== prior.tenantId && input.tenant.toLowerCase() !== existing.controlPlane.requestedTenant?.toLowerCase()) {
        throw new ApiError(409, 'tenant_pinned', `organization ${orgId} is pinned to tenant ${prior.tenantId}; a different tenant needs a new organization`);
      }
      if (input.cloud !== prior.cloud) throw new ApiError(409, 'tenant_pinned', `organization ${orgId} is connected in the ${prior.cloud} cloud; a different cloud needs a new organization`);
      if (prior.status !== 'disconnected') throw new ApiError(409, 'already_connected', `organization ${orgId} is already connected; use repair to consent again`);
    }
    let tenantId: string | null = prior?.connectedAt ? prior.tenantId : null;
    if (!tenantId && input.tenant) {
      const resolution = await resolveTenant(this.o.clouds[input.cloud].authorityHost, input.tenant, this.fetchImpl);
      if (!resolution.ok) {
        if (resolution.code === 'tenant_not_found') throw new ApiError(422, 'tenant_not_found', resolution.message, 'body.tenant');
        throw new ApiError(502, 'microsoft_unavailable', resolution.message);
      }
      tenantId = resolution.tenantId;
      const other = this.o.store.findByTenant(tenantId);
      if (other && other.orgId !== orgId) throw new ApiError(409, 'tenant_in_use', `tenant ${tenantId} is already connected to organization ${other.orgId}`);
    }
    const manifest = manifestFor(this.o.manifestVersion);
    await this.o.store.mutate(orgId, actor, (current) => {
      if (!current) throw new ApiError(404, 'not_found', `organization ${orgId} does not exist`);
      const reconnect = current.connection?.status === 'disconnected';
      const base: Connection = current.connection ?? {
        cloud: input.cloud,
        tenantId: null,
        status: 'connecting',
        autoUpgrade: input.autoUpgrade,
        manifestVersion: manifest.version,
        requiredRoles: [],
        grantedRoles: [],
        polling: { enabled: false, sources: [], paused: [], refetchGeneration: 0, refetchFrom: null },
        connectedAt: null,
      };
      current.connection = {
        ...base,
        cloud: input.cloud,
        tenantId,
        status: 'connecting',
        autoUpgrade: input.autoUpgrade,
        manifestVersion: manifest.version,
        requiredRoles: requiredRoles(manifest, input.autoUpgrade),
      };
      if (!base.connectedAt) current.controlPlane.verification = null;
      current.controlPlane.requestedTenant = input.tenant ?? current.controlPlane.requestedTenant ?? null;
      return {
        record: current,
        history: [
          {
            action: reconnect ? 'connection.reconnect_started' : 'connection.started',
            message: `consent requested for ${tenantId ? `tenant ${tenantId}` : 'any tenant (organizations)'} in the ${input.cloud} cloud, auto-upgrade ${input.autoUpgrade ? 'on' : 'off'}`,
            detail: { cloud: input.cloud, tenantId, requestedTenant: input.tenant ?? null, autoUpgrade: input.autoUpgrade },
          },
        ],
        result: undefined,
      };
    });
    return { consentUrl: this.consentUrl(orgId, input.cloud, tenantId, 'connect'), tenantId };
  }

  async setAutoUpgrade(actor: Actor, orgId: string, autoUpgrade: boolean): Promise<ConnectionView> {
    const record = this.require(orgId);
    if (!record.connection) throw new ApiError(409, 'not_connected', `organization ${orgId} has no Microsoft 365 connection`);
    await this.o.store.mutate(orgId, actor, (current) => {
      const connection = current?.connection;
      if (!current || !connection) throw new ApiError(409, 'not_connected', `organization ${orgId} has no Microsoft 365 connection`);
      if (connection.autoUpgrade === autoUpgrade) return { record: undefined, result: undefined };
      connection.autoUpgrade = autoUpgrade;
      connection.requiredRoles = requiredRoles(manifestFor(connection.manifestVersion), autoUpgrade);
      return {
        record: current,
        history: [{ action: 'connection.auto_upgrade_changed', message: `auto-upgrade turned ${autoUpgrade ? 'on' : 'off'}`, detail: { autoUpgrade } }],
        result: undefined,
      };
    });
    // Authorization handling changed: re-verify now so pending upgrades and paused sources reflect it.
    const after = this.require(orgId);
    if (after.connection?.tenantId && after.connection.connectedAt && after.connection.status !== 'disconnected') await this.verify(orgId, actor);
    return this.connectionView(orgId);
  }

  async approveUpgrade(actor: Actor, orgId: string): Promise<{ consentUrl: string }> {
    const record = this.require(orgId);
    const connection = record.connection;
    if (!connection?.tenantId || !connection.connectedAt) throw new ApiError(409, 'not_connected', `organization ${orgId} is not connected`);
    const pending = record.controlPlane.pendingUpgrade;
    if (connection.status === 'disconnected') throw new ApiError(409, 'disconnected', `organization ${orgId} is disconnected; connect it again`);
    if (!pending) throw new ApiError(409, 'no_pending_upgrade', `organization ${orgId} has no pending permission upgrade`);
    await this.o.store.mutate(orgId, actor, (current) => ({
      record: current,
      history: [{ action: 'upgrade.approved', message: `upgrade approved; consent requested for ${pending.missingRoles.join(', ')}`, detail: { missingRoles: pending.missingRoles } }],
      result: undefined,
    }));
    return { consentUrl: this.consentUrl(orgId, connection.cloud, connection.tenantId, 'upgrade') };
  }

  async repair(actor: Actor, orgId: string): Promise<{ consentUrl: string }> {
    const record = this.require(orgId);
    const connection = record.connection;
    if (!connection?.tenantId) throw new ApiError(409, 'not_connected', `organization ${orgId} has no pinned tenant to repair; connect it first`);
    if (connection.status === 'disconnected') throw new ApiError(409, 'disconnected', `organization ${orgId} is disconnected; connect it again instead of repairing`);
    await this.o.store.mutate(orgId, actor, (current) => ({
      record: current,
      history: [{ action: 'connection.repair_started', message: `repair requested: consent again for tenant ${connection.tenantId}` }],
      result: undefined,
    }));
    return { consentUrl: this.consentUrl(orgId, connection.cloud, connection.tenantId, 'repair') };
  }

  async disconnect(actor: Actor, orgId: string): Promise<ConnectionView> {
    const record = this.require(orgId);
    if (!record.connection) throw new ApiError(409, 'not_connected', `organization ${orgId} has no Microsoft 365 connection`);
    await this.o.store.mutate(orgId, actor, (current) => {
      const connection = current?.connection;
      if (!current || !connection) throw new ApiError(409, 'not_connected', `organization ${orgId} has no Microsoft 365 connection`);
      if (connection.status === 'disconnected') return { record: undefined, result: undefined };
      connection.status = 'disconnected';
      connection.polling = { ...connection.polling, enabled: false };
      return {
        record: current,
        history: [{ action: 'connection.disconnected', message: 'disconnected: polling stopped, collected data kept' }],
        result: undefined,
      };
    });
    return this.connectionView(orgId);
  }

  // ---------------------------------------------------------------- status

  private statusOf(record: OrganizationRecord): StatusView {
    return computeStatus({
      record,
      sourceStatuses: this.o.statuses.forOrg(record.orgId),
      now: this.now(),
      expectedLagSeconds: this.o.expectedLagSeconds,
      pipelineStalls: this.o.pipeline?.stallsFor(record.orgId) ?? [],
    });
  }

  /** The API view; a pending upgrade's consent URL only for callers that may change the connection (admins). */
  connectionView(orgId: string, options: { withConsentUrl?: boolean } = { withConsentUrl: true }): ConnectionView {
    const record = this.require(orgId);
    const c = record.connection;
    const status = this.statusOf(record);
    const pending = record.controlPlane.pendingUpgrade;
    const granted = c?.grantedRoles ?? [];
    return {
      ...status,
      tenantId: c?.tenantId ?? null,
      requestedTenant: record.controlPlane.requestedTenant,
      cloud: c?.cloud ?? null,
      autoUpgrade: c?.autoUpgrade ?? null,
      manifestVersion: c?.manifestVersion ?? null,
      permissions: {
        required: c?.requiredRoles ?? [],
        granted,
        missing: (c?.requiredRoles ?? []).filter((r) => !granted.includes(r)),
      },
      pendingUpgrade:
        pending && c?.tenantId
          ? {
              ...pending,
              consentUrl: options.withConsentUrl ? this.consentUrl(orgId, c.cloud, c.tenantId, 'upgrade') : null,
              pausedSources: c.polling.paused.map((p) => p.source),
            }
          : null,
      connectedAt: c?.connectedAt ?? null,
      verifiedAt: this.lastChecked.get(orgId) ?? record.controlPlane.verification?.at ?? null,
    };
  }

  // ---------------------------------------------------------------- callback

  async handleCallback(query: CallbackQuery): Promise<CallbackOutcome> {
    const outcome = await this.callback(query);
    this.o.metrics.consentCallbacks.inc({ outcome: outcome.outcome });
    if (outcome.httpStatus >= 400) this.o.logger.warn({ orgId: outcome.orgId, outcome: outcome.outcome }, 'consent callback refused');
    else this.o.logger.info({ orgId: outcome.orgId, outcome: outcome.outcome }, 'consent callback accepted');
    return outcome;
  }

  private async callback(query: CallbackQuery): Promise<CallbackOutcome> {
    const check = this.o.signer.verify(query.state);
    if (!check.ok) {
      if (check.problem === 'expired' && check.payload && this.o.store.get(check.payload.org)) {
        const orgId = check.payload.org;
        await this.o.store.mutate(orgId, CONSENT_ACTOR, (current) => ({
          record: current,
          history: [{ action: 'consent.expired_state', message: 'a consent came back after its link expired (10 minutes); nothing changed' }],
          result: undefined,
        }));
        return { httpStatus: 410, outcome: 'expired_state', orgId, title: 'This consent link has expired', message: 'Consent links are valid for 10 minutes. Nothing was changed. Ask the operator for a new link (connect, repair or approve the upgrade again).' };
      }
      if (check.problem === 'expired') {
        return { httpStatus: 410, outcome: 'expired_state', title: 'This consent link has expired', message: 'Consent links are valid for 10 minutes. Nothing was changed.' };
      }
      return {
        httpStatus: 400,
        outcome: check.problem === 'missing' ? 'missing_state' : 'invalid_state',
        title: 'This consent response is not valid',
        message: check.problem === 'missing'
          ? 'The response carries no state parameter, so it cannot be matched to an organization. Nothing was changed.'
          : 'The state parameter was altered or was not issued by this control plane. Nothing was changed.',
      };
    }
    const { org: orgId, nonce, exp, purpose } = check.payload;
    if (!this.o.store.get(orgId)) {
      return { httpStatus: 404, outcome: 'unknown_organization', orgId, title: 'Organization not found', message: 'The organization this consent was requested for no longer exists. Nothing was changed.' };
    }

    // First, atomically consume the nonce (single use) and refuse what cannot proceed.
    type Early = CallbackOutcome | { proceed: true; expected: string | null; cloud: Cloud };
    const early = await this.o.store.mutate<Early>(orgId, CONSENT_ACTOR, (current) => {
      if (!current) return { record: undefined, result: { httpStatus: 404, outcome: 'unknown_organization', orgId, title: 'Organization not found', message: 'The organization no longer exists.' } };
      if (current.controlPlane.consumedNonces.some((n) => n.nonce === nonce)) {
        return {
          record: current,
          history: [{ action: 'consent.reused_state', message: 'a consent response reused a state that was already used; refused' }],
          result: { httpStatus: 409, outcome: 'reused_state', orgId, title: 'This consent link was already used', message: 'Each consent link works once. Nothing was changed. Ask the operator for a new link.' },
        };
      }
      current.controlPlane.consumedNonces.push({ nonce, exp });
      const connection = current.connection;
      if (query.error) {
        const description = (query.error_description ?? '').slice(0, 500);
        return {
          record: current,
          history: [{ action: 'consent.declined', message: `consent was not given: ${query.error}${description ? ` — ${description}` : ''}`, detail: { error: query.error, errorDescription: description, purpose } }],
          result: {
            httpStatus: 400,
            outcome: 'declined',
            orgId,
            title: 'Consent was not given',
            message: `Microsoft reported: ${query.error}${description ? ` — ${description}` : ''}. Nothing was connected. The operator can create a new consent link when the administrator is ready.`,
          },
        };
      }
      if (!connection) {
        return { record: current, result: { httpStatus: 409, outcome: 'not_connecting', orgId, title: 'No connection was requested', message: 'This organization has no Microsoft 365 connection request. Nothing was changed.' } };
      }
      if (connection.status === 'disconnected' && purpose !== 'connect') {
        return {
          record: current,
          history: [{ action: 'consent.after_disconnect', message: `a ${purpose} consent came back after the connection was disconnected; nothing was changed` }],
          result: { httpStatus: 409, outcome: 'disconnected', orgId, title: 'The connection was disconnected', message: 'This link was created before the connection was disconnected. Nothing was changed; the operator connects the organization again to resume.' },
        };
      }
      const tenant = (query.tenant ?? '').toLowerCase();
      if (!isTenantGuid(tenant) || (query.admin_consent ?? '').toLowerCase() !== 'true') {
        return {
          record: current,
          history: [{ action: 'consent.malformed', message: 'the consent response named no tenant or did not confirm admin consent; refused' }],
          result: { httpStatus: 400, outcome: 'malformed_response', orgId, title: 'The consent response is incomplete', message: 'Microsoft\'s response named no tenant id or did not confirm admin consent. Nothing was changed.' },
        };
      }
      const expected = connection.tenantId;
      if (expected && tenant !== expected.toLowerCase()) {
        return {
          record: current,
          history: [{ action: 'consent.wrong_tenant', message: `consent came from tenant ${tenant}, but the organization is pinned to tenant ${expected}; refused`, detail: { returnedTenant: tenant, pinnedTenant: expected } }],
          result: {
            httpStatus: 403,
            outcome: 'wrong_tenant',
            orgId,
            title: 'Consent came from the wrong tenant',
            message: `The consent was given in tenant ${tenant}, but this organization is connected to tenant ${expected}. This happens when a CSP partner (or other delegated) administrator account, or an account of another organization, signs in: consent then lands in that account's home tenant. Nothing was connected. Sign in with a Global Administrator account of tenant ${expected} itself and use a new consent link.`,
          },
        };
      }
      const other = this.o.store.findByTenant(tenant);
      if (other && other.orgId !== orgId) {
        return {
          record: current,
          history: [{ action: 'consent.tenant_in_use', message: `consent came from tenant ${tenant}, which is already connected to organization ${other.orgId}; refused`, detail: { returnedTenant: tenant } }],
          result: {
            httpStatus: 409,
            outcome: 'tenant_in_use',
            orgId,
            title: 'This tenant belongs to another organization',
            message: `Tenant ${tenant} is already connected to another organization. If the signed-in account was a partner or wrong account, sign in with a Global Administrator of the intended customer tenant; nothing was changed.`,
          },
        };
      }
      return {
        record: current,
        history: [{ action: 'consent.granted', message: `admin consent granted in tenant ${tenant} (${purpose})`, detail: { tenantId: tenant, purpose } }],
        result: { proceed: true, expected: expected ?? tenant, cloud: connection.cloud },
      };
    });
    if (!('proceed' in early)) return early;
    const tenantId = early.expected as string;

    // Never trust the returned tenant alone: a token for it proves the tenant exists and the consent landed there.
    const verification = await this.runVerification(tenantId, early.cloud, orgId);
    await this.applyVerification(orgId, CONSENT_ACTOR, verification, { pinTenant: tenantId, enablePolling: true });
    const view = this.connectionView(orgId);
    if (!verification.ok) {
      return {
        httpStatus: 424,
        outcome: `verification_failed_${verification.error.reason}`,
        orgId,
        title: 'Consent was recorded, but the connection could not be verified',
        message: `${REASONS[verification.error.reason as keyof typeof REASONS]?.message ?? verification.error.message} ${REASONS[verification.error.reason as keyof typeof REASONS]?.remedy ?? ''}`.trim(),
      };
    }
    const polling = view.sources.filter((s) => s.state !== 'paused' && s.state !== 'stopped').length;
    const pendingText = view.pendingUpgrade ? ` Permissions still missing: ${view.pendingUpgrade.missingRoles.join(', ')}; the sources that need them are paused until an administrator approves the upgrade.` : '';
    return {
      httpStatus: 200,
      outcome: purpose === 'connect' ? 'connected' : purpose === 'repair' ? 'repaired' : 'upgrade_consented',
      orgId,
      title: 'Microsoft 365 is connected',
      message: `Tenant ${tenantId} is connected: ${polling} of ${SOURCES.length} sources are being collected. The first events usually arrive within minutes.${pendingText} You can close this page.`,
    };
  }

  // ---------------------------------------------------------------- verification

  private async acquireRoles(tenantId: string, cloud: Cloud): Promise<{ roles: string[]; tenantId: string; graphToken: string }> {
    const management = await this.o.tokens.acquire(tenantId, cloud, 'management', { fresh: true });
    const graph = await this.o.tokens.acquire(tenantId, cloud, 'graph', { fresh: true });
    for (const t of [management, graph]) {
      if (t.tenantId.toLowerCase() !== tenantId.toLowerCase()) {
        throw new TokenError(`token was issued for tenant ${t.tenantId}, not ${tenantId}`, 'tenant_mismatch', null, false);
      }
    }
    return { roles: unique([...management.roles, ...graph.roles]), tenantId, graphToken: graph.accessToken };
  }

  private async runVerification(tenantId: string, cloud: Cloud, orgId: string): Promise<VerificationOutcome> {
    const record = this.o.store.get(orgId);
    const autoUpgrade = record?.connection?.autoUpgrade ?? false;
    const manifest = manifestFor(this.o.manifestVersion);
    let acquired: Awaited<ReturnType<ConnectionService['acquireRoles']>>;
    try {
      acquired = await this.acquireRoles(tenantId, cloud);
    } catch (error) {
      const tokenError = error instanceof TokenError ? error : new TokenError((error as Error).message, 'microsoft_unavailable', null, true);
      this.o.metrics.verifications.inc({ outcome: tokenError.reason });
      return { ok: false, error: tokenError };
    }
    let diff = diffPermissions(manifest, autoUpgrade, acquired.roles);
    let upgrade: AssignRolesResult | null = null;
    const toAssign = diff.missing.filter((r) => !AUTO_UPGRADE_ROLES.some((a) => a.role === r));
    if (toAssign.length > 0 && diff.canAutoUpgrade) {
      upgrade = await assignMissingRoles({
        graphHost: this.o.clouds[cloud].graphHost,
        accessToken: acquired.graphToken,
        clientId: this.o.tokens.clientId,
        roles: toAssign,
        fetchImpl: this.fetchImpl,
      });
      for (const _ of upgrade.assigned) this.o.metrics.roleAssignments.inc({ outcome: 'assigned' });
      for (const _ of upgrade.alreadyAssigned) this.o.metrics.roleAssignments.inc({ outcome: 'already_assigned' });
      for (const _ of upgrade.failed) this.o.metrics.roleAssignments.inc({ outcome: 'failed' });
      // New roles appear only in new tokens; allow a little propagation time.
      const expected = [...upgrade.assigned, ...upgrade.alreadyAssigned];
      for (let attempt = 0; attempt < 4 && expected.length > 0; attempt++) {
        try {
          acquired = await this.acquireRoles(tenantId, cloud);
        } catch (error) {
          const tokenError = error instanceof TokenError ? error : new TokenError((error as Error).message, 'microsoft_unavailable', null, true);
          return { ok: false, error: tokenError };
        }
        if (expected.every((r) => acquired.roles.includes(r))) break;
        await sleep(this.o.propagationDelayMs ?? 1_000);
      }
      diff = diffPermissions(manifest, autoUpgrade, acquired.roles);
    }
    this.o.metrics.verifications.inc({ outcome: 'ok' });
    return { ok: true, tenantId, diff, upgrade };
  }

  private async applyVerification(
    orgId: string,
    actor: Actor,
    v: VerificationOutcome,
    options: { pinTenant?: string; enablePolling?: boolean } = {},
  ): Promise<void> {
    this.lastChecked.set(orgId, this.iso());
    await this.o.store.mutate(orgId, actor, (current) => {
      const connection = current?.connection;
      if (!current || !connection) return { record: undefined, result: undefined };
      const history: HistoryInput[] = [];
      const at = this.iso();
      const previous = current.controlPlane.verification;
      if (!v.ok) {
        const verification: Verification = { at, ok: false, reason: v.error.reason, message: v.error.message, aadsts: v.error.aadsts };
        if (!previous || previous.ok || previous.reason !== verification.reason) {
          history.push({ action: 'verification.failed', message: `verification failed: ${v.error.reason} (${v.error.message})`, detail: { reason: v.error.reason, aadsts: v.error.aadsts } });
        }
        current.controlPlane.verification = verification;
        // Keep the timestamp stable while nothing changes, so periodic checks do not rewrite the value.
        if (previous && !previous.ok && previous.reason === verification.reason) current.controlPlane.verification = previous;
      } else {
        const taken = options.pinTenant && !connection.tenantId ? this.o.store.findByTenant(options.pinTenant) : undefined;
        if (taken && taken.orgId !== orgId) {
          history.push({ action: 'consent.tenant_in_use', message: `tenant ${options.pinTenant} was connected to organization ${taken.orgId} meanwhile; not pinned` });
          return { record: current, history, result: undefined };
        }
        if (options.pinTenant && !connection.tenantId) {
          connection.tenantId = options.pinTenant;
          history.push({ action: 'connection.tenant_pinned', message: `tenant ${options.pinTenant} pinned`, detail: { tenantId: options.pinTenant } });
        }
        if (previous && !previous.ok) history.push({ action: 'verification.recovered', message: `verification succeeded again after ${previous.reason}` });
        current.controlPlane.verification = previous?.ok ? previous : { at, ok: true, reason: null, message: null, aadsts: null };
        const diff = v.diff;
        if (connection.manifestVersion !== this.o.manifestVersion) {
          history.push({
            action: 'manifest.changed',
            message: `permission manifest moved from version ${connection.manifestVersion} to ${this.o.manifestVersion}: ${manifestFor(this.o.manifestVersion).note}`,
            detail: { from: connection.manifestVersion, to: this.o.manifestVersion },
          });
          connection.manifestVersion = this.o.manifestVersion;
        }
        if (v.upgrade && (v.upgrade.assigned.length > 0 || v.upgrade.failed.length > 0)) {
          history.push({
            action: v.upgrade.failed.length === 0 ? 'upgrade.assigned' : 'upgrade.assignment_failed',
            message: `auto-upgrade assigned ${v.upgrade.assigned.join(', ') || 'nothing'}${v.upgrade.failed.length ? `; failed: ${v.upgrade.failed.map((f) => `${f.role} (${f.error})`).join('; ')}` : ''}`,
            detail: { assigned: v.upgrade.assigned, alreadyAssigned: v.upgrade.alreadyAssigned, failed: v.upgrade.failed },
          });
        }
        if (!sameSet(connection.grantedRoles, diff.granted)) {
          const added = diff.granted.filter((r) => !connection.grantedRoles.includes(r));
          const removed = connection.grantedRoles.filter((r) => !diff.granted.includes(r));
          history.push({ action: 'permissions.changed', message: `granted roles changed${added.length ? `; added ${added.join(', ')}` : ''}${removed.length ? `; removed ${removed.join(', ')}` : ''}`, detail: { added, removed } });
        }
        connection.requiredRoles = diff.required;
        connection.grantedRoles = diff.granted;
        const pending = current.controlPlane.pendingUpgrade;
        if (diff.missing.length > 0) {
          const why = !connection.autoUpgrade
            ? 'auto-upgrade is off: an administrator approves the upgrade through a new consent'
            : !diff.canAutoUpgrade
              ? 'auto-upgrade needs AppRoleAssignment.ReadWrite.All and Application.Read.All granted by consent first'
              : 'auto-upgrade could not assign every role (see history)';
          if (!pending || !sameSet(pending.missingRoles, diff.missing) || pending.why !== why) {
            current.controlPlane.pendingUpgrade = { missingRoles: diff.missing, manifestVersion: this.o.manifestVersion, requestedAt: pending?.requestedAt ?? at, why };
            history.push({ action: 'upgrade.pending', message: `permission upgrade pending: ${diff.missing.join(', ')} (${why})`, detail: { missingRoles: diff.missing } });
          }
        } else if (pending) {
          current.controlPlane.pendingUpgrade = null;
          history.push({ action: 'upgrade.completed', message: `permission upgrade completed: ${pending.missingRoles.join(', ')} granted` });
        }
        connection.polling = {
          ...connection.polling,
          enabled: options.enablePolling ? true : connection.polling.enabled,
          sources: diff.pollable,
          paused: diff.paused.map((p) => ({ source: p.source, reason: 'upgrade_pending', missingRoles: p.missingRoles })),
        };
        if (options.enablePolling && !connection.connectedAt) connection.connectedAt = at;
      }
      // The status written to the topic is the one computed now (the API computes it live).
      const computed = this.statusOf(current);
      if (connection.status !== computed.status && computed.status !== 'not_connected') {
        history.push({ action: 'status.changed', message: `status ${connection.status} → ${computed.status}${computed.reason ? ` (${computed.reason})` : ''}`, detail: { from: connection.status, to: computed.status, reason: computed.reason } });
        connection.status = computed.status;
      }
      return { record: current, history, result: undefined };
    });
  }

  /** Re-verifies one connected organization with fresh tokens and applies what it finds. */
  async verify(orgId: string, actor: Actor = SYSTEM_ACTOR): Promise<ConnectionView> {
    const record = this.require(orgId);
    const c = record.connection;
    if (!c?.tenantId || !c.connectedAt || c.status === 'disconnected') return this.connectionView(orgId);
    const v = await this.runVerification(c.tenantId, c.cloud, orgId);
    await this.applyVerification(orgId, actor, v);
    return this.connectionView(orgId);
  }

  /** Periodic re-verification of every connected organization, one at a time (bounded load on Entra). */
  async verifyAll(): Promise<void> {
    for (const record of this.o.store.list()) {
      const c = record.connection;
      if (!c?.tenantId || !c.connectedAt || c.status === 'disconnected') continue;
      try {
        await this.verify(record.orgId);
      } catch (error) {
        this.o.logger.error({ err: error, orgId: record.orgId }, 'verification of an organization failed');
      }
    }
    const counts = new Map<string, number>();
    for (const record of this.o.store.list()) {
      const status = record.connection ? this.statusOf(record).status : 'not_connected';
      counts.set(status, (counts.get(status) ?? 0) + 1);
    }
    this.o.metrics.connections.reset();
    for (const [status, n] of counts) this.o.metrics.connections.set({ status }, n);
  }
}
