import type { ServerResponse } from 'node:http';
import { MANAGEMENT_SOURCES } from '../../runtime/sources.ts';
import { uuidFor } from '../deterministic.ts';
import type { SimRequest } from '../http.ts';
import { queryParam, sendJson } from '../http.ts';
import type { ManagementContentType } from '../records/management-records.ts';
import { generateManagementRecord } from '../records/management-records.ts';
import type { Tenant } from '../tenant-state.ts';
import { GraphError } from './graph-errors.ts';

/**
 * Microsoft Purview Audit Search API in Graph (`/security/auditLog/queries`, v1.0 and beta): asynchronous queries over
 * the unified audit log, the same records the Management Activity API serves (same `Id`), wrapped in auditLogRecord.
 * Sources (microsoft-graph-docs-contrib, api-reference/v1.0 and beta):
 * - api/security-auditcoreroot-post-auditlogqueries.md: POST answers 201 with the auditLogQuery; filters optional.
 * - resources/security-auditlogquery.md: status notStarted | running | succeeded | failed | cancelled; recordCountLimit,
 *   isRecordCountLimitExceeded, approximateReturnedRecordCount.
 * - api/security-auditlogquery-get.md, api/security-auditlogquery-list-records.md: GET the query, GET its records
 *   (paged, @odata.nextLink).
 * - resources/security-auditlogrecord.md: id, createdDateTime, auditLogRecordType, operation, organizationId, userType,
 *   userId, service, objectId, userPrincipalName, clientIp, administrativeUnits, auditData (the audit record itself).
 * - includes/global-only.md on every page: global service only, not US Government L4 / L5 (DOD) nor 21Vianet.
 * - Permissions per Microsoft 365 service (AuditLogsQuery-Entra/-Exchange/-SharePoint/-OneDrive/-Endpoint/-CRM.Read.All)
 *   or AuditLogsQuery.Read.All for all audit logs: a workload role sees only its service's records.
 * - concepts/throttling-limits.md "Security audit log query service limits": a baseline of at least 200 query
 *   submissions per tenant per rolling 24 h, at least 50 queued or running queries, at least 1,000,000 records a query.
 * Audit (Standard) keeps records 180 days (Microsoft Purview "Audit log retention policies").
 */

export const AUDIT_SEARCH_ALL_ROLE = 'AuditLogsQuery.Read.All';

/** Which Workload each per-service role reads (the permission tables' "Microsoft 365 service" column). */
const WORKLOAD_ROLES: Record<string, readonly string[]> = {
  'AuditLogsQuery-Entra.Read.All': ['AzureActiveDirectory'],
  'AuditLogsQuery-Exchange.Read.All': ['Exchange'],
  'AuditLogsQuery-SharePoint.Read.All': ['SharePoint'],
  'AuditLogsQuery-OneDrive.Read.All': ['OneDrive'],
  'AuditLogsQuery-Endpoint.Read.All': ['Endpoint'],
  'AuditLogsQuery-CRM.Read.All': ['CRM'],
};

export const AUDIT_SEARCH_LIMITS = { submissionsPerDay: 200, unfinishedQueries: 50, recordsPerQuery: 1_000_000 } as const;
export const AUDIT_STANDARD_RETENTION_MS = 180 * 24 * 3_600_000;
/** The page size of the records list is not documented; this one keeps paging visible in tests. */
export const AUDIT_RECORDS_PAGE_SIZE = 150;

/** Management RecordType numbers (Office 365 Management Activity API schema) → auditLogRecordType values. */
const RECORD_TYPES: Record<number, string> = {
  1: 'exchangeAdmin',
  2: 'exchangeItem',
  3: 'exchangeItemGroup',
  4: 'sharePoint',
  6: 'sharePointFileOperation',
  7: 'oneDrive',
  8: 'azureActiveDirectory',
  9: 'azureActiveDirectoryAccountLogon',
  11: 'complianceDLPSharePoint',
  13: 'complianceDLPExchange',
  14: 'sharePointSharingOperation',
  15: 'azureActiveDirectoryStsLogon',
  20: 'powerBIAudit',
  25: 'microsoftTeams',
  40: 'securityComplianceAlerts',
  50: 'exchangeItemAggregated',
};

