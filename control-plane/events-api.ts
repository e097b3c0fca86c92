/**
 * `GET /api/v1/organizations/{id}/events` — the organization's recent SIEM events from OpenSearch, for the UI's
 * Analysis view (issue 9). Every query is filtered by `organization.id`, whatever else is asked, so one
 * organization's operator view never shows another's events (guarantee 3). Viewer role suffices.
 *
 * Query parameters (all optional): dataset, action, user (name, e-mail or id; case-insensitive, substring),
 * outcome, category, from / to (ISO 8601 instants, inclusive), size (1–500, default 50). Newest first.
 * Answer: `{ total, events: [{ id, "@timestamp", dataset, action, outcome, category, user, sourceIp, document }] }`.
 */
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { ApiErrorCode } from './api-error-codes.ts';
import type { OpenSearchClient } from '../runtime/index.ts';

export interface EventsRouterDeps {
  openSearch: OpenSearchClient;
  /** Read alias (or index pattern) of the SIEM events, e.g. `siem-events`. */
  indexAlias: string;
  requireViewer: RequestHandler;
}

export const EVENTS_MAX_SIZE = 500;
export const EVENTS_DEFAULT_SIZE = 50;

const text = (max: number) => z.string().trim().min(1).max(max).optional();
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Milliseconds of a strict ISO 8601 date or date-time, or null. Calendar-checked: `Date.parse` accepts
 * 2026-02-30 (as 2 March) and "2026-01-01 10:00" (local time), which OpenSearch then refuses, and the caller got a
 * 500 for their own typo. A date-time without an offset is UTC; a date alone is the start of that day (UTC), or
 * with `endOfDay` its last millisecond, so `to=2026-11-26` includes the whole day.
 */
export function parseInstant(value: string, endOfDay = false): number | null {
  const m = ISO_INSTANT.exec(value);
  if (!m) return null;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const days = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > days || hour > 23 || minute > 59 || second > 59) return null;
  const zone = m[8];
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
    if (oh > 14 || om > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const fraction = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  const dateOnly = m[4] === undefined;
  const ms = Date.UTC(year!, month! - 1, day!, hour, minute, second) + Math.floor(fraction) - offsetMinutes * 60_000;
  return dateOnly && endOfDay ? ms + 86_400_000 - 1 : ms;
}

const instant = (endOfDay: boolean) =>
  z
    .string()
    .trim()
    .transform((v, ctx) => {
      const ms = parseInstant(v, endOfDay);
      if (ms === null || Number.isNaN(ms) || Math.abs(ms) > 8.64e15) {
        ctx.addIssue({ code: 'custom', message: 'expected a real ISO 8601 date or date-time, e.g. 2026-11-26 or 2026-11-26T07:00:00Z' });
        return z.NEVER;
      }
      // OpenSearch gets one unambiguous form, never the caller's text.
      return new Date(ms).toISOString();
    })
    .optional();

/** A query-string whole number from 1 to `max` (digits only, so `1e3` or `+5` are refused), `fallback` when absent. */
export function wholeNumberParam(max: number, fallback: number) {
  const message = `expected a whole number from 1 to ${max}`;
  return z
    .string()
    .regex(new RegExp(`^\\d{1,${String(max).length}}$`), message)
    .transform(Number)
    .pipe(z.number().int().min(1, message).max(max, message))
    .default(fallback);
}

export const eventsQuerySchema = z
  .object({
    dataset: text(100),
    action: text(200),
    user: text(320),
    outcome: z.enum(['success', 'failure', 'unknown']).optional(),
    category: text(100),
    from: instant(false),
    to: instant(true),
    size: wholeNumberParam(EVENTS_MAX_SIZE, EVENTS_DEFAULT_SIZE),
  })
  // A misspelt filter (`?usr=alice`) must not silently widen the search to every event.
  .strict()
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: 'from must not be after to', path: ['from'] });

export type EventsQuery = z.infer<typeof eventsQuerySchema>;

