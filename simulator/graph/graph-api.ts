import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { GraphSource } from '../../runtime/sources.ts';
import type { AppRole, ResourceApp } from '../app-roles.ts';
import { GRAPH_RESOURCE, MANAGEMENT_RESOURCE, resourceByAppId } from '../app-roles.ts';
import type { SimContext } from '../context.ts';
import { applyTransportFault, logApiRequest } from '../context.ts';
import { uuidFor } from '../deterministic.ts';
import { checkAccessToken } from '../entra/token-service.ts';
import type { SimRequest } from '../http.ts';
import { bearerToken, graphDate, queryParam, sendJson } from '../http.ts';
import type { GraphRecordContext, GraphSourceKey } from '../records/graph-records.ts';
import {
  ENTITY_SOURCES,
  GRAPH_TIME_FIELD,
  GRAPH_UPDATED_FIELD,
  RETAINED_SOURCES,
  UPDATABLE_SOURCES,
  betaSignInProperties,
  generateGraphRecord,
  userOfRecord,
} from '../records/graph-records.ts';
import type { RecordUpdate } from '../feeds.ts';
import type { Tenant } from '../tenant-state.ts';
import { AuditSearchApi } from './audit-search.ts';
import { GraphError } from './graph-errors.ts';
import { licenceRefusal, type LicenceGate } from './licence-refusals.ts';

/** Microsoft Graph v1.0 subset: audit logs, identity protection, registration report, directory objects. */

const ODATA_JSON = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

interface CollectionSpec {
  source: GraphSourceKey;
  contextPath: string;
  roles: string[];
  roleMessage: 'reports' | 'identityProtection';
  /** Licence the tenant needs: Entra ID P1 (or P2), P2 only, or none. */
  licence: 'p1' | 'p2' | 'none';
  throttle: 'reports' | 'identityProtection' | 'security';
  defaultTop: number;
  maxTop: number;
  /** Extra string properties that accept `eq` in $filter. */
  eqFields: string[];
  odataType: string;
}

const COLLECTIONS: Record<string, CollectionSpec> = {
  'auditLogs/signIns': {
    source: 'signIns',
    contextPath: 'auditLogs/signIns',
    roles: ['AuditLog.Read.All'],
    roleMessage: 'reports',
    licence: 'p1',
    throttle: 'reports',
    defaultTop: 1000,
    maxTop: 1000,
    eqFields: ['userId', 'appId', 'userPrincipalName', 'conditionalAccessStatus', 'status/errorCode'],
    odataType: 'signIn',
  },
  'auditLogs/directoryAudits': {
    source: 'directoryAudits',
    contextPath: 'auditLogs/directoryAudits',
    roles: ['AuditLog.Read.All'],
    roleMessage: 'reports',
    licence: 'none',
    throttle: 'reports',
    defaultTop: 1000,
    maxTop: 1000,
    eqFields: ['category', 'activityDisplayName', 'loggedByService', 'result', 'initiatedBy/user/id'],
    odataType: 'directoryAudit',
  },
  'identityProtection/riskyUsers': {
    // riskyUsers is "only available with an Entra ID P2 licence"; risk detections need P1 or P2 (P1: limited detail).
    source: 'riskyUsers',
    contextPath: 'identityProtection/riskyUsers',
    roles: ['IdentityRiskyUser.Read.All'],
    roleMessage: 'identityProtection',
    licence: 'p2',
    throttle: 'identityProtection',
    defaultTop: 20,
    maxTop: 500,
    eqFields: ['riskLevel', 'riskState', 'riskDetail', 'userPrincipalName'],
    odataType: 'riskyUser',
  },
  'identityProtection/riskDetections': {
    source: 'riskDetections',
    contextPath: 'identityProtection/riskDetections',
    roles: ['IdentityRiskEvent.Read.All'],
    roleMessage: 'identityProtection',
    licence: 'p1',
    throttle: 'identityProtection',
    defaultTop: 20,
    maxTop: 500,
    eqFields: ['riskEventType', 'riskLevel', 'riskState', 'userId', 'userPrincipalName'],
    odataType: 'riskDetection',
  },
  // servicePrincipalRiskDetection (v1.0): IdentityRiskEvent.Read.All; Microsoft Entra Workload ID Premium, modelled
  // with the tenant's premium licence; identity protection's shared per-tenant limit.
  'identityProtection/servicePrincipalRiskDetections': {
    source: 'servicePrincipalRiskDetections',
    contextPath: 'identityProtection/servicePrincipalRiskDetections',
    roles: ['IdentityRiskEvent.Read.All'],
    roleMessage: 'identityProtection',
    licence: 'p1',
    throttle: 'identityProtection',
    defaultTop: 20,
    maxTop: 500,
    eqFields: ['riskEventType', 'riskLevel', 'riskState', 'servicePrincipalId', 'appId'],
    odataType: 'servicePrincipalRiskDetection',
  },
  // provisioningObjectSummary: AuditLog.Read.All, an identity and access report (5 requests per 10 s per app per tenant).
  'auditLogs/provisioning': {
    source: 'provisioning',
    contextPath: 'auditLogs/provisioning',
    roles: ['AuditLog.Read.All'],
    roleMessage: 'reports',
    licence: 'p1',
    throttle: 'reports',
    defaultTop: 50,
    maxTop: 1000,
    eqFields: ['jobId', 'cycleId', 'changeId', 'provisioningAction', 'provisioningStatusInfo/status'],
    odataType: 'provisioningObjectSummary',
  },
  // security.alert: SecurityAlert.Read.All (or ReadWrite); $filter on assignedTo, classification, determination,
  // createdDateTime, lastUpdateDateTime, severity, serviceSource, status; newest first; paged with nextLink.
  'security/alerts_v2': {
    source: 'securityAlerts',
    contextPath: 'security/alerts_v2',
    roles: ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All'],
    roleMessage: 'identityProtection',
    licence: 'none',
    throttle: 'security',
    defaultTop: 100,
    maxTop: 2000,
    eqFields: ['assignedTo', 'classification', 'determination', 'severity', 'serviceSource', 'status'],
    odataType: 'security.alert',
  },
  // security.incident: SecurityIncident.Read.All (or ReadWrite); the same filterable properties without serviceSource.
  'security/incidents': {
    source: 'securityIncidents',
    contextPath: 'security/incidents',
    roles: ['SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All'],
    roleMessage: 'identityProtection',
    licence: 'none',
    throttle: 'security',
    defaultTop: 20,
    maxTop: 50,
    eqFields: ['assignedTo', 'classification', 'determination', 'severity', 'status'],
    odataType: 'security.incident',
  },
  'reports/authenticationMethods/userRegistrationDetails': {
    source: 'userRegistrationDetails',
    contextPath: 'reports/authenticationMethods/userRegistrationDetails',
    roles: ['AuditLog.Read.All', 'UserAuthenticationMethod.Read.All'],
    roleMessage: 'reports',
    licence: 'p1',
    throttle: 'reports',
    defaultTop: 1000,
    maxTop: 1000,
    eqFields: ['isMfaRegistered', 'isSsprRegistered', 'isAdmin', 'userType', 'userPrincipalName'],
    odataType: 'userRegistrationDetails',
  },
};

