import { z } from 'zod';
import { SIGN_IN_ENDPOINTS, SIGN_IN_SOURCES, isSignInSource, type Cloud, type GraphApiVersion, type GraphSource } from '../runtime/index.ts';
import type { BudgetKind } from './rate-budget.ts';
import { ApiPermanentError, type RequestTarget } from './microsoft-http.ts';
import { passedRetention, retentionFor } from './data-loss.ts';
import { attempt, canonicalJson, commitPage, emptyReport, guardPage, recordGap, type CycleReport, type Poller, type PollerContext } from './poller.ts';
import type { IngestSettings } from './config.ts';
import { floorSecond, formatGraphTime, parseMicrosoftDate } from './windows.ts';

/**
 * Graph activity sources (reference/microsoft-apis.md §2): each cycle asks for everything whose documented date
 * field is ≥ watermark − lag (Graph indexes late), follows @odata.nextLink only to the Graph host of the
 * organization's cloud, and publishes page by page; ids already published within the horizon are skipped. The
 * watermark moves to the cycle's start once every page is committed. A report cycle reaching back further than
 * one slice (a first connection, an outage) asks slice by slice, oldest first, and commits the watermark after
 * each (docs/decisions/0057).
 */

export interface GraphSourceSpec {
  path: string;
  /** The documented date field used in $filter and as event time. */
  dateField: string;
  budget: BudgetKind;
  /** State-like resources change in place: the version field joins the id for de-duplication. */
  versionField?: string;
  top?: number;
  /**
   * Microsoft documents `le` as well as `ge` on the date field, so a long window can be asked in bounded slices
   * (the reports; not riskyUsers / riskDetections, whose `$filter` support is not documented that far).
   */
  sliceable: boolean;
  /** Graph version asked; v1.0 unless the cloud's sign-in table says beta. */
  version?: GraphApiVersion;
  /** A `$filter` clause joined to the date bounds (the sign-in type on beta). */
  extraFilter?: string | null;
}

/** Graph sources polled by their own kind of poller: the registration snapshot. */
export type WindowedGraphSource = Exclude<GraphSource, 'graph:userRegistrationDetails'>;

/**
 * Sources whose records change after they appear (risk detections, Defender alerts and incidents) are filtered on
 * their last-update field, so each change is listed again; `versionField` then makes every change its own record
 * in the ledger (docs/decisions/0141).
 */
export const GRAPH_SOURCE_SPECS: Record<WindowedGraphSource, GraphSourceSpec> = {
  'graph:signIns': { path: 'auditLogs/signIns', dateField: 'createdDateTime', budget: 'graph-report', sliceable: true },
  'graph:nonInteractiveSignIns': { path: 'auditLogs/signIns', dateField: 'createdDateTime', budget: 'graph-report', sliceable: true },
  'graph:servicePrincipalSignIns': { path: 'auditLogs/signIns', dateField: 'createdDateTime', budget: 'graph-report', sliceable: true },
  'graph:managedIdentitySignIns': { path: 'auditLogs/signIns', dateField: 'createdDateTime', budget: 'graph-report', sliceable: true },
  'graph:directoryAudits': { path: 'auditLogs/directoryAudits', dateField: 'activityDateTime', budget: 'graph-report', sliceable: true },
  'graph:riskyUsers': {
    path: 'identityProtection/riskyUsers',
    dateField: 'riskLastUpdatedDateTime',
    budget: 'identity-protection',
    versionField: 'riskLastUpdatedDateTime',
    top: 500,
    sliceable: false,
  },
  'graph:riskDetections': {
    path: 'identityProtection/riskDetections',
    dateField: 'lastUpdatedDateTime',
    budget: 'identity-protection',
    versionField: 'lastUpdatedDateTime',
    top: 500,
    sliceable: false,
  },
  'graph:servicePrincipalRiskDetections': {
    path: 'identityProtection/servicePrincipalRiskDetections',
    dateField: 'lastUpdatedDateTime',
    budget: 'identity-protection',
    versionField: 'lastUpdatedDateTime',
    sliceable: false,
  },
  'graph:provisioning': { path: 'auditLogs/provisioning', dateField: 'activityDateTime', budget: 'graph-report', sliceable: false },
  'graph:securityAlerts': {
    path: 'security/alerts_v2',
    dateField: 'lastUpdateDateTime',
    budget: 'security',
    versionField: 'lastUpdateDateTime',
    sliceable: false,
  },
  'graph:securityIncidents': {
    path: 'security/incidents',
    dateField: 'lastUpdateDateTime',
    budget: 'security',
    versionField: 'lastUpdateDateTime',
    sliceable: false,
  },
};

/** The spec a source is polled with in a cloud: sign-ins take their version and type filter from SIGN_IN_ENDPOINTS. */
export function graphSourceSpec(source: keyof typeof GRAPH_SOURCE_SPECS, cloud: Cloud): GraphSourceSpec {
  const spec = GRAPH_SOURCE_SPECS[source];
  if (!isSignInSource(source)) return spec;
  const endpoint = SIGN_IN_ENDPOINTS[cloud][SIGN_IN_SOURCES[source]];
  return { ...spec, version: endpoint.version, extraFilter: endpoint.eventTypeFilter };
}

export const graphPageSchema = z.looseObject({
  value: z.array(z.unknown()).default([]),
  '@odata.nextLink': z.string().optional(),
});

/**
 * Builds the first page URL of a query: records dated from `fromMs` on, or, with `throughMs`, from `fromMs` through
 * `throughMs` (both bounds inclusive: `lt` is not documented for sign-ins).
 */
