import { randomUUID } from 'node:crypto';
import { MANAGEMENT_SOURCES, SOURCES } from '../runtime/sources.ts';
import type { SourceName } from '../runtime/sources.ts';
import type { Cloud, EntraInstance, ResourceKind } from './app-roles.ts';
import { DEFAULT_REQUIRED_ROLES, ENTRA_INSTANCE_OF, ENTRA_INSTANCES, resourceOfRole } from './app-roles.ts';
import type { AppCertificate } from './certificate-authority.ts';
import { Rng, uuidFor } from './deterministic.ts';
import { Feed } from './feeds.ts';
import type { BlobPolicy } from './feeds.ts';
import type { SimUser } from './records/directory-people.ts';
import { buildUsers } from './records/directory-people.ts';
import type { GraphRecordContext } from './records/graph-records.ts';
import type { LicenceRefusalShape } from './graph/licence-refusals.ts';
import type { ManagementRecordContext } from './records/management-records.ts';

/** All mutable state of one simulator instance (several instances may live in one process). */

/**
 * One request a tenant's Management Activity API or Graph received (after its token named the tenant), on the
 * simulator's clock: when it arrived and when its answer was sent (or the connection ended). What tests measure
 * a client's pacing with (a pause after throttling), free of the client's own clock and of other tenants.
 */
export interface ApiRequestLogEntry {
  api: 'management' | 'graph';
  method: string;
  /** The path without the query (no tokens or secrets are in either). */
  path: string;
  receivedAtMs: number;
  answeredAtMs: number | null;
  /** HTTP status sent; null until answered. */
  status: number | null;
  /** The injected fault that shaped the answer, if any. */
  fault: string | null;
}

/** Entries kept per tenant (oldest dropped first): enough for a test's window, bounded for long runs. */
const REQUEST_LOG_ENTRIES = 5_000;

export interface Licences {
  entraP1: boolean;
  entraP2: boolean;
}

export interface TenantSettings {
  name: string;
  domain: string;
  cloud: Cloud;
  partner: boolean;
  licences: Licences;
  auditLogging: boolean;
  users: number;
  /** Records generated per minute for each source, continuously. */
  recordsPerMinute: number;
  publicationDelayMs: [number, number];
  duplicateRate: number;
  reserveRate: number;
  outOfOrder: boolean;
  recordsPerBlob: number;
  contentPageSize: number;
  /** Enforce Graph's documented service limits (reports 5/10 s, identity protection 1/s). */
  graphThrottling: boolean;
  /** Management Activity API per-tenant request quota per minute (AF429 beyond it). */
  managementRequestsPerMinute: number;
  /** Which documented or reported form Graph's licence refusal takes for this tenant. */
  licenceRefusal: LicenceRefusalShape;
  /**
   * Days Entra keeps sign-in and audit logs: Free 7, P1/P2 30 (Entra "data retention"); null = by licence. Older
   * Graph records are not served.
   */
  graphRetentionDays: number | null;
  /**
   * Replication of a fresh consent to the token service, in ms after consent: [service principal known, roles in
   * tokens]. Before the first the token endpoint answers AADSTS700016; before the second tokens carry no new roles.
   * Microsoft documents no bound ("can take some time"); the default is a few seconds, tests set more or none.
   */
  consentPropagationMs: [number, number];
  /**
   * Audit Search API queries (Graph security/auditLog/queries): ms queued (notStarted), ms running, then the outcome.
   * Microsoft documents no duration; real queries take minutes, tests keep them short.
   */
  auditSearch: { queuedMs: number; runningMs: number; outcome: 'succeeded' | 'failed' | 'cancelled' };
}

export interface ServicePrincipal {
  id: string;
  createdAt: string;
  /** Granted application roles (role values) per resource kind. */
  roles: Record<ResourceKind, Set<string>>;
  /** appRoleAssignment ids per role value, and when the role reaches tokens (consent propagation). */
  assignmentIds: Map<string, { id: string; createdDateTime: string; visibleAtMs: number }>;
  /** When the token service knows this service principal (consent propagation). */
  visibleAtMs: number;
  consentedBy?: string;
}