/** Management UserType numbers → the auditLogUserType values. */
const USER_TYPES = [
  'regular',
  'reserved',
  'admin',
  'dcAdmin',
  'system',
  'application',
  'servicePrincipal',
  'customPolicy',
  'systemPolicy',
  'partnerTechnician',
  'guest',
];

export type AuditQueryStatus = 'notStarted' | 'running' | 'succeeded' | 'failed' | 'cancelled';

interface AuditQuery {
  id: string;
  body: Record<string, unknown>;
  createdMs: number;
  startMs: number;
  doneMs: number;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  fromMs: number;
  toMs: number;
  workloads: readonly string[] | 'all';
}

interface RecordRef {
  contentType: ManagementContentType;
  index: number;
  eventMs: number;
}

/** A query's status at `now`: notStarted while queued, running, then its outcome. */
export function queryStatusAt(q: Pick<AuditQuery, 'startMs' | 'doneMs' | 'outcome'>, now: number): AuditQueryStatus {
  if (now < q.startMs) return 'notStarted';
  if (now < q.doneMs) return 'running';
  return q.outcome;
}

/** The workloads a token's roles may read, `all` with AuditLogsQuery.Read.All, null with no audit query role. */
export function readableWorkloads(roles: readonly string[]): readonly string[] | 'all' | null {
  if (roles.includes(AUDIT_SEARCH_ALL_ROLE)) return 'all';
  const workloads = roles.flatMap((r) => WORKLOAD_ROLES[r] ?? []);
  return workloads.length > 0 ? workloads : null;
}

export class AuditSearchApi {
  private readonly queries = new Map<string, Map<string, AuditQuery>>();
  private readonly submissions = new Map<string, number[]>();
  private seq = 0;

  constructor(private readonly seed: string) {}

  /** `path` is below `security/auditLog/`. */
  async handle(req: SimRequest, res: ServerResponse, tenant: Tenant, roles: readonly string[], path: string, base: string, now: number): Promise<void> {
    const cloud = tenant.settings.cloud;
    // "This API is available in the following national cloud deployments: Global service" only.
    if (cloud === 'gcc-high' || cloud === 'dod') throw new GraphError(400, 'BadRequest', 'Request not applicable to target tenant.');
    const workloads = readableWorkloads(roles);
    if (!workloads) throw new GraphError(403, 'Forbidden', 'Missing role permissions on the request. API requires one of the AuditLogsQuery permissions.');
    const m = /^queries(?:\/([^/]+)(\/records)?)?$/.exec(path);
    if (!m) throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${path.split('/')[0] ?? ''}'.`);
    const [, id, records] = m;
    if (!id && req.method === 'POST') return this.create(req, res, tenant, workloads, base, now);
    if (!id && req.method === 'GET') {
      const value = [...this.tenantQueries(tenant).values()].map((q) => this.render(q, tenant, now));
      return sendJson(res, 200, { '@odata.context': `${base}/$metadata#security/auditLog/queries`, value });
    }
    if (id && req.method === 'GET') {
      const q = this.tenantQueries(tenant).get(id);
      if (!q) throw new GraphError(404, 'NotFound', `The audit log query '${id}' was not found.`);
      if (!records) return sendJson(res, 200, { '@odata.context': `${base}/$metadata#security/auditLog/queries/$entity`, ...this.render(q, tenant, now) });
      return this.records(req, res, tenant, q, base, now);
    }
    throw new GraphError(405, 'MethodNotAllowed', `The ${req.method} method is not allowed on this resource.`);
  }

  private tenantQueries(tenant: Tenant): Map<string, AuditQuery> {
    const known = this.queries.get(tenant.tenantId);
    if (known) return known;
    const created = new Map<string, AuditQuery>();
    this.queries.set(tenant.tenantId, created);
    return created;
  }

