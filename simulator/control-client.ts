import type { LicenceRefusalShape } from './graph/licence-refusals.ts';
import { Agent, request } from 'node:https';
import type { SourceName } from '../runtime/sources.ts';
import type { Fault, FaultSpec } from './faults.ts';
import type { ApiRequestLogEntry, TenantSettings } from './tenant-state.ts';
import type { EntraInstance } from './app-roles.ts';

/** A small typed client for the simulator's `/_sim/` control API (tests, demo). */

export interface TenantCreateRequest {
  name: string;
  domain?: string;
  tenantId?: string;
  cloud?: 'commercial' | 'gcc' | 'gcc-high' | 'dod';
  partner?: boolean;
  licences?: { entraP1?: boolean; entraP2?: boolean };
  auditLogging?: boolean;
  users?: number;
  recordsPerMinute?: number;
  publicationDelayMs?: [number, number];
  duplicateRate?: number;
  reserveRate?: number;
  outOfOrder?: boolean;
  recordsPerBlob?: number;
  contentPageSize?: number;
  graphThrottling?: boolean;
  managementRequestsPerMinute?: number;
  /** The form Graph's licence refusal takes (simulator/graph/licence-refusals.ts). */
  licenceRefusal?: LicenceRefusalShape;
  /** Days sign-in and audit logs are kept; null or absent = by licence (Free 7, P1/P2 30). */
  graphRetentionDays?: number | null;
  /** [service principal known, roles in tokens] after a consent, in ms (consent propagation). */
  consentPropagationMs?: [number, number];
  /** Audit Search API queries: ms notStarted, ms running, then this outcome (simulator/graph/audit-search.ts). */
  auditSearch?: { queuedMs: number; runningMs: number; outcome: 'succeeded' | 'failed' | 'cancelled' };
}

export type TenantPatchRequest = Partial<Omit<TenantCreateRequest, 'domain' | 'tenantId' | 'users'>>;

/** A tenant as the control API shows it: its settings, as the simulator holds them, and what follows from them. */
export interface SimTenant extends TenantSettings {
  tenantId: string;
  initialDomain: string;
  createdAt: string;
  adminAccount: string;
  servicePrincipal: { id: string; roles: string[]; consentedBy: string | null; createdAt: string } | null;
  consentRevoked: boolean;
  subscriptions: Array<{ contentType: string; status: string; webhook: unknown }>;
  /** /subscriptions/start requests per content type: answered, and refused for coming within 15 minutes of the last. */
  startRequests: Record<string, { answered: number; refused: number }>;
  endpoints: { authority: string; management: string; graph: string };
}

export type FaultRequest = FaultSpec;

export interface LedgerResponse {
  tenantId: string;
  source: SourceName;
  /** For records changed in place, one entry per version (`version` 0 = as first published, `updatedAt` its last change). */
  records: Array<{ id: string; availableAt: string; eventTime: string; contentId?: string; version?: number; updatedAt?: string }>;
  pending: number;
  notCollected: number;
  /** Graph reports: records past the tenant's retention, no longer served. */
  expired: number;
}

export interface AppInfo {
  instance: EntraInstance;
  clientId: string;
  clientSecret: string;
  secretExpired: boolean;
  displayName: string;
  requiredRoles: string[];
  redirectUris: string[];
  certificate: { certPem: string; privateKeyPem: string; thumbprint: string; thumbprintSha256: string };
}

export class SimulatorControlError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`simulator control API answered ${status}: ${JSON.stringify(body)}`);
    this.name = 'SimulatorControlError';
  }
}

export class SimulatorControl {
  private readonly agent: Agent;