/** An authorization code of the OpenID Connect sign-in, redeemable once within 10 minutes. */
export interface SignInGrant {
  clientId: string;
  redirectUri: string;
  nonce: string | null;
  scopes: string[];
  upn: string;
  /** The tenant the user signed in to (`tid`); the account's home tenant is `homeTenantId`. */
  tenantId: string;
  homeTenantId: string;
  expiresAtMs: number;
  redeemed: boolean;
}

export interface Subscription {
  contentType: string;
  status: 'enabled' | 'disabled';
  webhook: { status: string; address: string; authId: string | null; expiration: string | null } | null;
  enabledSinceMs: number;
  /** Intervals during which content was being collected. */
  intervals: Array<{ fromMs: number; toMs: number | null }>;
  lastStartMs: number;
}

export interface AppRegistration {
  /** The Entra instance the application is registered in; only that instance's tenants can consent to it. */
  instance: EntraInstance;
  clientId: string;
  clientSecret: string;
  secretId: string;
  secretExpired: boolean;
  certificate: AppCertificate;
  displayName: string;
  requiredRoles: string[];
  redirectUris: string[];
}

export const DEFAULT_TENANT_SETTINGS: Omit<TenantSettings, 'name' | 'domain'> = {
  cloud: 'commercial',
  partner: false,
  licences: { entraP1: true, entraP2: true },
  auditLogging: true,
  users: 25,
  recordsPerMinute: 0,
  publicationDelayMs: [2000, 5000],
  duplicateRate: 0,
  reserveRate: 0,
  outOfOrder: false,
  recordsPerBlob: 100,
  contentPageSize: 200,
  graphThrottling: true,
  managementRequestsPerMinute: 2000,
  licenceRefusal: 'documented',
  graphRetentionDays: null,
  consentPropagationMs: [2000, 5000],
  auditSearch: { queuedMs: 1000, runningMs: 2000, outcome: 'succeeded' },
};

const WORKLOAD_CODE: Record<string, string> = {
  'Audit.AzureActiveDirectory': 'aad',
  'Audit.Exchange': 'exo',
  'Audit.SharePoint': 'spo',
  'Audit.General': 'gen',
  'DLP.All': 'dlp',
};

export class Tenant {
  readonly users: SimUser[];
  readonly feeds = new Map<SourceName, Feed>();
  readonly subscriptions = new Map<string, Subscription>();
  /** /subscriptions/start requests per content type: answered, refused for asking within 15 minutes, and the last answered. */
  readonly startRequests = new Map<string, { answered: number; refused: number; lastMs: number | null }>();
  servicePrincipal: ServicePrincipal | null = null;
  /** Set when a service principal existed and was removed (consent revoked / enterprise app deleted). */
  revokedConsent = false;
  readonly createdAtMs: number;
  private readonly requestLog = new Map<string, number[]>();
  /**
   * Graph requests answered, by `<version> <path>`, and the 429s the service limits (not injected faults) gave,
   * by limit: what tests read to prove which endpoint a poller asked and that its own rate drew no throttling.
   */
  readonly graphRequests = new Map<string, number>();
  readonly limitThrottled = new Map<string, number>();
  readonly apiRequestLog: ApiRequestLogEntry[] = [];
  private batchCounter = 0;

  constructor(
    readonly seed: string,
    readonly tenantId: string,
    public settings: TenantSettings,
    now: number,
  ) {
    this.createdAtMs = now;
    this.users = buildUsers(seed, tenantId, settings.domain, settings.users);
    for (const source of SOURCES) {
      const contentType = source.startsWith('management:') ? source.slice('management:'.length) : source;
      const tid = tenantId.replace(/-/g, '');
      const code = WORKLOAD_CODE[contentType] ?? 'gen';
      this.feeds.set(
        source,
        new Feed(
          `${seed}|${tenantId}|${source}`,
          (createdMs, seq) => {
            const secs = Math.floor(createdMs / 1000);
            const stamp = new Date(createdMs).toISOString().slice(0, 13).replace(/[-T]/g, '');
            const rng = new Rng(`${seed}|${tenantId}|${source}|cid|${seq}`);
            return `${secs}$${secs}$${tid}${code}${stamp}$${rng.hex(32)}$${String(seq % 100).padStart(2, '0')}`;
          },
          now,
        ),
      );
    }
  }