export { GraphError };

type Clause = { field: string; op: 'ge' | 'le' | 'gt' | 'lt' | 'eq'; time?: number; value?: string | number | boolean };

export type GraphVersion = 'v1.0' | 'beta';

/** Sign-in types of the beta signIn resource (`signInEventTypes`) and the feed each is simulated from. */
const SIGN_IN_TYPE_KEYS: Readonly<Record<string, GraphSourceKey>> = {
  interactiveUser: 'signIns',
  nonInteractiveUser: 'nonInteractiveSignIns',
  servicePrincipal: 'servicePrincipalSignIns',
  managedIdentity: 'managedIdentitySignIns',
};

const EVENT_TYPES_CLAUSE = /^\s*signInEventTypes\/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'([A-Za-z]+)'\s*\)\s*$/;

/**
 * The sign-in feeds a query reads. v1.0 serves interactive user sign-ins only and has no `signInEventTypes`
 * property; beta serves every type, interactive ones when the filter names none, and
 * `signInEventTypes/any(t: t eq '…')` clauses (joined by `and`: a sign-in of each named type) select the others.
 */
export function signInFeedsOf(filter: string | null, version: GraphVersion): { keys: GraphSourceKey[]; rest: string | null } {
  const parts = filter ? filter.split(/\s+and\s+/i) : [];
  const rest: string[] = [];
  const types: string[] = [];
  for (const part of parts) {
    const m = EVENT_TYPES_CLAUSE.exec(part);
    if (!m) {
      rest.push(part);
      continue;
    }
    if (version === 'v1.0') throw new GraphError(400, 'BadRequest', "Could not find a property named 'signInEventTypes' on type 'microsoft.graph.signIn'.");
    if (m[1] !== m[2]) throw new GraphError(400, 'BadRequest', `Could not find a property named '${m[2] ?? ''}' on type 'microsoft.graph.signIn'.`);
    const type = m[3] ?? '';
    if (!Object.hasOwn(SIGN_IN_TYPE_KEYS, type))
      throw new GraphError(400, 'BadRequest', `The string '${type}' is not a valid enumerated type constant for 'microsoft.graph.signInEventType'.`);
    types.push(type);
  }
  // A sign-in carries one type here, so two different `any` clauses joined by `and` match nothing.
  const distinct = [...new Set(types)];
  const keys = distinct.length === 0 ? ['signIns' as const] : distinct.length === 1 ? [SIGN_IN_TYPE_KEYS[distinct[0] as string] as GraphSourceKey] : [];
  return { keys, rest: rest.length > 0 ? rest.join(' and ') : null };
}