export function graphQueryUrl(graphHost: string, spec: GraphSourceSpec, fromMs: number, throughMs?: number): string {
  const from = `${spec.dateField} ge ${formatGraphTime(fromMs)}`;
  const dated = throughMs === undefined ? from : `${from} and ${spec.dateField} le ${formatGraphTime(throughMs)}`;
  const filter = spec.extraFilter ? `${dated} and ${spec.extraFilter}` : dated;
  const params = [`$filter=${encodeURIComponent(filter)}`];
  if (spec.top) params.push(`$top=${spec.top}`);
  return `${graphHost}/${spec.version ?? 'v1.0'}/${spec.path}?${params.join('&')}`;
}

/** One query of a cycle: `[startMs, endMs]`, or, for the last, from `startMs` on with `endMs` the cycle's start. */
export interface GraphSlice {
  startMs: number;
  endMs: number;
  /** Asked without an upper bound, exactly as an unsliced cycle asks. */
  openEnded: boolean;
}

/**
 * Cuts a cycle's window `[fromMs, toMs)` into consecutive slices of `sliceMs`, oldest first; the last one is open
 * ended, so a window no longer than a slice (every usual cycle) is one query, as it always was. Bounded slices end
 * on whole seconds, the precision of Graph's `$filter` literals, so a slice's end is exactly what it asked through.
 */
export function graphSlices(fromMs: number, toMs: number, sliceMs: number): GraphSlice[] {
  if (!(sliceMs >= 1_000)) throw new RangeError(`a Graph slice must be at least one second, got ${sliceMs} ms`);
  const slices: GraphSlice[] = [];
  let start = fromMs;
  while (toMs - start > sliceMs) {
    const end = floorSecond(start + sliceMs);
    slices.push({ startMs: start, endMs: end, openEnded: false });
    start = end;
  }
  slices.push({ startMs: start, endMs: toMs, openEnded: true });
  return slices;
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
    if (seen.has(url))
      throw new ApiPermanentError({
        reason: 'malformed_response',
        code: 'paging_loop',
        httpStatus: null,
        retriable: false,
        message: '@odata.nextLink repeats a page already read',
      });
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
    if (!Object.hasOwn(GRAPH_SOURCE_SPECS, ctx.source)) throw new Error(`no Graph spec for ${ctx.source}`);
    this.spec = graphSourceSpec(ctx.source as keyof typeof GRAPH_SOURCE_SPECS, ctx.profile.cloud);
    this.target = { tenantId: ctx.tenantId, cloud: ctx.profile.cloud, resource: 'graph', base: ctx.profile.graphHost, budget: this.spec.budget };
  }

  async runCycle(signal: AbortSignal): Promise<CycleReport> {
    const report = emptyReport();
    const s = this.ctx.settings;
    const startedAt = this.ctx.now();
    const cursor = this.ctx.progress.effectiveCursorMs;
    await this.markRetentionPassed(cursor, startedAt, signal, report);
    const { fromMs: from, deep } = graphQueryStart(cursor, startedAt, this.lastDeepAtMs, s);
    // What is at risk of passing Microsoft's retention is what follows the cursor, not the deeper re-query.
    const oldestPending = cursor === null ? from : cursor - s.graphLagMs;
    const slices = this.spec.sliceable ? graphSlices(from, startedAt, s.graphSliceMs) : [{ startMs: from, endMs: startedAt, openEnded: true }];
    for (const slice of slices) {
      report.oldestPendingMs = Math.max(oldestPending, slice.startMs);
      await this.publishSlice(slice, report, signal);
      if (slice.openEnded) {
        // Every page committed: the watermark moves to when this cycle asked.
        await this.ctx.progress.advance(startedAt, s.checkpointIntervalMs);
      } else if (slice.endMs > (this.ctx.progress.effectiveCursorMs ?? Number.NEGATIVE_INFINITY)) {
        // Committed now, not kept in memory: a later slice failing under throttling must not cost this one.
        await this.ctx.progress.advance(slice.endMs, 0);
      }
      // The deeper re-query is done once the slices reached the cursor the cycle started from; a failure in a
      // later slice then resumes from the new cursor − the usual lag, not a deep window again.
      if (deep && (slice.openEnded || cursor === null || slice.endMs >= cursor)) this.lastDeepAtMs = startedAt;
    }
    report.oldestPendingMs = null;
    return report;
  }

  /**
   * The retention clock (decision 0151): what followed the cursor and is now older than the tenant's licence keeps
   * is recorded as lost, once. The query still asks from the cursor: Graph serves whatever it still has, and a tier
   * read wrong must never cost a record.
   */
  private async markRetentionPassed(cursor: number | null, nowMs: number, signal: AbortSignal, report: CycleReport): Promise<void> {
    if (cursor === null) return;
    const { warnMs } = retentionFor(this.ctx.source, null);
    if (warnMs === null || cursor >= nowMs - warnMs) return; // within every tier's retention: no need to ask the tier
    const tier = (await this.ctx.licence?.tier(signal)) ?? null;
    const lost = passedRetention(cursor, nowMs, retentionFor(this.ctx.source, tier).markMs);
    if (lost === null) return;
    report.lostMs = lost.toMs - lost.fromMs;
    await recordGap(this.ctx, { ...lost, cause: 'retention_passed', recordedAtMs: nowMs });
  }

  /**
   * Publishes every page of one slice. Slices are closed intervals, so a record dated exactly on a boundary is
   * listed by both neighbours; the record-id ledger drops the second.
   */
  private async publishSlice(slice: GraphSlice, report: CycleReport, signal: AbortSignal): Promise<void> {
    const firstUrl = graphQueryUrl(this.ctx.profile.graphHost, this.spec, slice.startMs, slice.openEnded ? undefined : slice.endMs);
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
  }
}