  get adminAccount(): SimUser {
    const admin = this.users[0];
    if (!admin) throw new Error('tenant without users');
    return admin;
  }

  managementContext(): ManagementRecordContext {
    return { seed: this.seed, tenantId: this.tenantId, domain: this.settings.domain, users: this.users };
  }

  graphContext(): GraphRecordContext {
    return {
      seed: this.seed,
      tenantId: this.tenantId,
      domain: this.settings.domain,
      users: this.users,
      entraP1: this.settings.licences.entraP1 || this.settings.licences.entraP2,
      entraP2: this.settings.licences.entraP2,
    };
  }

  feed(source: SourceName): Feed {
    const feed = this.feeds.get(source);
    if (!feed) throw new Error(`unknown source ${source}`);
    return feed;
  }

  private publicationDelay(key: string): number {
    const [min, max] = this.settings.publicationDelayMs;
    return min + Math.floor(new Rng(key).next() * Math.max(0, max - min + 1));
  }

  private blobPolicy(source: SourceName): BlobPolicy | undefined {
    if (!(MANAGEMENT_SOURCES as readonly string[]).includes(source)) return undefined;
    return {
      recordsPerBlob: this.settings.recordsPerBlob,
      duplicateRate: this.settings.duplicateRate,
      reserveRate: this.settings.reserveRate,
      outOfOrder: this.settings.outOfOrder,
    };
  }

  /**
   * Records whose events happen now, published after the tenant's publication delay; with `eventsSpanMs`, the
   * history a tenant already has when it is connected: events spread over that span before now, all available now.
   */
  addRecords(
    source: SourceName,
    count: number,
    now: number,
    options: { eventsSpanMs?: number; recordBytes?: number } = {},
  ): { firstIndex: number; count: number; availableAtMs: number } {
    const seq = this.batchCounter++;
    const span = options.eventsSpanMs;
    const availableAtMs = span === undefined ? now + this.publicationDelay(`${this.seed}|${this.tenantId}|${source}|delay|${seq}`) : now;
    const batch = this.feed(source).addBatch(
      count,
      now - (span ?? 30_000),
      now,
      availableAtMs,
      this.settings.outOfOrder,
      this.blobPolicy(source),
      options.recordBytes,
    );
    return { firstIndex: batch.firstIndex, count, availableAtMs };
  }

  /**
   * A later change of records Microsoft updates in place: each of `count` records from `firstIndex` gets its
   * last-update time moved to now and its state changed (to `state`, or the source's next documented state),
   * published after the tenant's publication delay like any record.
   */
  updateRecords(source: SourceName, firstIndex: number, count: number, now: number, state: string | null): { availableAtMs: number } {
    const feed = this.feed(source);
    if (firstIndex < 0 || firstIndex + count > feed.nextIndex)
      throw new RangeError(`records ${firstIndex}..${firstIndex + count - 1} do not exist in ${source}`);
    const availableAtMs = now + this.publicationDelay(`${this.seed}|${this.tenantId}|${source}|update|${this.batchCounter++}`);
    for (let i = firstIndex; i < firstIndex + count; i++) feed.addUpdate(i, { atMs: now, availableAtMs, state });
    return { availableAtMs };
  }

