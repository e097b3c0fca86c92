import { z } from 'zod';
import type { GraphSource } from '../runtime/index.ts';
import type { BudgetKind } from './rate-budget.ts';
import { ApiPermanentError, type RequestTarget } from './microsoft-http.ts';
import { attempt, canonicalJson, emptyReport, type CycleReport, type Poller, type PollerContext } from './poller.ts';
import type { ReadyRecord, RefusedRecord } from './source-progress.ts';
import { guardRecord } from './tenant-guard.ts';
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

export function graphDedupKey(record: Record<string, unknown>, spec: GraphSourceSpec): string {
  const id = typeof record.id === 'string' && record.id !== '' ? record.id : `sha:${canonicalJson(record)}`;
  if (!spec.versionField) return id;
  const v = record[spec.versionField];
  return `${id}|${typeof v === 'string' ? v : canonicalJson(v ?? null)}`;
}

export class GraphPoller implements Poller {
  private readonly spec: GraphSourceSpec;
  private readonly target: RequestTarget;

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
    const from = cursor === null ? startedAt - s.initialLookbackMs : cursor - s.graphLagMs;
    report.oldestPendingMs = from;
    let url: string | null = graphQueryUrl(this.ctx.profile.graphHost, this.spec, from);
    const seen = new Set<string>();
    while (url !== null) {
      if (seen.has(url)) throw new ApiPermanentError({ reason: 'malformed_response', code: 'paging_loop', httpStatus: null, retriable: false, message: '@odata.nextLink repeats a page already read' });
      seen.add(url);
      const pageUrl: string = url;
      // nextLink is followed verbatim, and only to this cloud's Graph host (checked by MicrosoftHttp).
      const page = await attempt(() => this.ctx.http.json(this.target, pageUrl, graphPageSchema, { api: 'graph', signal }), signal);
      const next = page.body['@odata.nextLink'];
      url = typeof next === 'string' && next.trim() !== '' ? next.trim() : null;
      const records: ReadyRecord[] = [];
      const refused: RefusedRecord[] = [];
      for (const rec of page.body.value) {
        const verdict = guardRecord(rec, this.ctx.tenantId, 'graph');
        if (verdict.kind === 'malformed') {
          refused.push({ errorCode: 'malformed_record', errorMessage: verdict.reason, input: rec });
          continue;
        }
        if (verdict.kind === 'tenant_mismatch') {
          report.tenantMismatches++;
          this.ctx.metrics.tenantMismatch.inc({ source: this.ctx.source });
          refused.push({ dedupKey: graphDedupKey(rec as Record<string, unknown>, this.spec), errorCode: 'tenant_mismatch', errorMessage: `record names tenant ${verdict.foundTenantId}, organization ${this.ctx.orgId} is pinned to ${this.ctx.tenantId}`, input: rec });
          continue;
        }
        const r = rec as Record<string, unknown>;
        records.push({ dedupKey: graphDedupKey(r, this.spec), record: r, eventMs: parseMicrosoftDate(r[this.spec.dateField]) });
      }
      if (report.tenantMismatches > 0 && refused.length > 0) {
        this.ctx.logger.error({ orgId: this.ctx.orgId, source: this.ctx.source }, 'ALARM: records of another tenant refused and dead-lettered');
      }
      if (records.length > 0 || refused.length > 0) {
        const r = await this.ctx.progress.commit({ records, deadLetters: refused });
        report.published += r.published;
        report.duplicates += r.duplicates;
        report.deadLettered += r.deadLettered;
      }
    }
    // Every page committed: the watermark moves to when this cycle asked.
    await this.ctx.progress.advance(startedAt, s.checkpointIntervalMs);
    report.oldestPendingMs = null;
    return report;
  }
}
