import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { MANAGEMENT_SOURCES } from '../../runtime/sources.ts';
import type { ManagementSource } from '../../runtime/sources.ts';
import type { SimContext } from '../context.ts';
import { applyTransportFault, logApiRequest } from '../context.ts';
import { checkAccessToken } from '../entra/token-service.ts';
import type { SimRequest } from '../http.ts';
import { bearerToken, queryParam, send, sendJson } from '../http.ts';
import type { ManagementContentType } from '../records/management-records.ts';
import { generateManagementRecord } from '../records/management-records.ts';
import type { Subscription, Tenant } from '../tenant-state.ts';
import type { Blob, Feed } from '../feeds.ts';
import { Rng } from '../deterministic.ts';

/** Office 365 Management Activity API under `/api/v1.0/{tenant}/activity/feed/`. */

const CONTENT_TYPES = MANAGEMENT_SOURCES.map((s) => s.slice('management:'.length));
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTENT_ID = /^\d+\$\d+\$[0-9a-f]{32}[a-z]{3}\d{10}\$[0-9a-f]{32}\$\d{2}$/i;
const DAY = 24 * 3600_000;
const RETENTION = 7 * DAY;
const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

function afError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, { 'request-id': randomUUID(), ...headers });
}

/** Between two /subscriptions/start requests of a content type (Activity API reference). */
const START_INTERVAL_MS = 15 * 60_000;

const WINDOW_MESSAGE =
  'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.';

/** Accepts YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS (optionally with fractions and Z), as UTC. */
export function parseApiTime(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?Z?$/.exec(value.trim());
  if (!m) return undefined;
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3)),
  );
  return Number.isNaN(ms) ? undefined : ms;
}

function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

function subscriptionView(s: Subscription): Record<string, unknown> {
  return { contentType: s.contentType, status: s.status, webhook: s.webhook };
}

/** Whether a blob's content is retrievable under the subscription's collection intervals. */
export function blobCollected(sub: Subscription | undefined, blob: Blob): boolean {
  if (!sub) return false;
  return sub.intervals.some((i) => blob.contentCreatedMs >= i.fromMs && (i.toMs === null || blob.contentCreatedMs < i.toMs));
}

export class ManagementApi {
  /** Serialized blob bodies (bounded cache): blobs are immutable once published. */
  private readonly blobCache = new Map<string, Buffer>();

  constructor(
    private readonly ctx: SimContext,
    private readonly maxCached = 2000,
  ) {}