  /** Materialises the minute buckets of continuous generation up to `now` (lazily, on access). */
  advance(now: number): void {
    const rate = this.settings.recordsPerMinute;
    for (const [source, feed] of this.feeds) {
      if (rate <= 0) {
        feed.rateCursorMs = Math.max(feed.rateCursorMs, now - (now % 60_000));
        continue;
      }
      // never catch up more than 7 days
      let cursor = Math.max(feed.rateCursorMs, now - 7 * 24 * 3600_000);
      while (cursor + 60_000 <= now) {
        const end = cursor + 60_000;
        const seq = Math.floor(end / 60_000);
        const delay = this.publicationDelay(`${this.seed}|${this.tenantId}|${source}|rate|${seq}`);
        feed.addBatch(rate, cursor, end, Math.max(now, end + delay), this.settings.outOfOrder, this.blobPolicy(source));
        cursor = end;
      }
      feed.rateCursorMs = cursor;
    }
  }

  /** Entra's retention of sign-in and audit logs for this tenant: 30 days with P1/P2, 7 on Free. */
  get graphRetentionMs(): number {
    const lic = this.settings.licences;
    const days = this.settings.graphRetentionDays ?? (lic.entraP1 || lic.entraP2 ? 30 : 7);
    return days * 24 * 3_600_000;
  }

  hasRole(kind: ResourceKind, role: string): boolean {
    return this.servicePrincipal?.roles[kind].has(role) ?? false;
  }

  ensureServicePrincipal(seed: string, now: number, visibleAtMs = now): ServicePrincipal {
    if (!this.servicePrincipal) {
      this.servicePrincipal = {
        id: uuidFor(`${seed}|${this.tenantId}|sp|${now}|${randomUUID()}`),
        createdAt: new Date(now).toISOString(),
        roles: { management: new Set(), graph: new Set() },
        assignmentIds: new Map(),
        visibleAtMs,
      };
    }
    return this.servicePrincipal;
  }

  /** Grants roles; with `propagate`, as a consent does: visible to the token service only after the tenant's delay. */
  grantRoles(roles: readonly string[], now: number, options: { propagate?: boolean } = {}): void {
    const [spDelay, rolesDelay] = options.propagate ? this.settings.consentPropagationMs : [0, 0];
    const sp = this.ensureServicePrincipal(this.seed, now, now + spDelay);
    for (const role of roles) {
      const resource = resourceOfRole(role);
      if (!resource) continue;
      sp.roles[resource.kind].add(role);
      if (!sp.assignmentIds.has(role)) {
        sp.assignmentIds.set(role, { id: new Rng(`${sp.id}|${role}`).hex(43), createdDateTime: new Date(now).toISOString(), visibleAtMs: now + rolesDelay });
      }
    }
  }

  countGraphRequest(version: string, path: string): void {
    const key = `${version} ${path}`;
    this.graphRequests.set(key, (this.graphRequests.get(key) ?? 0) + 1);
  }

  /** Logs a request as it arrives; the caller fills in the answer (`answered`) once it was sent. */
  logApiRequest(api: ApiRequestLogEntry['api'], method: string, path: string, now: number): ApiRequestLogEntry {
    const entry: ApiRequestLogEntry = { api, method, path, receivedAtMs: now, answeredAtMs: null, status: null, fault: null };
    this.apiRequestLog.push(entry);
    if (this.apiRequestLog.length > REQUEST_LOG_ENTRIES) this.apiRequestLog.splice(0, this.apiRequestLog.length - REQUEST_LOG_ENTRIES);
    return entry;
  }

  countLimitThrottled(limit: string): void {
    this.limitThrottled.set(limit, (this.limitThrottled.get(limit) ?? 0) + 1);
  }

  /** The roles of one resource that tokens issued at `now` carry (granted and propagated). */
  tokenRoles(kind: ResourceKind, now: number): string[] {
    const sp = this.servicePrincipal;
    if (!sp) return [];
    return [...sp.roles[kind]].filter((r) => (sp.assignmentIds.get(r)?.visibleAtMs ?? 0) <= now).sort();
  }

  /** Sliding-window rate limiter; returns ms to wait when the limit is exceeded, else 0 (and records the call). */
  rateLimit(key: string, limit: number, windowMs: number, now: number): number {
    let log = this.requestLog.get(key);
    if (!log) {
      log = [];
      this.requestLog.set(key, log);
    }
    while (log.length > 0 && (log[0] as number) <= now - windowMs) log.shift();
    if (log.length >= limit) return (log[0] as number) + windowMs - now;
    log.push(now);
    return 0;
  }
}