export function parseFilter(filter: string, timeFields: string | readonly string[], eqFields: string[]): Clause[] {
  const times = typeof timeFields === 'string' ? [timeFields] : timeFields;
  const clauses: Clause[] = [];
  for (const part of filter.split(/\s+and\s+/i)) {
    const m = /^\s*([A-Za-z/]+)\s+(ge|le|gt|lt|eq)\s+(.+?)\s*$/i.exec(part);
    if (!m) throw new Error(part);
    const field = m[1] ?? '';
    const op = (m[2] ?? '').toLowerCase() as Clause['op'];
    const raw = m[3] ?? '';
    if (times.includes(field)) {
      const literal = raw.replace(/^'(.*)'$/, '$1');
      if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(literal)) throw new Error(part);
      const t = Date.parse(/T/.test(literal) && !/(Z|[+-]\d{2}:\d{2})$/.test(literal) ? `${literal}Z` : literal);
      if (Number.isNaN(t)) throw new Error(part);
      clauses.push({ field, op, time: t });
    } else if (op === 'eq' && eqFields.includes(field)) {
      const value = /^'.*'$/.test(raw) ? raw.slice(1, -1).replace(/''/g, "'") : raw === 'true' ? true : raw === 'false' ? false : Number(raw);
      if (typeof value === 'number' && Number.isNaN(value)) throw new Error(part);
      clauses.push({ field, op, value });
    } else {
      throw new Error(part);
    }
  }
  return clauses;
}

