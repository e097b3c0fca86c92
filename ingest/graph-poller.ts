import { z } from 'zod';
import type { GraphSource } from '../runtime/index.ts';
import type { BudgetKind } from './rate-budget.ts';
import { ApiPermanentError, type RequestTarget } from './microsoft-http.ts';
import { attempt, canonicalJson, commitPage, emptyReport, guardPage, type CycleReport, type Poller, type PollerContext } from './poller.ts';
import type { IngestSettings } from './config.ts';
import { formatGraphTime, parseMicrosoftDate } from './windows.ts';

/**
 * Graph activity sources (reference/microsoft-apis.md §2): each cycle asks for everything whose documented date
 * field is ≥ watermark − lag (Graph indexes late), follows @odata.nextLink only to the Graph host of the
 * organization's cloud, and publishes page by page; ids already published within the horizon are skipped. The
 * watermark moves to the cycle's start once every page is committed.
 */

export interface GraphSourceSpec {
  path: string;
  /** The documented date field used in $filter and as event time. */
  dateField: string;
  budget: BudgetKind;
  /** State-like resources change in place: the version field joins the id for de-duplication. */
  versionField?: string;
  top?: number;
}

export const GRAPH_SOURCE_SPECS: Record<Exclude<GraphSource, 'graph:userRegistrationDetails'>, GraphSourceSpec> = {
  'graph:signIns': { path: 'auditLogs/signIns', dateField: 'createdDateTime', budget: 'graph-report' },
  'graph:directoryAudits': { path: 'auditLogs/directoryAudits', dateField: 'activityDateTime', budget: 'graph-report' },
  'graph:riskyUsers': { path: 'identityProtection/riskyUsers', dateField: 'riskLastUpdatedDateTime', budget: 'identity-protection', versionField: 'riskLastUpdatedDateTime', top: 500 },
  'graph:riskDetections': { path: 'identityProtection/riskDetections', dateField: 'detectedDateTime', budget: 'identity-protection', versionField: 'lastUpdatedDateTime', top: 500 },
};

export const graphPageSchema = z.looseObject({
  value: z.array(z.unknown()).default([]),
  '@odata.nextLink': z.string().optional(),
});

/** Builds the first page URL of a cycle. */
export function graphQueryUrl(graphHost: string, spec: GraphSourceSpec, fromMs: number): string {
  const params = [`$filter=${encodeURIComponent(`${spec.dateField} ge ${formatGraphTime(fromMs)}`)}`];
  if (spec.top) params.push(`$top=${spec.top}`);
  return `${graphHost}/v1.0/${spec.path}?${params.join('&')}`;
}

/**
 * The records of a Graph collection, page by page from `firstUrl`: @odata.nextLink is followed verbatim, and only to
 * this cloud's Graph host (checked by MicrosoftHttp); a link back to a page already read is a malformed response,
 * not an endless loop. The next page is asked for only once the caller is done with the current one.
 */
export async function* graphPages(ctx: PollerContext, target: RequestTarget, firstUrl: string, signal: AbortSignal): AsyncGenerator<unknown[]> {
  let url: string | null = firstUrl;
  const seen = new Set<string>();
  while (url !== null) {
    if (seen.has(url)) throw new ApiPermanentError({ reason: 'malformed_response', code: 'paging_loop', httpStatus: null, retriable: false, message: '@odata.nextLink repeats a page already read' });
    seen.add(url);
    const pageUrl: string = url;
    const page = await attempt(() => ctx.http.json(target, pageUrl, graphPageSchema, { api: 'graph', signal }), signal);
    const next = page.body['@odata.nextLink'];
    url = typeof next === 'string' && next.trim() !== '' ? next.trim() : null;
    yield page.body.value;
  }
}

export function graphDedupKey(record: Record<string, unknown>, spec: GraphSourceSpec): string {
  const id = typeof record.id === 'string' && record.id !== '' ? record.id : `sha:${canonicalJson(record)}`;
  if (!spec.versionField) return id;
  const v = record[spec.versionField];
  return `${id}|${typeof v === 'string' ? v : canonicalJson(v ?? null)}`;
}

/**
 * Where a Graph cycle starts. Records can appear in Graph well after their event time (Entra's log latency), so
 * besides the short lag of every cycle a deeper re-query every `graphLateIntervalMs` reaches `graphLateLagMs` back;
 * the record-id ledger drops what was already published, so the overlap costs requests, not duplicates.
 */
export function graphQueryStart(
  cursorMs: number | null,
  startedAtMs: number,
  lastDeepAtMs: number | null,
  s: Pick<IngestSettings, 'initialLookbackMs' | 'graphLagMs' | 'graphLateLagMs' | 'graphLateIntervalMs'>,
): { fromMs: number; deep: boolean } {
  if (cursorMs === null) return { fromMs: startedAtMs - s.initialLookbackMs, deep: true };
  const deep = lastDeepAtMs === null || startedAtMs - lastDeepAtMs >= s.graphLateIntervalMs;
  const lag = deep ? Math.max(s.graphLagMs, s.graphLateLagMs) : s.graphLagMs;
  return { fromMs: cursorMs - lag, deep };
}

export class GraphPoller implements Poller {
  private readonly spec: GraphSourceSpec;
  private readonly target: RequestTarget;
  /** When the last deeper re-query completed; null after a start, so the first cycle looks deep. */
  private lastDeepAtMs: number | null = null;

  constructor(private readonly ctx: PollerContext) {
    const spec = GRAPH_SOURCE_SPECS[ctx.source as keyof typeof GRAPH_SOURCE_SPECS];
    if (!spec) throw new Error(`no Graph spec for ${ctx.source}`);
    this.spec = spec;
    this.target = { tenantId: ctx.tenantId, cloud: ctx.profile.cloud, resource: 'graph', base: ctx.profile.graphHost, budget: spec.budget };
  }

  async runCycle(signal: AbortSignal): Promise<CycleReport> {
    const report = emptyReport();
    const s = this.ctx.settings;
    const startedAt = this.ctx.now();
    const cursor = this.ctx.progress.effectiveCursorMs;
    const { fromMs: from, deep } = graphQueryStart(cursor, startedAt, this.lastDeepAtMs, s);
    // What is at risk of passing Microsoft's retention is what follows the cursor, not the deeper re-query.
    report.oldestPendingMs = cursor === null ? from : cursor - s.graphLagMs;
    const firstUrl = graphQueryUrl(this.ctx.profile.graphHost, this.spec, from);
    for await (const page of graphPages(this.ctx, this.target, firstUrl, signal)) {
      const { records, refused } = guardPage(
        this.ctx,
        report,
        'graph',
        page,
        (r) => ({ dedupKey: graphDedupKey(r, this.spec), record: r, eventMs: parseMicrosoftDate(r[this.spec.dateField]) }),
        (r) => graphDedupKey(r, this.spec),
      );
      if (report.tenantMismatches > 0 && refused.length > 0) {
        this.ctx.logger.error({ orgId: this.ctx.orgId, source: this.ctx.source }, 'ALARM: records of another tenant refused and dead-lettered');
      }
      await commitPage(this.ctx, report, records, refused);
    }
    // Every page committed: the watermark moves to when this cycle asked.
    await this.ctx.progress.advance(startedAt, s.checkpointIntervalMs);
    if (deep) this.lastDeepAtMs = startedAt;
    report.oldestPendingMs = null;
    return report;
  }
}