/** Treat query-string values that arrive empty (`?user=`) as absent. */
function withoutEmpty(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => !(typeof v === 'string' && v.trim() === '')));
}

function escapeWildcard(value: string): string {
  return value.replace(/[\\*?]/g, (c) => `\\${c}`);
}

/** The OpenSearch query body for one organization and the filters; pure, unit-tested. */
export function buildEventsSearch(orgId: string, q: EventsQuery): Record<string, unknown> {
  const filter: unknown[] = [{ term: { 'organization.id': orgId } }];
  if (q.dataset) filter.push({ term: { 'event.dataset': q.dataset } });
  if (q.action) filter.push({ term: { 'event.action': { value: q.action, case_insensitive: true } } });
  if (q.outcome) filter.push({ term: { 'event.outcome': q.outcome } });
  if (q.category) filter.push({ term: { 'event.category': q.category } });
  if (q.from || q.to) {
    filter.push({ range: { '@timestamp': { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lte: q.to } : {}) } } });
  }
  if (q.user) {
    const contains = `*${escapeWildcard(q.user)}*`;
    filter.push({
      bool: {
        minimum_should_match: 1,
        should: [
          { term: { 'user.id': q.user } },
          { wildcard: { 'user.name': { value: contains, case_insensitive: true } } },
          { wildcard: { 'user.email': { value: contains, case_insensitive: true } } },
          { wildcard: { 'user.target.email': { value: contains, case_insensitive: true } } },
        ],
      },
    });
  }
  return {
    size: q.size,
    track_total_hits: true,
    sort: [{ '@timestamp': { order: 'desc', unmapped_type: 'date' } }],
    query: { bool: { filter } },
  };
}

/** One event of GET …/events: the fields a list shows, and the whole indexed document. */
export const eventSummarySchema = z.object({
  id: z.string(),
  '@timestamp': z.string().nullable(),
  dataset: z.string().nullable(),
  action: z.string().nullable(),
  outcome: z.string().nullable(),
  category: z.array(z.string()).nullable(),
  user: z.string().nullable().describe('e-mail, else name, else id'),
  sourceIp: z.string().nullable(),
  document: z.record(z.string(), z.unknown()),
});
export type EventSummary = z.output<typeof eventSummarySchema>;

export const eventsPageSchema = z.object({
  total: z.number().int().describe('matching events (the page holds at most `size`)'),
  events: z.array(eventSummarySchema),
});
export type EventsPage = z.output<typeof eventsPageSchema>;

