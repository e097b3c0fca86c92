/**
 * Event activity from OpenSearch aggregations, for the UI's fleet view (issue 17 item 6, decisions 0180–0181):
 *
 * - `GET /api/v1/organizations/{id}/events/hourly?days=1..7` — events per hour per source (event.dataset) of one
 *   organization, always filtered by `organization.id` (decision 0072); viewer on that organization.
 * - `GET /api/v1/fleet/activity` — per organization in the token's scope: last event, events in the last 7 days,
 *   the usual gap between events and whether it went quiet. One aggregation for the whole fleet (never one query per
 *   organization), filtered to the organizations the token may see (decision 0111).
 */
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { OpenSearchClient } from '../runtime/index.ts';
import { isOpenSearchUnavailable, sendApiError, wholeNumberParam } from './events-api.ts';

const HOUR_MS = 3_600_000;
export const ACTIVITY_WINDOW_DAYS = 7;
/** Decision 0181: quiet when silent for longer than this many usual gaps, and at least QUIET_FLOOR_MS. */
export const QUIET_GAP_FACTOR = 4;
export const QUIET_FLOOR_MS = 2 * HOUR_MS;

export const hourlyQuerySchema = z
  .object({
    days: wholeNumberParam(ACTIVITY_WINDOW_DAYS, ACTIVITY_WINDOW_DAYS),
  })
  .strict();

export const hourlyActivitySchema = z.object({
  from: z.string().describe('start of the first hour (ISO 8601, whole UTC hour)'),
  hours: z.number().int().describe('number of hourly buckets; counts[i] is the hour from + i h'),
  sources: z.array(z.object({ dataset: z.string(), total: z.number().int(), counts: z.array(z.number().int()) })),
});
export type HourlyActivity = z.output<typeof hourlyActivitySchema>;

export const fleetActivitySchema = z.object({
  now: z.string(),
  items: z.array(
    z.object({
      orgId: z.string(),
      lastEventAt: z.string().nullable(),
      events7d: z.number().int(),
      usualGapMs: z.number().int().nullable().describe('7 days divided by the events of the last 7 days (decision 0181); null without events'),
      quiet: z.boolean().describe('had events, and has been silent for longer than max(4 × usual gap, 2 h) (decision 0181)'),
    }),
  ),
});
export type FleetActivity = z.output<typeof fleetActivitySchema>;
export type OrganizationActivity = FleetActivity['items'][number];

/** The window start: the whole UTC hour `days` × 24 − 1 hours before the current one, so the last bucket is now. */
export function hourlyWindow(now: number, days: number): { from: number; hours: number } {
  const hours = days * 24;
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  return { from: currentHour - (hours - 1) * HOUR_MS, hours };
}

export function buildHourlySearch(orgId: string, from: number, hours: number): Record<string, unknown> {
  const to = from + hours * HOUR_MS - 1;
  return {
    size: 0,
    query: {
      bool: {
        filter: [{ term: { 'organization.id': orgId } }, { range: { '@timestamp': { gte: new Date(from).toISOString(), lte: new Date(to).toISOString() } } }],
      },
    },
    aggs: {
      sources: {
        terms: { field: 'event.dataset', size: 20 },
        aggs: {
          hourly: {
            date_histogram: {
              field: '@timestamp',
              fixed_interval: '1h',
              min_doc_count: 0,
              extended_bounds: { min: from, max: to },
            },
          },
        },
      },
    },
  };
}

interface Bucket {
  key: string | number;
  doc_count: number;
}

export function hourlyFromAggregation(aggs: unknown, from: number, hours: number): HourlyActivity {
  const sourceBuckets = ((aggs as { sources?: { buckets?: Array<Bucket & { hourly?: { buckets?: Bucket[] } }> } } | undefined)?.sources?.buckets ??
    []) as Array<Bucket & { hourly?: { buckets?: Bucket[] } }>;
  const sources = sourceBuckets.map((s) => {
    const counts = new Array<number>(hours).fill(0);
    for (const b of s.hourly?.buckets ?? []) {
      const index = Math.round((Number(b.key) - from) / HOUR_MS);
      if (index >= 0 && index < hours) counts[index] = b.doc_count;
    }
    return { dataset: String(s.key), total: s.doc_count, counts };
  });
  return { from: new Date(from).toISOString(), hours, sources };
}

export function buildFleetActivitySearch(orgIds: readonly string[], now: number): Record<string, unknown> {
  const windowStart = new Date(now - ACTIVITY_WINDOW_DAYS * 24 * HOUR_MS).toISOString();
  return {
    size: 0,
    query: { bool: { filter: [{ terms: { 'organization.id': orgIds } }] } },
    aggs: {
      orgs: {
        terms: { field: 'organization.id', size: Math.max(1, orgIds.length) },
        aggs: {
          last: { max: { field: '@timestamp' } },
          recent: { filter: { range: { '@timestamp': { gte: windowStart } } } },
        },
      },
    },
  };
}

/** Decision 0181: the usual gap is the mean inter-event gap of the last 7 days; quiet past 4 of them (≥ 2 h). */
export function activityOf(orgId: string, lastEventMs: number | null, events7d: number, now: number): OrganizationActivity {
  const usualGapMs = events7d > 0 ? Math.round((ACTIVITY_WINDOW_DAYS * 24 * HOUR_MS) / events7d) : null;
  const silence = lastEventMs === null ? null : now - lastEventMs;
  const threshold = Math.max(QUIET_GAP_FACTOR * (usualGapMs ?? Number.POSITIVE_INFINITY), QUIET_FLOOR_MS);
  // Events once, none in the last 7 days: quiet whatever the gap was.
  const quiet = silence !== null && (usualGapMs === null || silence > threshold);
  return { orgId, lastEventAt: lastEventMs === null ? null : new Date(lastEventMs).toISOString(), events7d, usualGapMs, quiet };
}