export class SimulatorState {
  readonly tenants = new Map<string, Tenant>();
  /** The connector's registration in each Entra instance (registered separately in each, as Microsoft requires). */
  readonly registrations: Readonly<Record<EntraInstance, AppRegistration>>;
  /** Authorization codes of OpenID Connect sign-ins. */
  readonly signIns = new Map<string, SignInGrant>();
  /** Browser sessions of the sign-in pages (the ESTSAUTH cookie's role): session id → account. */
  readonly sessions = new Map<string, string>();

  constructor(
    readonly seed: string,
    certificate: AppCertificate,
    readonly now: () => number = Date.now,
  ) {
    const register = (instance: EntraInstance): AppRegistration => {
      // The global registration keeps the seed names it always had, so existing client ids stay stable.
      const suffix = instance === 'global' ? '' : `|${instance}`;
      const rng = new Rng(`${seed}|app-secret${suffix}`);
      return {
        instance,
        clientId: uuidFor(`${seed}|app${suffix}`),
        clientSecret: `Sim8Q~${rng.hex(34)}`,
        secretId: rng.uuid(),
        secretExpired: false,
        // One certificate uploaded to both registrations, as an ISV may do.
        certificate,
        displayName: 'm365-siem connector',
        requiredRoles: [...DEFAULT_REQUIRED_ROLES],
        redirectUris: [],
      };
    };
    this.registrations = Object.fromEntries(ENTRA_INSTANCES.map((i) => [i, register(i)])) as Record<EntraInstance, AppRegistration>;
  }

  /** The registration a tenant of `cloud` knows: the one in its own Entra instance. */
  registrationFor(cloud: Cloud): AppRegistration {
    return this.registrations[ENTRA_INSTANCE_OF[cloud]];
  }

  /**
   * The registration `clientId` names, as the directory of `tenant` sees it: only a registration of the tenant's own
   * Entra instance exists there. Without a tenant (`/organizations`, a code redemption) any instance's.
   */
  findRegistration(clientId: string, tenant?: Tenant): AppRegistration | undefined {
    const key = clientId.toLowerCase();
    const app = Object.values(this.registrations).find((r) => r.clientId === key);
    if (!app || (tenant && app.instance !== ENTRA_INSTANCE_OF[tenant.settings.cloud])) return undefined;
    return app;
  }

  createTenant(settings: TenantSettings, tenantId?: string): Tenant {
    const id = tenantId ?? uuidFor(`${this.seed}|tenant|${settings.domain}|${this.tenants.size}`);
    const tenant = new Tenant(this.seed, id, settings, this.now());
    this.tenants.set(id, tenant);
    return tenant;
  }

  /** Resolves a tenant by GUID, initial `*.onmicrosoft.com` domain or custom domain (case-insensitive). */
  resolveTenant(idOrDomain: string): Tenant | undefined {
    const key = idOrDomain.toLowerCase();
    const byId = this.tenants.get(key);
    if (byId) return byId;
    for (const t of this.tenants.values()) {
      const domain = t.settings.domain.toLowerCase();
      const initial = `${domain.split('.')[0]}.onmicrosoft.com`;
      if (domain === key || initial === key) return t;
    }
    return undefined;
  }

  /** All accounts that can sign in to the consent page: each tenant's global administrator. */
  accounts(): Array<{ userPrincipalName: string; tenant: Tenant }> {
    return [...this.tenants.values()].map((t) => ({ userPrincipalName: t.adminAccount.userPrincipalName, tenant: t }));
  }

  accountByUpn(upn: string): { user: SimUser; tenant: Tenant } | undefined {
    const key = upn.toLowerCase();
    for (const t of this.tenants.values()) {
      const user = t.users.find((u) => u.userPrincipalName.toLowerCase() === key);
      if (user) return { user, tenant: t };
    }
    return undefined;
  }
}