  private async create(req: SimRequest, res: ServerResponse, tenant: Tenant, workloads: readonly string[] | 'all', base: string, now: number): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await req.body()).toString('utf8')) as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      throw new GraphError(400, 'BadRequest', 'Invalid request body: expected a JSON auditLogQuery object.');
    }
    const fromMs = parseTime(body, 'filterStartDateTime') ?? now - AUDIT_STANDARD_RETENTION_MS;
    const toMs = parseTime(body, 'filterEndDateTime') ?? now;
    if (fromMs > toMs) throw new GraphError(400, 'BadRequest', 'filterStartDateTime must not be later than filterEndDateTime.');
    this.admit(tenant, now);
    const { queuedMs, runningMs, outcome } = tenant.settings.auditSearch;
    const q: AuditQuery = {
      id: uuidFor(`${this.seed}|${tenant.tenantId}|auditLogQuery|${this.seq++}|${now}`),
      body,
      createdMs: now,
      startMs: now + queuedMs,
      doneMs: now + queuedMs + runningMs,
      outcome,
      fromMs,
      toMs,
      workloads,
    };
    this.tenantQueries(tenant).set(q.id, q);
    sendJson(res, 201, { '@odata.context': `${base}/$metadata#security/auditLog/queries/$entity`, ...this.render(q, tenant, now) });
  }

  /** The documented baseline limits: submissions per rolling 24 h and queries not yet finished, per tenant. */
  private admit(tenant: Tenant, now: number): void {
    const recent = (this.submissions.get(tenant.tenantId) ?? []).filter((t) => t > now - 24 * 3_600_000);
    const unfinished = [...this.tenantQueries(tenant).values()].filter((q) => q.doneMs > now).length;
    if (recent.length >= AUDIT_SEARCH_LIMITS.submissionsPerDay || unfinished >= AUDIT_SEARCH_LIMITS.unfinishedQueries) {
      const oldest = recent[0] ?? now;
      const wait = unfinished >= AUDIT_SEARCH_LIMITS.unfinishedQueries ? 60 : Math.ceil((oldest + 24 * 3_600_000 - now) / 1000);
      throw new GraphError(429, 'TooManyRequests', 'Too many requests.', { 'Retry-After': String(Math.max(1, wait)) });
    }
    recent.push(now);
    this.submissions.set(tenant.tenantId, recent);
  }

  private render(q: AuditQuery, tenant: Tenant, now: number): Record<string, unknown> {
    const status = queryStatusAt(q, now);
    const count = status === 'succeeded' ? Math.min(this.matching(q, tenant).length, AUDIT_SEARCH_LIMITS.recordsPerQuery) : 0;
    return {
      '@odata.type': '#microsoft.graph.security.auditLogQuery',
      id: q.id,
      displayName: typeof q.body.displayName === 'string' ? q.body.displayName : null,
      filterStartDateTime: new Date(q.fromMs).toISOString(),
      filterEndDateTime: new Date(q.toMs).toISOString(),
      recordTypeFilters: stringList(q.body.recordTypeFilters),
      keywordFilter: typeof q.body.keywordFilter === 'string' ? q.body.keywordFilter : null,
      serviceFilters: stringList(q.body.serviceFilters),
      operationFilters: stringList(q.body.operationFilters),
      userPrincipalNameFilters: stringList(q.body.userPrincipalNameFilters),
      ipAddressFilters: stringList(q.body.ipAddressFilters),
      objectIdFilters: stringList(q.body.objectIdFilters),
      administrativeUnitIdFilters: stringList(q.body.administrativeUnitIdFilters),
      status,
      approximateReturnedRecordCount: count,
      isRecordCountLimitExceeded: false,
      recordCountLimit: AUDIT_SEARCH_LIMITS.recordsPerQuery,
    };
  }

  /** Records in the unified audit log when the query ran: published by then, in its period, within retention. */
  private matching(q: AuditQuery, tenant: Tenant): RecordRef[] {
    tenant.advance(q.doneMs);
    if (!tenant.settings.auditLogging) return [];
    const retainedFrom = q.doneMs - AUDIT_STANDARD_RETENTION_MS;
    const refs: RecordRef[] = [];
    for (const source of MANAGEMENT_SOURCES) {
      const contentType = source.slice('management:'.length) as ManagementContentType;
      const feed = tenant.feed(source);
      for (const batch of feed.batches) {
        if (batch.availableAtMs > q.doneMs) continue;
        for (let i = batch.firstIndex; i < batch.firstIndex + batch.count; i++) {
          const eventMs = feed.eventTimeOf(i);
          if (eventMs < q.fromMs || eventMs > q.toMs || eventMs < retainedFrom) continue;
          refs.push({ contentType, index: i, eventMs });
        }
      }
    }
    return refs;
  }

  private records(req: SimRequest, res: ServerResponse, tenant: Tenant, q: AuditQuery, base: string, now: number): void {
    const status = queryStatusAt(q, now);
    // The documents do not say what a records list of an unfinished query answers; modelled as a client error.
    if (status !== 'succeeded') throw new GraphError(400, 'BadRequest', `The audit log query is ${status}; records are available once it has succeeded.`);
    const skipRaw = queryParam(req.url, '$skiptoken');
    const offset = skipRaw === null ? 0 : Number(skipRaw);
    if (!Number.isInteger(offset) || offset < 0) throw new GraphError(400, 'BadRequest', `Invalid $skiptoken: '${skipRaw}'.`);
    const ctx = tenant.managementContext();
    const rendered: Record<string, unknown>[] = [];
    let next = offset;
    const refs = this.matching(q, tenant);
    for (; next < refs.length && rendered.length < AUDIT_RECORDS_PAGE_SIZE; next++) {
      const ref = refs[next] as RecordRef;
      const auditData = generateManagementRecord(ctx, ref.contentType, ref.index, ref.eventMs);
      const workload = String(auditData.Workload ?? '');
      if (q.workloads !== 'all' && !q.workloads.includes(workload)) continue;
      rendered.push(auditLogRecord(auditData));
    }
    const page: Record<string, unknown> = { '@odata.context': `${base}/$metadata#security/auditLog/queries('${q.id}')/records`, value: rendered };
    if (next < refs.length) page['@odata.nextLink'] = `${base}/security/auditLog/queries/${q.id}/records?$skiptoken=${next}`;
    sendJson(res, 200, page);
  }
}