export function fleetFromAggregation(aggs: unknown, orgIds: readonly string[], now: number): FleetActivity {
  type OrgBucket = Bucket & { last?: { value?: number | null }; recent?: { doc_count?: number } };
  const buckets = ((aggs as { orgs?: { buckets?: OrgBucket[] } } | undefined)?.orgs?.buckets ?? []) as OrgBucket[];
  const byId = new Map(buckets.map((b) => [String(b.key), b]));
  return {
    now: new Date(now).toISOString(),
    items: orgIds.map((id) => {
      const b = byId.get(id);
      const last = typeof b?.last?.value === 'number' ? b.last.value : null;
      return activityOf(id, last, b?.recent?.doc_count ?? 0, now);
    }),
  };
}

export interface ActivityRouterDeps {
  openSearch: OpenSearchClient;
  indexAlias: string;
  /** Authenticated and viewer (or more) on the organization `:id`. */
  requireViewer: RequestHandler;
  /** Authenticated (any token). */
  requireToken: RequestHandler;
  /** The organizations this request's token may see (its scope). */
  visibleOrganizationIds: (req: Request) => string[];
  now?: () => number;
}

function firstIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  return { field: unknown ?? (issue?.path.join('.') || 'query'), message: unknown ? 'unknown query parameter' : (issue?.message ?? 'invalid value') };
}

export function activityRouter(deps: ActivityRouterDeps): express.Router {
  const router = express.Router();
  const now = deps.now ?? Date.now;
  const search = async (body: Record<string, unknown>) => {
    const response = await deps.openSearch.search({ index: deps.indexAlias, ignore_unavailable: true, allow_no_indices: true, body: body as never });
    return (response.body as { aggregations?: unknown }).aggregations;
  };
  const failed = (res: Response, next: NextFunction, error: unknown, empty: unknown) => {
    if (isOpenSearchUnavailable(error)) {
      sendApiError(res, 503, 'opensearch_unavailable', 'OpenSearch is not reachable or overloaded right now; try again in a moment.');
      return;
    }
    if ((error as { meta?: { body?: { error?: { type?: string } } } })?.meta?.body?.error?.type === 'index_not_found_exception') {
      res.json(empty);
      return;
    }
    next(error);
  };

  router.get('/api/v1/organizations/:id/events/hourly', deps.requireViewer, async (req: Request, res: Response, next: NextFunction) => {
    const orgId = String(req.params.id ?? '');
    const parsed = hourlyQuerySchema.safeParse({ ...(req.query as Record<string, unknown>) });
    if (!parsed.success) {
      const { field, message } = firstIssue(parsed.error);
      sendApiError(res, 400, 'invalid_request', `${field}: ${message}`, field);
      return;
    }
    const { from, hours } = hourlyWindow(now(), parsed.data.days);
    try {
      res.json(hourlyFromAggregation(await search(buildHourlySearch(orgId, from, hours)), from, hours));
    } catch (error) {
      failed(res, next, error, hourlyFromAggregation(undefined, from, hours));
    }
  });

  router.get('/api/v1/fleet/activity', deps.requireToken, async (req: Request, res: Response, next: NextFunction) => {
    const stray = Object.keys(req.query as Record<string, unknown>)[0];
    if (stray !== undefined) {
      sendApiError(res, 400, 'invalid_request', `${stray.slice(0, 64)}: unknown query parameter`, stray.slice(0, 64));
      return;
    }
    const at = now();
    const orgIds = deps.visibleOrganizationIds(req);
    if (orgIds.length === 0) {
      res.json(fleetFromAggregation(undefined, orgIds, at));
      return;
    }
    try {
      res.json(fleetFromAggregation(await search(buildFleetActivitySearch(orgIds, at)), orgIds, at));
    } catch (error) {
      failed(res, next, error, fleetFromAggregation(undefined, orgIds, at));
    }
  });
  return router;
}

const errorRef = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

export const hourlyActivityOpenApiPath = {
  get: {
    operationId: 'organizationHourlyActivity',
    summary: "The organization's events per hour per source (event.dataset) over the last days (viewer)",
    parameters: [
      { name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } },
      { name: 'days', in: 'query', schema: { type: 'integer', minimum: 1, maximum: ACTIVITY_WINDOW_DAYS, default: ACTIVITY_WINDOW_DAYS } },
    ],
    responses: {
      '200': { description: 'hourly counts per source', content: { 'application/json': { schema: { $ref: '#/components/schemas/HourlyActivity' } } } },
      '400': errorRef('invalid parameter (error.field names it)'),
      '401': errorRef('missing or unknown token'),
      '404': errorRef("no such organization, or one outside the token's scope"),
      '429': errorRef('too many failed authentications from this address; retry after `Retry-After` seconds'),
      '503': errorRef('OpenSearch unavailable'),
    },
  },
} as const;

export const fleetActivityOpenApiPath = {
  get: {
    operationId: 'fleetActivity',
    summary: "Per organization in the token's scope: last event, events of the last 7 days, usual gap, quiet (one aggregation)",
    responses: {
      '200': { description: 'activity per organization', content: { 'application/json': { schema: { $ref: '#/components/schemas/FleetActivity' } } } },
      '400': errorRef('a query parameter (none is taken)'),
      '401': errorRef('missing or unknown token'),
      '429': errorRef('too many failed authentications from this address; retry after `Retry-After` seconds'),
      '503': errorRef('OpenSearch unavailable'),
    },
  },
} as const;