  /** `ca` is the simulator CA (PEM); omit when NODE_EXTRA_CA_CERTS already trusts it. */
  constructor(
    readonly baseUrl: string,
    ca?: string,
  ) {
    this.agent = new Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(`/_sim${path}`, this.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        { method, agent: this.agent, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const parsed: unknown = text ? JSON.parse(text) : undefined;
            if ((res.statusCode ?? 500) >= 400) reject(new SimulatorControlError(res.statusCode ?? 500, parsed));
            else resolve(parsed as T);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  createTenant(body: TenantCreateRequest): Promise<SimTenant> {
    return this.call('POST', '/tenants', body);
  }
  listTenants(): Promise<SimTenant[]> {
    return this.call('GET', '/tenants');
  }
  getTenant(tenantId: string): Promise<SimTenant> {
    return this.call('GET', `/tenants/${tenantId}`);
  }
  patchTenant(tenantId: string, patch: TenantPatchRequest): Promise<SimTenant> {
    return this.call('PATCH', `/tenants/${tenantId}`, patch);
  }
  deleteTenant(tenantId: string): Promise<void> {
    return this.call('DELETE', `/tenants/${tenantId}`);
  }
  /** Grants roles as an accepted admin consent would (default: every role the app declares). */
  grantConsent(tenantId: string, roles?: string[]): Promise<SimTenant> {
    return this.call('POST', `/tenants/${tenantId}/consent`, roles ? { roles } : {});
  }
  /** Removes the app's service principal from the tenant (consent revoked). */
  revokeConsent(tenantId: string): Promise<void> {
    return this.call('DELETE', `/tenants/${tenantId}/consent`);
  }
  /** Records whose events happen now; with `eventsSpanMs`, history spread over that span before now, available at once. */
  addRecords(
    tenantId: string,
    source: SourceName,
    count: number,
    options: { eventsSpanMs?: number; recordBytes?: number; prerender?: boolean } = {},
  ): Promise<{ source: SourceName; count: number; firstIndex: number; availableAt: string }> {
    return this.call('POST', `/tenants/${tenantId}/records`, { source, count, ...options });
  }
  /** Changes records in place (risk detections, Defender alerts and incidents): a new version of each, published later. */
  updateRecords(
    tenantId: string,
    source: SourceName,
    firstIndex: number,
    options: { count?: number; state?: string } = {},
  ): Promise<{ source: SourceName; firstIndex: number; count: number; updatedAt: string; availableAt: string }> {
    return this.call('POST', `/tenants/${tenantId}/updates`, { source, firstIndex, ...options });
  }
  disableSubscription(tenantId: string, contentType: string): Promise<SimTenant> {
    return this.call('POST', `/tenants/${tenantId}/subscriptions/${contentType}/disable`, {});
  }
  injectFault(fault: FaultRequest): Promise<{ id: string }> {
    return this.call('POST', '/faults', fault);
  }
  /** Active faults, with how often each was applied. */
  listFaults(): Promise<Fault[]> {
    return this.call('GET', '/faults');
  }
  clearFault(id: string): Promise<void> {
    return this.call('DELETE', `/faults/${id}`);
  }
  /** Expires (or renews) the client secret of one Entra instance's registration (default: the global one). */
  setSecretExpired(expired: boolean, instance?: EntraInstance): Promise<{ clientId: string; clientSecret: string; expired: boolean }> {
    return this.call('POST', `/app/secret${instanceQuery(instance)}`, { expired });
  }
  getApp(instance?: EntraInstance): Promise<AppInfo> {
    return this.call('GET', `/app${instanceQuery(instance)}`);
  }
  /** Changes one instance's registration, or every registration when no instance is named. */
  patchApp(patch: { requiredRoles?: string[]; redirectUris?: string[] }, instance?: EntraInstance): Promise<AppInfo> {
    return this.call('PATCH', `/app${instanceQuery(instance)}`, patch);
  }
  /** Moves the simulator clock forward (it never goes back). */
  advanceClock(advanceMs: number): Promise<{ now: string }> {
    return this.call('POST', '/clock', { advanceMs });
  }
  ledger(tenantId: string, source: SourceName): Promise<LedgerResponse> {
    return this.call('GET', `/tenants/${tenantId}/ledger?source=${encodeURIComponent(source)}`);
  }
  /** Graph requests the tenant answered by `<version> <path>`, and 429s its documented service limits gave. */
  requests(tenantId: string): Promise<{ graph: Record<string, number>; limitThrottled: Record<string, number> }> {
    return this.call('GET', `/tenants/${tenantId}/requests`);
  }
  /** The tenant's Management API and Graph requests, oldest first, on the simulator's clock. */
  requestLog(tenantId: string): Promise<{ tenantId: string; requests: ApiRequestLogEntry[] }> {
    return this.call('GET', `/tenants/${tenantId}/request-log`);
  }
  close(): void {
    this.agent.destroy();
  }
}

function instanceQuery(instance: EntraInstance | undefined): string {
  return instance ? `?instance=${instance}` : '';
}
