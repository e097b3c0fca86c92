import type { CloudProfile, Logger, SourceName } from '../runtime/index.ts';
import { withRetry } from '../runtime/index.ts';
import { addGap, gapMessage, type GapMs } from './data-loss.ts';
import type { IngestSettings } from './config.ts';
import type { IngestMetrics } from './metrics.ts';
import type { MicrosoftHttp } from './microsoft-http.ts';
import type { CommitResult, ReadyRecord, RefusedRecord, SourceProgress } from './source-progress.ts';
import { guardRecord } from './tenant-guard.ts';
import type { TenantLicence } from './licence-tier.ts';
import type { TenantQuota } from './tenant-quota.ts';

/** What every poller gets: one (organization, source), its committed progress and the shared clients. */
export interface PollerContext {
  orgId: string;
  tenantId: string;
  profile: CloudProfile;
  source: SourceName;
  http: MicrosoftHttp;
  progress: SourceProgress;
  settings: IngestSettings;
  metrics: IngestMetrics;
  logger: Logger;
  now: () => number;
  /** The organization's record quota, shared by its sources (absent in unit tests of one poller). */
  quota?: TenantQuota;
  /** The organization's Entra ID licence tier, shared by its sources (absent in unit tests of one poller). */
  licence?: TenantLicence;
}

export interface CycleReport {
  published: number;
  duplicates: number;
  deadLettered: number;
  /** Oldest content not yet fetched (ms), for hoursUntilDataLoss; null when the cycle caught up. */
  oldestPendingMs: number | null;
  /** Content found past Microsoft's retention when the cycle started (ms of time span), 0 normally. */
  lostMs: number;
  /** Records refused because they named another tenant. */
  tenantMismatches: number;
  /** When the next cycle should run at the latest (registration snapshots run less often). */
  nextRunInMs?: number;
}

export interface Poller {
  runCycle(signal: AbortSignal): Promise<CycleReport>;
}

export const emptyReport = (): CycleReport => ({ published: 0, duplicates: 0, deadLettered: 0, oldestPendingMs: null, lostMs: 0, tenantMismatches: 0 });

/** Records a data-loss marker in the checkpoint, durably (one transaction), and logs it once. */
export async function recordGap(ctx: PollerContext, gap: GapMs): Promise<void> {
  const before = ctx.progress.checkpoint.gaps;
  const after = addGap(before, gap);
  if (after.length === before.length && after.every((g, i) => g === before[i])) return;
  await ctx.progress.commit({ mutate: (cp) => ({ ...cp, gaps: addGap(cp.gaps, gap) }) });
  ctx.metrics.dataLost.inc({ source: ctx.source });
  ctx.logger.error(
    { orgId: ctx.orgId, source: ctx.source, cause: gap.cause, from: new Date(gap.fromMs).toISOString(), to: new Date(gap.toMs).toISOString() },
    gapMessage(gap),
  );
}

/** Adds what one committed change did to the cycle's report. */
export function countCommitted(report: CycleReport, committed: CommitResult): void {
  report.published += committed.published;
  report.duplicates += committed.duplicates;
  report.deadLettered += committed.deadLettered;
}

/** Commits one page's records and refusals, when it has any, and counts them in the report. */
export async function commitPage(ctx: PollerContext, report: CycleReport, records: ReadyRecord[], refused: RefusedRecord[]): Promise<void> {
  if (records.length === 0 && refused.length === 0) return;
  countCommitted(report, await ctx.progress.commit({ records, deadLetters: refused }));
}

/**
 * Guarantee 3 over one page of records: a malformed record or one naming another tenant is refused (the latter
 * counted in the report and the tenant-mismatch metric, keyed by `mismatchKey` when given so it is dead-lettered once
 * per horizon); every other record becomes what `ready` makes of it.
 */
export function guardPage(
  ctx: PollerContext,
  report: CycleReport,
  api: 'management' | 'graph',
  page: readonly unknown[],
  ready: (record: Record<string, unknown>) => ReadyRecord,
  mismatchKey?: (record: Record<string, unknown>) => string,
): { records: ReadyRecord[]; refused: RefusedRecord[] } {
  const records: ReadyRecord[] = [];
  const refused: RefusedRecord[] = [];
  for (const rec of page) {
    const verdict = guardRecord(rec, ctx.tenantId, api);
    if (verdict.kind === 'malformed') {
      refused.push({ errorCode: 'malformed_record', errorMessage: verdict.reason, input: rec });
      continue;
    }
    if (verdict.kind === 'tenant_mismatch') {
      report.tenantMismatches++;
      ctx.metrics.tenantMismatch.inc({ source: ctx.source });
      const refusal: RefusedRecord = {
        errorCode: 'tenant_mismatch',
        errorMessage: `record names tenant ${verdict.foundTenantId}, organization ${ctx.orgId} is pinned to ${ctx.tenantId}`,
        input: rec,
      };
      refused.push(mismatchKey ? { dedupKey: mismatchKey(rec as Record<string, unknown>), ...refusal } : refusal);
      continue;
    }
    records.push(ready(rec as Record<string, unknown>));
  }
  return { records, refused };
}

/** Runs `fn` over items with at most `concurrency` at once; collects the first error but lets the others finish. */
export async function runPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<unknown[]> {
  const errors: unknown[] = [];
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        errors.push(error);
      }
    }
  });
  await Promise.all(workers);
  return errors;
}

/**
 * Retries one idempotent Microsoft call a few times within a cycle (retriable failures only; Retry-After and
 * throttling pauses honoured). What still fails is the cycle's failure: the cursor does not move and the next
 * cycle retries — nothing is skipped.
 */
export function attempt<T>(step: () => Promise<T>, signal: AbortSignal, attempts = 3): Promise<T> {
  return withRetry(() => step(), { attempts, initialMs: 200, maxMs: 5_000, signal });
}

/** Stable JSON of a value (sorted keys): a dedup key for records without an id (field order is not stable). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