  async handle(req: SimRequest, res: ServerResponse, segments: string[]): Promise<void> {
    // segments: [tenant, 'activity', 'feed', ...rest]
    const ctx = this.ctx;
    const now = ctx.now();
    const urlTenant = segments[0] ?? '';
    const rest = segments.slice(3);
    if (segments[1] !== 'activity' || segments[2] !== 'feed' || rest.length === 0) {
      sendJson(res, 404, { error: { code: 'NotFound', message: 'No HTTP resource was found that matches the request URI.' } });
      return;
    }
    const publisher = queryParam(req.url, 'PublisherIdentifier') ?? ZERO_GUID;

    const auth = checkAccessToken(ctx, bearerToken(req), 'management');
    if (!auth.ok) {
      sendJson(
        res,
        401,
        { Message: 'Authorization has been denied for this request.' },
        {
          'WWW-Authenticate': `Bearer realm="", authorization_uri="${ctx.origin()}/common/oauth2/authorize", error="invalid_token"`,
        },
      );
      return;
    }
    if (!GUID.test(urlTenant)) {
      afError(res, 400, 'AF20013', `The tenant ID ${urlTenant} in the URL is invalid.`);
      return;
    }
    if (auth.claims.tid.toLowerCase() !== urlTenant.toLowerCase()) {
      afError(res, 401, 'AF20010', `The tenant ID ${urlTenant} in the URL doesn't match the tenant ID ${auth.claims.tid} in the OAuth token.`);
      return;
    }
    const tenant = auth.tenant;
    if (!tenant) {
      afError(res, 400, 'AF20011', `The specified tenant ID (${urlTenant}) does not exist in the system or has been deleted.`);
      return;
    }
    const roles = auth.claims.roles ?? [];
    if (!roles.includes('ActivityFeed.Read')) {
      afError(res, 401, 'AF10001', `The permission set (${roles.join(',')}) sent in the request does not include the expected permission.`);
      return;
    }
    const logged = logApiRequest(ctx, tenant, 'management', req.method, req.rawPath, res);
    const fault = ctx.faults.take('management', tenant.tenantId);
    const method = methodName(req.method, rest);
    if (fault) {
      logged.fault = fault.kind;
      if (fault.kind === 'throttle') {
        afError(res, 403, 'AF429', `Too many requests. Method=${method}, PublisherId=${publisher}`);
        return;
      }
      if (fault.kind === 'server-error') {
        afError(res, 500, 'AF50000', 'An internal error occurred. Retry the request.');
        return;
      }
      if (await applyTransportFault(fault, res, '<html><body>Service Unavailable</body></html>')) return;
    }
    if (tenant.rateLimit(`mgmt|${publisher}`, tenant.settings.managementRequestsPerMinute, 60_000, now) > 0) {
      afError(res, 403, 'AF429', `Too many requests. Method=${method}, PublisherId=${publisher}`);
      return;
    }
    tenant.advance(now);

    const [first, second] = rest;
    if (first === 'subscriptions' && second === 'start' && req.method === 'POST') return this.start(req, res, tenant, publisher, now);
    if (first === 'subscriptions' && second === 'stop' && req.method === 'POST') return this.stop(req, res, tenant, publisher);
    if (first === 'subscriptions' && second === 'list' && req.method === 'GET') return this.list(res, tenant, publisher);
    if (first === 'subscriptions' && second === 'content' && req.method === 'GET') return this.content(req, res, tenant, publisher, now);
    if (first === 'subscriptions' && second === 'notifications' && req.method === 'GET') return this.notifications(req, res, tenant, publisher, now);
    if (first === 'audit' && rest.length === 2 && req.method === 'GET') return this.blob(req, res, tenant, second ?? '', roles, now);
    if (first === 'resources' && second === 'dlpSensitiveTypes' && req.method === 'GET') {
      sendJson(res, 200, [
        { id: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', name: 'Credit Card Number' },
        { id: 'a44669fe-0d48-453d-a9b1-2cc83f2cba77', name: 'U.S. Social Security Number (SSN)' },
      ]);
      return;
    }
    sendJson(res, 404, { error: { code: 'NotFound', message: 'No HTTP resource was found that matches the request URI.' } });
  }

  private auditDisabled(res: ServerResponse, tenant: Tenant, operation: string, contentType: string, publisher: string): void {
    const appId = this.ctx.state.registrationFor(tenant.settings.cloud).clientId;
    const corr = randomUUID();
    const text =
      `${operation} [CorrId=${corr}][TenantId=${tenant.tenantId},ContentType=${contentType},ApplicationId=${appId},PublisherId=${publisher}][AppId=${appId}] failed. ` +
      `Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant ${tenant.tenantId} does not exist.\r\n` +
      '   at Microsoft.Office.Compliance.Audit.API.AzureManager.<GetSubscriptionTableClientForTenantAsync>d__52.MoveNext()\r\n' +
      '--- End of stack trace from previous location where exception was thrown ---\r\n' +
      '   at System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw()';
    // The service splits this text into code/message at "[AppId=" and drops one character (as observed).
    const cut = text.indexOf('[AppId=') + '[AppId'.length;
    sendJson(res, 400, { error: { code: text.slice(0, cut), message: text.slice(cut + 2) } });
  }

  private contentTypeParam(req: SimRequest, res: ServerResponse): string | undefined {
    const ct = queryParam(req.url, 'contentType');
    if (!ct) {
      afError(res, 400, 'AF20001', 'A required parameter is missing: contentType.');
      return undefined;
    }
    const match = CONTENT_TYPES.find((c) => c.toLowerCase() === ct.toLowerCase());
    if (!match) {
      afError(res, 400, 'AF20020', `The specified content type is not valid: ${ct}.`);
      return undefined;
    }
    return match;
  }

  private async start(req: SimRequest, res: ServerResponse, tenant: Tenant, publisher: string, now: number): Promise<void> {
    const contentType = this.contentTypeParam(req, res);
    if (!contentType) return;
    if (!tenant.settings.auditLogging) return this.auditDisabled(res, tenant, 'StartSubscription', contentType, publisher);
    const raw = (await req.body()).toString('utf8').trim();
    let webhook: Subscription['webhook'] = null;
    if (raw) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        afError(res, 400, 'AF20002', 'The request body is not valid JSON.');
        return;
      }
      const w = (parsed as { webhook?: { address?: unknown; authId?: unknown; expiration?: unknown } } | null)?.webhook;
      if (w && typeof w === 'object') {
        const address = typeof w.address === 'string' ? w.address : '';
        if (!address.toLowerCase().startsWith('https://')) {
          afError(res, 400, 'AF20021', `The webhook endpoint {${address}} could not be validated. The address must begin with HTTPS.`);
          return;
        }
        const expiration = typeof w.expiration === 'string' && w.expiration !== '' ? w.expiration : null;
        if (expiration !== null) {
          const exp = Date.parse(expiration);
          if (Number.isNaN(exp)) {
            afError(res, 400, 'AF20002', 'The parameter expiration has an invalid datetime value.');
            return;
          }
          if (exp < now) {
            afError(res, 400, 'AF20003', `The expiration date ${expiration} provided is set to a past date.`);
            return;
          }
        }
        // The simulator does not call webhooks back; it records them as configured.
        webhook = { status: 'enabled', address, authId: typeof w.authId === 'string' ? w.authId : null, expiration };
      }
    }
    const existing = tenant.subscriptions.get(contentType);
    if (existing && existing.status === 'enabled') {
      if (JSON.stringify(existing.webhook) === JSON.stringify(webhook)) {
        afError(res, 400, 'AF20024', 'The subscription is already enabled. No property change.');
        return;
      }
      if (this.startTooSoon(res, tenant, contentType, now)) return;
      existing.webhook = webhook;
      sendJson(res, 200, subscriptionView(existing));
      return;
    }
    if (this.startTooSoon(res, tenant, contentType, now)) return;
    const sub: Subscription = existing ?? { contentType, status: 'enabled', webhook, enabledSinceMs: now, intervals: [], lastStartMs: now };
    sub.status = 'enabled';
    sub.webhook = webhook;
    sub.enabledSinceMs = now;
    sub.lastStartMs = now;
    sub.intervals.push({ fromMs: now, toMs: null });
    tenant.subscriptions.set(contentType, sub);
    sendJson(res, 200, subscriptionView(sub));
  }

  /**
   * "Once you submit a subscription request, a waiting period of 15 minutes is required before another request can be
   * made. This throttling policy doesn't apply to stop a subscription" (Activity API reference, "Working with the Office
   * 365 Management Activity API"). Counted per content type, the unit a subscription is: peers start all five content
   * types in a row. Microsoft documents no answer; peers report HTTP 429 "Too many frequent subscription start requests.
   * Please retry again after 14m 56s" (elastic/integrations#15476), under the documented throttling code AF429. A refused
   * request does not restart the wait; a request that changes nothing is answered AF20024 first (it starts nothing).
   */
  private startTooSoon(res: ServerResponse, tenant: Tenant, contentType: string, now: number): boolean {
    const counts = tenant.startRequests.get(contentType) ?? { answered: 0, refused: 0, lastMs: null };
    tenant.startRequests.set(contentType, counts);
    const waitMs = counts.lastMs === null ? 0 : START_INTERVAL_MS - (now - counts.lastMs);
    if (waitMs > 0) {
      counts.refused++;
      const s = Math.ceil(waitMs / 1000);
      afError(res, 429, 'AF429', `Too many frequent subscription start requests. Please retry again after ${Math.floor(s / 60)}m ${s % 60}s`);
      return true;
    }
    counts.answered++;
    counts.lastMs = now;
    return false;
  }

  private stop(req: SimRequest, res: ServerResponse, tenant: Tenant, publisher: string): void {
    const contentType = this.contentTypeParam(req, res);
    if (!contentType) return;
    if (!tenant.settings.auditLogging) return this.auditDisabled(res, tenant, 'StopSubscription', contentType, publisher);
    const sub = tenant.subscriptions.get(contentType);
    if (!sub) {
      afError(res, 400, 'AF20022', `No subscription found for the specified content type: ${contentType}.`);
      return;
    }
    if (sub.status === 'enabled') {
      const open = sub.intervals.find((i) => i.toMs === null);
      if (open) open.toMs = this.ctx.now();
    }
    sub.status = 'disabled';
    send(res, 200, '');
  }

  private list(res: ServerResponse, tenant: Tenant, publisher: string): void {
    if (!tenant.settings.auditLogging) return this.auditDisabled(res, tenant, 'ListSubscriptions', '', publisher);
    sendJson(res, 200, [...tenant.subscriptions.values()].map(subscriptionView));
  }

  /** Validates startTime/endTime; returns the window or writes the error. */
  private window(req: SimRequest, res: ServerResponse, now: number): { start: number; end: number; explicit: boolean } | undefined {
    const s = queryParam(req.url, 'startTime');
    const e = queryParam(req.url, 'endTime');
    if (s === null && e === null) {
      // The last 24 hours, on whole seconds so the NextPageUri can carry the window in the documented format.
      const end = Math.ceil(now / 1000) * 1000;
      return { start: end - DAY, end, explicit: false };
    }
    if (s === null || e === null) {
      afError(res, 400, 'AF20030', WINDOW_MESSAGE);
      return undefined;
    }
    const start = parseApiTime(s);
    const end = parseApiTime(e);
    if (start === undefined || end === undefined) {
      afError(res, 400, 'AF20002', `The parameter ${start === undefined ? 'startTime' : 'endTime'} has an invalid datetime value.`);
      return undefined;
    }
    if (start >= end) {
      afError(res, 400, 'AF20030', WINDOW_MESSAGE);
      return undefined;
    }
    if (end - start > DAY || start < now - RETENTION) {
      afError(res, 400, 'AF20055', WINDOW_MESSAGE);
      return undefined;
    }
    return { start, end, explicit: true };
  }

  private subscriptionFor(res: ServerResponse, tenant: Tenant, contentType: string): Subscription | undefined {
    const sub = tenant.subscriptions.get(contentType);
    if (!sub) {
      afError(res, 400, 'AF20022', `No subscription found for the specified content type: ${contentType}.`);
      return undefined;
    }
    if (sub.status !== 'enabled') {
      afError(res, 400, 'AF20023', `The subscription was disabled by the tenant admin or service admin for content type: ${contentType}.`);
      return undefined;
    }
    return sub;
  }

  /**
   * What a listing request (ListContent, ListNotifications) is about, checked in Microsoft's order: content type,
   * audit logging, time window, subscription. Undefined when one is wrong; the error is then already sent.
   */
  private listing(
    req: SimRequest,
    res: ServerResponse,
    tenant: Tenant,
    operation: 'ListContent' | 'ListNotifications',
    publisher: string,
    now: number,
  ): { contentType: string; window: { start: number; end: number; explicit: boolean }; sub: Subscription } | undefined {
    const contentType = this.contentTypeParam(req, res);
    if (!contentType) return undefined;
    if (!tenant.settings.auditLogging) {
      this.auditDisabled(res, tenant, operation, contentType, publisher);
      return undefined;
    }
    const window = this.window(req, res, now);
    if (!window) return undefined;
    const sub = this.subscriptionFor(res, tenant, contentType);
    if (!sub) return undefined;
    return { contentType, window, sub };
  }

  private content(req: SimRequest, res: ServerResponse, tenant: Tenant, publisher: string, now: number): void {
    const listing = this.listing(req, res, tenant, 'ListContent', publisher, now);
    if (!listing) return;
    const { contentType, window, sub } = listing;
    const feed = tenant.feed(`management:${contentType}` as ManagementSource);

    let offset = 0;
    // The listing is a snapshot: later pages see the blobs available when the first page was served.
    let snapshot = now;
    const nextPage = queryParam(req.url, 'nextPage');
    if (nextPage !== null) {
      const m = /^(\d{13})z(\d+)$/.exec(nextPage);
      if (!m || Number(m[1]) > now) {
        afError(res, 400, 'AF20031', `Invalid nextPage input: ${nextPage}.`);
        return;
      }
      snapshot = Number(m[1]);
      offset = Number(m[2]);
    }
    const pageSize = tenant.settings.contentPageSize;
    const origin = this.ctx.origin();
    const items: unknown[] = [];
    let index = feed.lowerBound(window.start) + 0;
    let skipped = 0;
    let more = false;
    for (; index < feed.blobs.length; index++) {
      const blob = feed.blobs[index];
      if (!blob || blob.contentCreatedMs >= window.end) break;
      if (blob.contentCreatedMs > snapshot || !blobCollected(sub, blob)) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (items.length === pageSize) {
        more = true;
        break;
      }
      items.push({
        contentType,
        contentId: blob.contentId,
        contentUri: `${origin}/api/v1.0/${tenant.tenantId}/activity/feed/audit/${blob.contentId}`,
        contentCreated: isoMs(blob.contentCreatedMs),
        contentExpiration: isoMs(blob.contentCreatedMs + RETENTION),
      });
    }
    const headers: Record<string, string> = {};
    if (more) {
      const next = new URL(`${origin}/api/v1.0/${tenant.tenantId}/activity/feed/subscriptions/content`);
      next.searchParams.set('contentType', contentType);
      next.searchParams.set('startTime', isoMs(window.start).slice(0, 19));
      next.searchParams.set('endTime', isoMs(window.end).slice(0, 19));
      if (publisher !== ZERO_GUID) next.searchParams.set('PublisherIdentifier', publisher);
      next.searchParams.set('nextPage', `${snapshot}z${offset + items.length}`);
      headers.NextPageUri = next.toString();
    }
    sendJson(res, 200, items, headers);
  }

  private notifications(req: SimRequest, res: ServerResponse, tenant: Tenant, publisher: string, now: number): void {
    if (!this.listing(req, res, tenant, 'ListNotifications', publisher, now)) return;
    // No webhook is ever called by the simulator, so the notification history is empty.
    sendJson(res, 200, []);
  }

  private blob(_req: SimRequest, res: ServerResponse, tenant: Tenant, contentId: string, roles: string[], now: number): void {
    if (!CONTENT_ID.test(contentId)) {
      afError(res, 400, 'AF20052', `The content ID ${contentId} in the URL is invalid.`);
      return;
    }
    let found: { feed: Feed; blob: Blob; contentType: string } | undefined;
    for (const contentType of CONTENT_TYPES) {
      const feed = tenant.feed(`management:${contentType}` as ManagementSource);
      const blob = feed.blobsById.get(contentId);
      if (blob) {
        found = { feed, blob, contentType };
        break;
      }
    }
    if (!found || found.blob.contentCreatedMs > now || !blobCollected(tenant.subscriptions.get(found.contentType), found.blob)) {
      afError(res, 400, 'AF20050', `The specified content (${contentId}) doesn't exist.`);
      return;
    }
    if (found.blob.contentCreatedMs + RETENTION <= now) {
      afError(res, 400, 'AF20051', `The content ${contentId} you requested has expired. Content is retrievable for 7 days after it becomes available.`);
      return;
    }
    const body = this.cachedBlob(tenant, found.feed, found.blob, found.contentType as ManagementContentType, roles.includes('ActivityFeed.ReadDlp'));
    send(res, 200, body, { 'Content-Type': 'application/json; charset=utf-8' });
  }

  private cachedBlob(tenant: Tenant, feed: Feed, blob: Blob, contentType: ManagementContentType, dlpDetail: boolean): Buffer {
    const key = `${tenant.tenantId}|${blob.contentId}|${dlpDetail ? 1 : 0}`;
    let body = this.blobCache.get(key);
    if (!body) {
      body = Buffer.from(this.renderBlob(tenant, feed, blob, contentType, dlpDetail));
      if (this.maxCached > 0) {
        if (this.blobCache.size >= this.maxCached) {
          const oldest = this.blobCache.keys().next().value;
          if (oldest !== undefined) this.blobCache.delete(oldest);
        }
        this.blobCache.set(key, body);
      }
    }
    return body;
  }

  /**
   * Renders a content type's blobs into the cache ahead of any request, as the tenant's current roles would see them
   * (a benchmark aid: the serving rate it measures then excludes record generation, for the poller and its
   * baseline alike). Returns how many blobs it rendered.
   */
  prerender(tenant: Tenant, contentType: ManagementContentType, now: number): number {
    const feed = tenant.feed(`management:${contentType}` as ManagementSource);
    const dlpDetail = tenant.tokenRoles('management', now).includes('ActivityFeed.ReadDlp');
    for (const blob of feed.blobs) this.cachedBlob(tenant, feed, blob, contentType, dlpDetail);
    return feed.blobs.length;
  }

  renderBlob(tenant: Tenant, feed: Feed, blob: Blob, contentType: ManagementContentType, dlpDetail: boolean): string {
    const rctx = tenant.managementContext();
    const parts: string[] = [];
    const seen = new Set<number>();
    let position = 0;
    for (const index of feed.blobIndices(blob)) {
      let record = generateManagementRecord(rctx, contentType, index, feed.eventTimeOf(index));
      const recordBytes = feed.batchOf(index)?.recordBytes;
      if (recordBytes !== undefined) padRecord(record, recordBytes);
      if (contentType === 'DLP.All' && !dlpDetail) stripSensitiveData(record);
      // Re-delivered copies do not keep their JSON field order (peers that deduplicated on a hash broke on it).
      if (blob.reserveOf !== undefined || seen.has(index)) record = reorderFields(record, new Rng(`${blob.contentId}|${position}`));
      seen.add(index);
      position++;
      parts.push(JSON.stringify(record));
    }
    return `[${parts.join(',')}]`;
  }
}