/** The auditLogRecord resource wrapping one unified audit log record (its Management API schema) as auditData. */
export function auditLogRecord(auditData: Record<string, unknown>): Record<string, unknown> {
  const creation = String(auditData.CreationTime ?? '');
  return {
    '@odata.type': '#microsoft.graph.security.auditLogRecord',
    id: auditData.Id,
    createdDateTime: creation.endsWith('Z') ? creation : `${creation}Z`,
    auditLogRecordType: RECORD_TYPES[Number(auditData.RecordType)] ?? 'unknownFutureValue',
    operation: auditData.Operation ?? null,
    organizationId: auditData.OrganizationId ?? null,
    userType: USER_TYPES[Number(auditData.UserType)] ?? 'unknownFutureValue',
    userId: auditData.UserKey ?? null,
    service: auditData.Workload ?? null,
    objectId: auditData.ObjectId ?? null,
    userPrincipalName: auditData.UserId ?? null,
    clientIp: auditData.ClientIP ?? null,
    administrativeUnits: [],
    auditData: { '@odata.type': '#microsoft.graph.security.auditData', ...auditData },
  };
}

function parseTime(body: Record<string, unknown>, field: string): number | undefined {
  const raw = body[field];
  if (raw === undefined || raw === null) return undefined;
  const ms = typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms))
    throw new GraphError(400, 'BadRequest', `Cannot convert the literal '${String(raw)}' to the expected type 'Edm.DateTimeOffset' (${field}).`);
  return ms;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