function pathValue(record: Record<string, unknown>, path: string): unknown {
  let v: unknown = record;
  for (const p of path.split('/')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** A listed record: its feed, its documented date `t`, its last change `updated` and the changes visible. */
interface Row {
  key: GraphSourceKey;
  index: number;
  t: number;
  updated: number;
  updates: RecordUpdate[];
}

function timeMatches(row: Row, clauses: Clause[], updatedField: string | undefined): boolean {
  for (const c of clauses) {
    if (c.time === undefined) continue;
    const t = c.field === updatedField ? row.updated : row.t;
    if (c.op === 'ge' && !(t >= c.time)) return false;
    if (c.op === 'gt' && !(t > c.time)) return false;
    if (c.op === 'le' && !(t <= c.time)) return false;
    if (c.op === 'lt' && !(t < c.time)) return false;
    if (c.op === 'eq' && t !== c.time) return false;
  }
  return true;
}

interface SkipToken {
  s: number;
  o: number;
}

export class GraphApi {
  private readonly auditSearch: AuditSearchApi;

  constructor(private readonly ctx: SimContext) {
    this.auditSearch = new AuditSearchApi(ctx.state.seed);
  }

  private error(req: SimRequest, res: ServerResponse, e: GraphError): void {
    const clientRequestId = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : randomUUID();
    const requestId = randomUUID();
    sendJson(
      res,
      e.status,
      {
        error: {
          code: e.code,
          message: e.message,
          innerError: { date: graphDate(this.ctx.now()), 'request-id': requestId, 'client-request-id': clientRequestId },
        },
      },
      { 'request-id': requestId, 'client-request-id': clientRequestId, ...e.headers },
    );
  }

  private ok(req: SimRequest, res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const clientRequestId = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : randomUUID();
    sendJson(res, status, body, {
      'Content-Type': ODATA_JSON,
      'OData-Version': '4.0',
      'request-id': randomUUID(),
      'client-request-id': clientRequestId,
      ...extra,
    });
  }

  async handle(req: SimRequest, res: ServerResponse, path: string, version: GraphVersion = 'v1.0'): Promise<void> {
    try {
      await this.route(req, res, path, version);
    } catch (e) {
      if (e instanceof GraphError) this.error(req, res, e);
      else throw e;
    }
  }

  private async route(req: SimRequest, res: ServerResponse, path: string, version: GraphVersion): Promise<void> {
    const ctx = this.ctx;
    const now = ctx.now();
    const auth = checkAccessToken(ctx, bearerToken(req), 'graph');
    if (!auth.ok) {
      const message = {
        missing: 'Access token is empty.',
        malformed: 'IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format.',
        signature: 'Access token validation failure.',
        expired: 'Lifetime validation failed, the token is expired.',
        audience: 'Access token validation failure. Invalid audience.',
      }[auth.reason];
      throw new GraphError(401, 'InvalidAuthenticationToken', message, {
        'WWW-Authenticate': `Bearer realm="", authorization_uri="${ctx.origin()}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      });
    }
    const tenant = auth.tenant;
    if (!tenant) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure.');
    const roles = auth.claims.roles ?? [];

    const logged = logApiRequest(ctx, tenant, 'graph', req.method, req.rawPath, res);
    const fault = ctx.faults.take('graph', tenant.tenantId);
    if (fault) {
      logged.fault = fault.kind;
      if (fault.kind === 'throttle') throw new GraphError(429, 'TooManyRequests', 'Too many requests.', { 'Retry-After': '2' });
      if (fault.kind === 'server-error')
        throw new GraphError(503, 'serviceNotAvailable', 'The service is temporarily unavailable. Please retry later.', { 'Retry-After': '1' });
      if (await applyTransportFault(fault, res, '{"@odata.context":"x","value":[{"id":')) return;
    }
    tenant.advance(now);
    tenant.countGraphRequest(version, path);

    if (path.startsWith('security/auditLog/'))
      return this.auditSearch.handle(req, res, tenant, roles, path.slice('security/auditLog/'.length), `${ctx.origin()}/${version}`, now);
    const spec = COLLECTIONS[path];
    if (spec && req.method === 'GET') return this.collection(req, res, tenant, roles, spec, now, version);
    if (path === 'users' && req.method === 'GET') return this.users(req, res, tenant, roles);
    if (path === 'organization' && req.method === 'GET')
      return this.organization(req, res, tenant, roles, typeof auth.claims.scp === 'string' ? auth.claims.scp.split(' ') : []);
    const sp = /^servicePrincipals(?:\(appId='([^']+)'\)|\/([0-9a-fA-F-]{36}))(?:\/(appRoleAssignedTo|appRoleAssignments))?$/.exec(path);
    if (sp) return this.servicePrincipal(req, res, tenant, roles, sp[1], sp[2], sp[3], now);
    if (path === 'servicePrincipals' && req.method === 'GET') return this.servicePrincipalList(req, res, tenant, roles);
    throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${path.split('/')[0] ?? ''}'.`);
  }

  private throttle(tenant: Tenant, kind: CollectionSpec['throttle'], now: number): void {
    if (!tenant.settings.graphThrottling) return;
    if (kind === 'reports') {
      const wait = tenant.rateLimit(`graph-reports|${this.ctx.state.registrationFor(tenant.settings.cloud).clientId}`, 5, 10_000, now);
      if (wait > 0) tenant.countLimitThrottled('reports');
      if (wait > 0) throw new GraphError(429, 'TooManyRequests', 'Too many requests.', { 'Retry-After': String(Math.max(1, Math.ceil(wait / 1000))) });
    } else if (kind === 'identityProtection') {
      const wait = tenant.rateLimit('graph-identity-protection', 1, 1000, now);
      if (wait > 0) tenant.countLimitThrottled('identityProtection');
      // Identity protection answers 429 without Retry-After.
      if (wait > 0) throw new GraphError(429, 'TooManyRequests', 'Too many requests.');
    } else {
      // Security alerts and incidents: 150 requests per minute per app per tenant.
      const wait = tenant.rateLimit(`graph-security|${this.ctx.state.registrationFor(tenant.settings.cloud).clientId}`, 150, 60_000, now);
      if (wait > 0) tenant.countLimitThrottled('security');
      if (wait > 0) throw new GraphError(429, 'TooManyRequests', 'Too many requests.', { 'Retry-After': String(Math.max(1, Math.ceil(wait / 1000))) });
    }
  }

  private collection(req: SimRequest, res: ServerResponse, tenant: Tenant, roles: string[], spec: CollectionSpec, now: number, version: GraphVersion): void {
    // v1.0 List signIns is not offered in US Government L4 / L5 (its national-cloud availability table); beta is.
    if (spec.source === 'signIns' && version === 'v1.0' && (tenant.settings.cloud === 'gcc-high' || tenant.settings.cloud === 'dod')) {
      throw new GraphError(400, 'BadRequest', 'Request not applicable to target tenant.');
    }
    if (!spec.roles.some((r) => roles.includes(r))) {
      if (spec.roleMessage === 'reports') {
        throw new GraphError(
          403,
          'Authentication_MSGraphPermissionMissing',
          `Calling principal does not have required MSGraph permissions ${spec.roles.join(',')}`,
        );
      }
      throw new GraphError(403, 'AccessDenied', 'You cannot perform the requested operation, required scopes are missing in the token.');
    }
    const lic = tenant.settings.licences;
    const licensed = spec.licence === 'none' || lic.entraP2 || (spec.licence === 'p1' && lic.entraP1);
    if (!licensed) throw licenceRefusal(tenant.settings.licenceRefusal, spec.roleMessage satisfies LicenceGate);
    this.throttle(tenant, spec.throttle, now);

    const timeField = GRAPH_TIME_FIELD[spec.source];
    const updatedField = GRAPH_UPDATED_FIELD[spec.source];
    const topRaw = queryParam(req.url, '$top');
    let top = spec.defaultTop;
    if (topRaw !== null) {
      top = Number(topRaw);
      if (!Number.isInteger(top) || top < 1 || top > spec.maxTop) {
        throw new GraphError(400, 'Request_UnsupportedQuery', `Invalid page size specified: '${topRaw}'. Must be between 1 and ${spec.maxTop} inclusive.`);
      }
    }
    let filterRaw = queryParam(req.url, '$filter');
    let keys: GraphSourceKey[] = [spec.source];
    if (spec.source === 'signIns') ({ keys, rest: filterRaw } = signInFeedsOf(filterRaw, version));
    let clauses: Clause[] = [];
    if (filterRaw) {
      try {
        clauses = parseFilter(filterRaw, updatedField ? [timeField, updatedField] : [timeField], spec.eqFields);
      } catch (e) {
        throw new GraphError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: '${(e as Error).message}'.`);
      }
    }
    const orderby = queryParam(req.url, '$orderby');
    let ascending = false;
    if (orderby) {
      const m = new RegExp(`^(?:${timeField}${updatedField ? `|${updatedField}` : ''})(\\s+(asc|desc))?$`, 'i').exec(orderby.trim());
      if (!m) throw new GraphError(400, 'Request_UnsupportedQuery', `Unsupported $orderby clause: '${orderby}'.`);
      ascending = (m[2] ?? 'asc').toLowerCase() === 'asc';
    }
    const select = queryParam(req.url, '$select')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);

    let token: SkipToken = { s: now, o: 0 };
    const skip = queryParam(req.url, '$skiptoken');
    if (skip !== null) {
      try {
        const parsed = JSON.parse(Buffer.from(skip, 'base64url').toString('utf8')) as SkipToken;
        if (typeof parsed.s !== 'number' || typeof parsed.o !== 'number' || parsed.s > now) throw new Error('bad');
        token = parsed;
      } catch {
        throw new GraphError(400, 'Request_UnsupportedQuery', `Invalid $skiptoken: '${skip}'.`);
      }
    }

    const rctx = tenant.graphContext();
    // Available records as of the snapshot, as (feed, index, time) triples.
    let rows: Row[] = [];
    for (const key of keys) {
      const feed = tenant.feed(`graph:${key}` as GraphSource);
      if (ENTITY_SOURCES.has(key)) {
        const latest = new Map<number, Row>();
        for (const b of feed.batches) {
          if (b.availableAtMs > token.s) continue;
          for (let i = b.firstIndex; i < b.firstIndex + b.count; i++) {
            const u = userOfRecord(rctx, key, i).index;
            const t = feed.eventTimeOf(i);
            const cur = latest.get(u);
            if (!cur || t >= cur.t) latest.set(u, { key, index: i, t, updated: t, updates: [] });
          }
        }
        rows.push(...latest.values());
      } else {
        for (const b of feed.batches) {
          if (b.availableAtMs > token.s) continue;
          for (let i = b.firstIndex; i < b.firstIndex + b.count; i++) {
            const t = feed.eventTimeOf(i);
            // A record changed in place is listed once, in its latest state published by the snapshot.
            const updates = UPDATABLE_SOURCES.has(key) ? feed.visibleUpdates(i, token.s) : [];
            rows.push({ key, index: i, t, updated: updates.length > 0 ? (updates[updates.length - 1] as RecordUpdate).atMs : t, updates });
          }
        }
      }
    }
    const retainedFrom = now - tenant.graphRetentionMs;
    rows = rows.filter((r) => timeMatches(r, clauses, updatedField) && (!RETAINED_SOURCES.has(r.key) || r.t >= retainedFrom));
    // Newest first; records changed in place list the most recently changed first.
    const at = (r: Row) => (updatedField ? r.updated : r.t);
    rows.sort((a, b) =>
      ascending ? at(a) - at(b) || a.index - b.index || a.key.localeCompare(b.key) : at(b) - at(a) || b.index - a.index || b.key.localeCompare(a.key),
    );
    const eqClauses = clauses.filter((c) => c.value !== undefined);
    // Generate only what the page needs: with equality filters, scan until the page is full.
    let page: Array<Record<string, unknown>>;
    let more: boolean;
    if (eqClauses.length === 0) {
      page = rows.slice(token.o, token.o + top).map((r) => this.record(rctx, r, version));
      more = token.o + top < rows.length;
    } else {
      page = [];
      more = false;
      let matched = 0;
      for (const r of rows) {
        const rec = this.record(rctx, r, version);
        if (!eqClauses.every((c) => pathValue(rec, c.field) === c.value)) continue;
        if (matched++ < token.o) continue;
        if (page.length === top) {
          more = true;
          break;
        }
        page.push(rec);
      }
    }
    const body: Record<string, unknown> = {
      '@odata.context': `${this.ctx.origin()}/${version}/$metadata#${spec.contextPath}${select ? `(${select.join(',')})` : ''}`,
    };
    if (more) {
      const next = new URL(`${this.ctx.origin()}/${version}/${spec.contextPath}`);
      for (const [k, v] of req.url.searchParams) if (k.toLowerCase() !== '$skiptoken') next.searchParams.set(k, v);
      next.searchParams.set('$skiptoken', Buffer.from(JSON.stringify({ s: token.s, o: token.o + top })).toString('base64url'));
      body['@odata.nextLink'] = next.toString();
    }
    body.value = select ? page.map((r) => Object.fromEntries(select.filter((k) => k in r).map((k) => [k, r[k]]))) : page;
    this.ok(req, res, 200, body);
  }

  /** A record as the version serves it: an interactive sign-in read on beta carries the beta properties. */
  private record(rctx: GraphRecordContext, row: Row, version: GraphVersion): Record<string, unknown> {
    const rec = generateGraphRecord(rctx, row.key, row.index, row.t, row.updates);
    return row.key === 'signIns' && version === 'beta' ? betaSignInProperties(rec, 'interactiveUser') : rec;
  }

  private users(req: SimRequest, res: ServerResponse, tenant: Tenant, roles: string[]): void {
    if (!['User.Read.All', 'Directory.Read.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'].some((r) => roles.includes(r))) {
      throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    const topRaw = queryParam(req.url, '$top');
    let top = 100;
    if (topRaw !== null) {
      top = Number(topRaw);
      if (!Number.isInteger(top) || top < 1 || top > 999) {
        throw new GraphError(400, 'Request_UnsupportedQuery', `Invalid page size specified: '${topRaw}'. Must be between 1 and 999 inclusive.`);
      }
    }
    let offset = 0;
    const skip = queryParam(req.url, '$skiptoken');
    if (skip !== null) {
      offset = Number(Buffer.from(skip, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0) throw new GraphError(400, 'Request_UnsupportedQuery', `Invalid $skiptoken: '${skip}'.`);
    }
    const all = tenant.users.map((u) => ({
      businessPhones: [],
      displayName: u.displayName,
      givenName: u.givenName,
      jobTitle: u.jobTitle,
      mail: u.userPrincipalName,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: 'en-US',
      surname: u.surname,
      userPrincipalName: u.userPrincipalName,
      id: u.id,
    }));
    const page = all.slice(offset, offset + top);
    const body: Record<string, unknown> = { '@odata.context': `${this.ctx.origin()}/v1.0/$metadata#users` };
    if (offset + top < all.length) {
      const next = new URL(`${this.ctx.origin()}/v1.0/users`);
      for (const [k, v] of req.url.searchParams) if (k !== '$skiptoken') next.searchParams.set(k, v);
      next.searchParams.set('$skiptoken', Buffer.from(String(offset + top)).toString('base64url'));
      body['@odata.nextLink'] = next.toString();
    }
    body.value = page;
    this.ok(req, res, 200, body);
  }

  private organization(req: SimRequest, res: ServerResponse, tenant: Tenant, roles: string[], scopes: string[]): void {
    // Application: Organization.Read.All or higher; delegated (signed-in user): User.Read is the least privilege.
    const delegated = ['User.Read', 'Organization.Read.All', 'Directory.Read.All'].some((sc) => scopes.includes(sc));
    if (
      !delegated &&
      !['Organization.Read.All', 'Directory.Read.All', 'Organization.ReadWrite.All', 'Directory.ReadWrite.All'].some((r) => roles.includes(r))
    ) {
      throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    const lic = tenant.settings.licences;
    const plans: Array<Record<string, string>> = [];
    const assigned = '2023-01-01T00:00:00Z';
    if (lic.entraP1 || lic.entraP2)
      plans.push({
        assignedDateTime: assigned,
        capabilityStatus: 'Enabled',
        service: 'AADPremiumService',
        servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d',
      });
    if (lic.entraP2)
      plans.push({
        assignedDateTime: assigned,
        capabilityStatus: 'Enabled',
        service: 'AADPremiumService',
        servicePlanId: 'eec0eb4f-6444-4f95-aba0-50c24d67f998',
      });
    const initial = `${tenant.settings.domain.split('.')[0]}.onmicrosoft.com`;
    this.ok(req, res, 200, {
      '@odata.context': `${this.ctx.origin()}/v1.0/$metadata#organization`,
      value: [
        {
          id: tenant.tenantId,
          deletedDateTime: null,
          businessPhones: [],
          city: null,
          country: null,
          countryLetterCode: 'US',
          createdDateTime: `${new Date(tenant.createdAtMs).toISOString().slice(0, 19)}Z`,
          displayName: tenant.settings.name,
          tenantType: 'AAD',
          // Set only for partner tenants (CSP): the type of partnership, per Graph's organization resource.
          partnerTenantType: tenant.settings.partner ? 'resellerPartnerDelegatedAdmin' : null,
          assignedPlans: plans,
          verifiedDomains: [
            {
              capabilities: 'Email, OfficeCommunicationsOnline',
              isDefault: initial === tenant.settings.domain.toLowerCase(),
              isInitial: true,
              name: initial,
              type: 'Managed',
            },
            ...(initial !== tenant.settings.domain.toLowerCase()
              ? [{ capabilities: 'Email, OfficeCommunicationsOnline', isDefault: true, isInitial: false, name: tenant.settings.domain, type: 'Managed' }]
              : []),
          ],
        },
      ],
    });
  }

  private resourceSpId(tenant: Tenant, resource: ResourceApp): string {
    return uuidFor(`${tenant.seed}|${tenant.tenantId}|resource-sp|${resource.appId}`);
  }

  /** Service principals known in a tenant: the two resource apps and (when consented) ours. */
  private servicePrincipals(tenant: Tenant): Array<{ id: string; appId: string; displayName: string; appRoles: readonly AppRole[]; resource?: ResourceApp }> {
    const list: Array<{ id: string; appId: string; displayName: string; appRoles: readonly AppRole[]; resource?: ResourceApp }> = [
      GRAPH_RESOURCE,
      MANAGEMENT_RESOURCE,
    ].map((r) => ({
      id: this.resourceSpId(tenant, r),
      appId: r.appId,
      displayName: r.displayName,
      appRoles: r.roles,
      resource: r,
    }));
    if (tenant.servicePrincipal) {
      list.push({
        id: tenant.servicePrincipal.id,
        appId: this.ctx.state.registrationFor(tenant.settings.cloud).clientId,
        displayName: this.ctx.state.registrationFor(tenant.settings.cloud).displayName,
        appRoles: [],
      });
    }
    return list;
  }

  private spView(sp: { id: string; appId: string; displayName: string; appRoles: readonly AppRole[] }): Record<string, unknown> {
    return {
      id: sp.id,
      accountEnabled: true,
      appDisplayName: sp.displayName,
      appId: sp.appId,
      appOwnerOrganizationId: this.ctx.state.findRegistration(sp.appId)
        ? uuidFor(`${this.ctx.state.seed}|publisher-tenant`)
        : 'f8cdef31-a31e-4b4a-93e4-5f571e91255a',
      appRoleAssignmentRequired: false,
      displayName: sp.displayName,
      servicePrincipalType: 'Application',
      signInAudience: 'AzureADMultipleOrgs',
      appRoles: sp.appRoles.map((r) => ({
        allowedMemberTypes: ['Application'],
        description: r.displayName,
        displayName: r.displayName,
        id: r.id,
        isEnabled: true,
        origin: 'Application',
        value: r.value,
      })),
    };
  }

  private requireAny(roles: string[], needed: string[]): void {
    if (!needed.some((r) => roles.includes(r))) throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  }

  private servicePrincipalList(req: SimRequest, res: ServerResponse, tenant: Tenant, roles: string[]): void {
    this.requireAny(roles, ['Application.Read.All', 'Directory.Read.All', 'Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All']);
    const filter = queryParam(req.url, '$filter');
    let list = this.servicePrincipals(tenant);
    if (filter) {
      const m = /^appId eq '([^']+)'$/i.exec(filter.trim());
      if (!m) throw new GraphError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: '${filter}'.`);
      list = list.filter((s) => s.appId.toLowerCase() === (m[1] ?? '').toLowerCase());
    }
    this.ok(req, res, 200, { '@odata.context': `${this.ctx.origin()}/v1.0/$metadata#servicePrincipals`, value: list.map((s) => this.spView(s)) });
  }

  private async servicePrincipal(
    req: SimRequest,
    res: ServerResponse,
    tenant: Tenant,
    roles: string[],
    appId: string | undefined,
    id: string | undefined,
    nav: string | undefined,
    now: number,
  ): Promise<void> {
    const sp = this.servicePrincipals(tenant).find((s) =>
      appId ? s.appId.toLowerCase() === appId.toLowerCase() : s.id.toLowerCase() === (id ?? '').toLowerCase(),
    );
    const writing = req.method === 'POST';
    if (writing) this.requireAny(roles, ['AppRoleAssignment.ReadWrite.All']);
    else this.requireAny(roles, ['Application.Read.All', 'Directory.Read.All', 'Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All']);
    if (!sp) {
      throw new GraphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${appId ?? id ?? ''}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    if (!nav) {
      if (req.method !== 'GET') throw new GraphError(405, 'Request_BadRequest', 'The requested method is not allowed.');
      this.ok(req, res, 200, { '@odata.context': `${this.ctx.origin()}/v1.0/$metadata#servicePrincipals/$entity`, ...this.spView(sp) });
      return;
    }
    const ours = tenant.servicePrincipal;
    const assignmentView = (role: AppRole, resource: ResourceApp, a: { id: string; createdDateTime: string }) => ({
      id: a.id,
      deletedDateTime: null,
      appRoleId: role.id,
      createdDateTime: a.createdDateTime,
      principalDisplayName: this.ctx.state.registrationFor(tenant.settings.cloud).displayName,
      principalId: ours?.id,
      principalType: 'ServicePrincipal',
      resourceDisplayName: resource.displayName,
      resourceId: this.resourceSpId(tenant, resource),
    });
    const assignmentsOf = (resource: ResourceApp) =>
      resource.roles.flatMap((role) => {
        const a = ours?.roles[resource.kind].has(role.value) ? ours.assignmentIds.get(role.value) : undefined;
        return a ? [assignmentView(role, resource, a)] : [];
      });

    if (req.method === 'GET') {
      const value =
        nav === 'appRoleAssignedTo'
          ? sp.resource
            ? assignmentsOf(sp.resource)
            : []
          : sp.id === ours?.id
            ? [...assignmentsOf(GRAPH_RESOURCE), ...assignmentsOf(MANAGEMENT_RESOURCE)]
            : [];
      this.ok(req, res, 200, { '@odata.context': `${this.ctx.origin()}/v1.0/$metadata#servicePrincipals('${sp.id}')/${nav}`, value });
      return;
    }
    if (req.method !== 'POST') throw new GraphError(405, 'Request_BadRequest', 'The requested method is not allowed.');
    let body: { principalId?: unknown; resourceId?: unknown; appRoleId?: unknown };
    try {
      body = JSON.parse((await req.body()).toString('utf8')) as typeof body;
    } catch {
      throw new GraphError(
        400,
        'BadRequest',
        'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
      );
    }
    const resourceId = String(body.resourceId ?? '');
    const principalId = String(body.principalId ?? '');
    const appRoleId = String(body.appRoleId ?? '');
    const resourceSp = this.servicePrincipals(tenant).find((s) => s.id === resourceId);
    const resource = resourceSp?.resource ?? (resourceSp ? undefined : resourceByAppId(resourceId));
    if (nav === 'appRoleAssignedTo' && resourceId !== sp.id) {
      throw new GraphError(400, 'Request_BadRequest', 'The resourceId in the request body must match the service principal in the URL.');
    }
    if (!resource || !resourceSp)
      throw new GraphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${resourceId}' does not exist or one of its queried reference-property objects are not present.`,
      );
    if (!ours || principalId !== ours.id)
      throw new GraphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${principalId}' does not exist or one of its queried reference-property objects are not present.`,
      );
    const role = resource.roles.find((r) => r.id === appRoleId);
    if (!role) throw new GraphError(400, 'Request_BadRequest', `Permission being assigned was not found on application '${resource.appId}'.`);
    if (ours.roles[resource.kind].has(role.value)) throw new GraphError(400, 'Request_BadRequest', 'Permission being assigned already exists on the object.');
    tenant.grantRoles([role.value], now);
    const a = ours.assignmentIds.get(role.value);
    if (!a) throw new Error('assignment missing');
    this.ok(req, res, 201, {
      '@odata.context': `${this.ctx.origin()}/v1.0/$metadata#servicePrincipals('${sp.id}')/${nav}/$entity`,
      ...assignmentView(role, resource, a),
    });
  }
}