/**
 * Grows a record to about `bytes` of JSON the way real records grow: more `Parameters` entries (an admin cmdlet's
 * arguments) when it has them, otherwise more `ModifiedProperties` (name, old and new value of each change).
 */
function padRecord(record: Record<string, unknown>, bytes: number): void {
  const useParameters = Array.isArray(record.Parameters);
  const list: unknown[] = useParameters
    ? (record.Parameters as unknown[])
    : Array.isArray(record.ModifiedProperties)
      ? (record.ModifiedProperties as unknown[])
      : [];
  if (!useParameters) record.ModifiedProperties = list;
  let size = JSON.stringify(record).length;
  const chunk = 16 * 1024;
  for (let i = 0; size < bytes; i++) {
    const room = Math.max(1, Math.min(chunk, bytes - size - 80));
    const value = `${'AllowedSenders:'}${'a'.repeat(room)}`.slice(0, room);
    const entry = useParameters ? { Name: `Param${i}`, Value: value } : { Name: `Property${i}`, NewValue: value, OldValue: '' };
    list.push(entry);
    size += JSON.stringify(entry).length + 1;
  }
}

function reorderFields(record: Record<string, unknown>, rng: Rng): Record<string, unknown> {
  const keys = Object.keys(record);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const k = keys[i] as string;
    keys[i] = keys[j] as string;
    keys[j] = k;
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = record[k];
  return out;
}

/** Without ActivityFeed.ReadDlp the DLP records carry no sensitive-information detail. */
function stripSensitiveData(record: Record<string, unknown>): void {
  record.SensitiveInfoDetectionIsIncluded = false;
  const details = record.PolicyDetails as Array<{ Rules?: Array<{ ConditionsMatched?: Record<string, unknown> }> }> | undefined;
  for (const p of details ?? []) for (const r of p.Rules ?? []) if (r.ConditionsMatched) delete r.ConditionsMatched.SensitiveInformation;
}

function methodName(method: string, rest: string[]): string {
  if (rest[0] === 'audit') return 'GetBlob';
  if (rest[1] === 'content') return 'ListContent';
  if (rest[1] === 'start') return 'StartSubscription';
  if (rest[1] === 'stop') return 'StopSubscription';
  if (rest[1] === 'list') return 'ListSubscriptions';
  return method;
}