function path(doc: Record<string, unknown>, dotted: string): unknown {
  // Documents may hold dotted keys flat ("event.action") or nested ({event: {action}}).
  if (dotted in doc) return doc[dotted];
  let cur: unknown = doc;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function str(value: unknown): string | null {
  if (typeof value === 'string' && value) return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return null;
}

export function summarizeHit(hit: { _id?: string; _source?: unknown }): EventSummary {
  const doc = (hit._source && typeof hit._source === 'object' ? hit._source : {}) as Record<string, unknown>;
  const category = path(doc, 'event.category');
  return {
    id: hit._id ?? str(path(doc, 'event.id')) ?? '',
    '@timestamp': str(doc['@timestamp']),
    dataset: str(path(doc, 'event.dataset')),
    action: str(path(doc, 'event.action')),
    outcome: str(path(doc, 'event.outcome')),
    category: Array.isArray(category) ? category.filter((c): c is string => typeof c === 'string') : typeof category === 'string' ? [category] : null,
    user: str(path(doc, 'user.email')) ?? str(path(doc, 'user.name')) ?? str(path(doc, 'user.id')),
    sourceIp: str(path(doc, 'source.ip')) ?? str(path(doc, 'client.ip')),
    document: doc,
  };
}

export function sendApiError(res: Response, status: number, code: ApiErrorCode, message: string, field?: string): void {
  res.status(status).json({ error: { code, message, ...(field ? { field } : {}) } });
}

export function isOpenSearchUnavailable(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name ?? '';
  const status = (error as { meta?: { statusCode?: number } } | null)?.meta?.statusCode;
  return ['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError'].includes(name) || status === 429 || (typeof status === 'number' && status >= 500);
}

export function eventsRouter(deps: EventsRouterDeps): express.Router {
  const router = express.Router();
  router.get('/api/v1/organizations/:id/events', deps.requireViewer, async (req: Request, res: Response, next: NextFunction) => {
    const orgId = String(req.params.id ?? '');
    if (!orgId || orgId.length > 200) {
      sendApiError(res, 400, 'invalid_request', 'organization id: expected 1 to 200 characters', 'id');
      return;
    }
    const parsed = eventsQuerySchema.safeParse(withoutEmpty({ ...(req.query as Record<string, unknown>) }));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      const field = unknown ?? (issue?.path.join('.') || 'query');
      const message = unknown ? 'unknown query parameter' : (issue?.message ?? 'invalid value');
      sendApiError(res, 400, 'invalid_request', `${field}: ${message}`, field);
      return;
    }
    try {
      const response = await deps.openSearch.search({
        index: deps.indexAlias,
        ignore_unavailable: true,
        allow_no_indices: true,
        body: buildEventsSearch(orgId, parsed.data) as never,
      });
      const hits = (response.body as { hits?: { total?: number | { value?: number }; hits?: Array<{ _id?: string; _source?: unknown }> } }).hits;
      const total = typeof hits?.total === 'number' ? hits.total : (hits?.total?.value ?? 0);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ total, events: (hits?.hits ?? []).map(summarizeHit) });
    } catch (error) {
      if (isOpenSearchUnavailable(error)) {
        sendApiError(res, 503, 'opensearch_unavailable', 'OpenSearch is not reachable or overloaded right now; try again in a moment.');
        return;
      }
      const type = (error as { meta?: { body?: { error?: { type?: string } } } })?.meta?.body?.error?.type;
      if (type === 'index_not_found_exception') {
        res.json({ total: 0, events: [] });
        return;
      }
      next(error);
    }
  });
  return router;
}

/** The path item for the control plane's OpenAPI document (`paths['/organizations/{id}/events']` under /api/v1). */
export const eventsOpenApiPath = {
  get: {
    operationId: 'listOrganizationEvents',
    summary: "The organization's recent SIEM events from OpenSearch, newest first (viewer)",
    parameters: [
      { name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } },
      { name: 'dataset', in: 'query', schema: { type: 'string', maxLength: 100 }, description: 'event.dataset, e.g. azure.signinlogs, o365.audit' },
      { name: 'action', in: 'query', schema: { type: 'string', maxLength: 200 }, description: 'event.action, case-insensitive' },
      { name: 'user', in: 'query', schema: { type: 'string', maxLength: 320 }, description: 'user name, e-mail or id; substring, case-insensitive' },
      { name: 'outcome', in: 'query', schema: { type: 'string', enum: ['success', 'failure', 'unknown'] } },
      { name: 'category', in: 'query', schema: { type: 'string', maxLength: 100 }, description: 'event.category' },
      { name: 'from', in: 'query', schema: { type: 'string' }, description: 'ISO 8601 instant, inclusive' },
      { name: 'to', in: 'query', schema: { type: 'string' }, description: 'ISO 8601 instant, inclusive' },
      { name: 'size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: EVENTS_MAX_SIZE, default: EVENTS_DEFAULT_SIZE } },
    ],
    responses: {
      '200': { description: 'the events, newest first', content: { 'application/json': { schema: { $ref: '#/components/schemas/EventsPage' } } } },
      '400': { description: 'invalid filter (error.field names it)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      '401': { description: 'missing or unknown token', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      '404': {
        description: "no such organization, or one outside the token's scope",
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
      '429': {
        description: 'too many failed authentications from this address',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
      '503': { description: 'OpenSearch unavailable', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    },
  },
} as const;
