import { z } from 'zod';
import type { Cloud, ManagementSource } from '../runtime/index.ts';
import type { Backfill } from './checkpoint-store.ts';
import { graphPages } from './graph-poller.ts';
import { failureOf, type RequestTarget } from './microsoft-http.ts';
import { attempt, canonicalJson, emptyReport, guardPage, type CycleReport, type PollerContext } from './poller.ts';
import type { ReadyRecord, SourceProgress } from './source-progress.ts';
import { parseMicrosoftDate } from './windows.ts';

/**
 * History before the connection (issue 18 item 6, docs/decisions/0155): the unified audit log of a period, fetched
 * through the Purview Audit Search API in Graph (POST security/auditLog/queries, poll the query until it succeeded,
 * page its records) and published like the Management Activity API's records: each record's `auditData` is the same
 * record with the same `Id`, committed through the SourceProgress of the Management source that serves it, so one
 * dedup ledger decides for both and a record is published once whichever API delivers it first.
 */

/** "This API is available in the following national cloud deployments": Global service only (every Audit Search page). */
export const AUDIT_SEARCH_CLOUDS: Readonly<Record<Cloud, boolean>> = { commercial: true, gcc: true, 'gcc-high': false, dod: false };

/** Audit (Standard) keeps unified audit log records 180 days (Microsoft Purview, "Audit log retention policies"). */
export const AUDIT_RETENTION_MS = 180 * 24 * 3_600_000;

/** approximateReturnedRecordCount is Int64, which Graph may send as a string (OData IEEE754Compatible). */
const querySchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  approximateReturnedRecordCount: z.union([z.number(), z.string()]).nullish(),
});

/** Microsoft's record count of a query as a whole number, or null when it gave none (or nothing readable). */
export function recordCountOf(value: number | string | null | undefined): number | null {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.round(n) : null;
}

/** DLP record types the Management API serves under DLP.All (Management Activity API schema, AuditLogRecordType). */
const DLP_RECORD_TYPES = new Set([11, 13, 33, 63, 99, 100, 107]);

/** The Management content type serving a unified audit log record (its Workload and RecordType). */
export function managementSourceOf(record: Record<string, unknown>): ManagementSource {
  if (DLP_RECORD_TYPES.has(Number(record.RecordType))) return 'management:DLP.All';
  const workload = String(record.Workload ?? '').toLowerCase();
  if (workload === 'azureactivedirectory') return 'management:Audit.AzureActiveDirectory';
  if (workload === 'exchange') return 'management:Audit.Exchange';
  if (workload === 'sharepoint' || workload === 'onedrive') return 'management:Audit.SharePoint';
  return 'management:Audit.General';
}

/** The period to back-fill: from the asked time (or `maxDays` back), never before what Audit Standard keeps. */
export function backfillPeriod(nowMs: number, requestedFromMs: number | null, maxDays: number): { fromMs: number; toMs: number } {
  const oldest = nowMs - AUDIT_RETENTION_MS + 60_000;
  const from = requestedFromMs ?? nowMs - maxDays * 24 * 3_600_000;
  return { fromMs: Math.min(nowMs, Math.max(oldest, from)), toMs: nowMs };
}

/** The Management record inside an auditLogRecord, without Graph's type annotation (the same record the Management API serves). */
export function auditDataOf(item: unknown): Record<string, unknown> | null {
  if (!item || typeof item !== 'object') return null;
  const data = (item as Record<string, unknown>).auditData;
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const { '@odata.type': _type, ...record } = data as Record<string, unknown>;
  return record;
}

export interface BackfillDeps {
  /** The anchor source's context (http, settings, metrics, logger, clock); records go to their own source's progress. */
  ctx: PollerContext;
  progressOf: (source: ManagementSource) => SourceProgress | undefined;
  /** Called on every state change, to persist and show it. */
  update: (backfill: Backfill) => Promise<void>;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Runs one back-fill generation to its outcome; every step is persisted through `update`. */
/** What the back-fill status says when the tenant has not granted its role, with the remedy. */
export function notPermittedMessage(missingRoles: readonly string[]): string {
  return `not permitted: the application lacks the Graph role ${missingRoles.join(', ')} (permission manifest version 4); approve the pending permission upgrade (a new admin consent, or auto-upgrade), then run replay --backfill`;
}

export async function runBackfill(
  deps: BackfillDeps,
  generation: number,
  requestedFromMs: number | null,
  signal: AbortSignal,
  missingRoles: readonly string[] = [],
): Promise<Backfill> {
  const { ctx } = deps;
  const { fromMs, toMs } = backfillPeriod(ctx.now(), requestedFromMs, ctx.settings.backfillMaxDays);
  let state: Backfill = {
    generation,
    state: 'querying',
    queryId: null,
    queryStatus: null,
    fromMs,
    toMs,
    recordsFetched: 0,
    published: 0,
    duplicates: 0,
    message: null,
    startedMs: ctx.now(),
    finishedMs: null,
    recordsExpected: null,
    fetchingStartedMs: null,
  };
  const set = async (patch: Partial<Backfill>) => {
    state = { ...state, ...patch };
    if (patch.finishedMs !== undefined && patch.finishedMs !== null) ctx.metrics.backfillQueries.inc({ outcome: state.state });
    await deps.update(state);
    return state;
  };
  if (!AUDIT_SEARCH_CLOUDS[ctx.profile.cloud])
    return set({
      state: 'not_offered',
      message: `the Audit Search API is not offered in ${ctx.profile.cloud} (Microsoft: global service only); history before the connection is not back-filled`,
      finishedMs: ctx.now(),
    });
  // The control plane knows the granted roles: without the back-fill's role no query is made (Microsoft answers 403).
  if (missingRoles.length > 0) return set({ state: 'not_permitted', message: notPermittedMessage(missingRoles), finishedMs: ctx.now() });
  await set({});
  const target: RequestTarget = { tenantId: ctx.tenantId, cloud: ctx.profile.cloud, resource: 'graph', base: ctx.profile.graphHost, budget: 'graph-other' };
  const queries = `${ctx.profile.graphHost}/v1.0/security/auditLog/queries`;
  try {
    const created = await attempt(
      () =>
        ctx.http.json(target, queries, querySchema, {
          api: 'graph',
          method: 'POST',
          body: {
            '@odata.type': '#microsoft.graph.security.auditLogQuery',
            displayName: `m365-siem back-fill ${ctx.orgId} #${generation}`,
            filterStartDateTime: new Date(fromMs).toISOString(),
            filterEndDateTime: new Date(toMs).toISOString(),
          },
          signal,
        }),
      signal,
    );
    let status = created.body.status;
    let latest = created.body;
    await set({ queryId: created.body.id, queryStatus: status });
    while (status === 'notStarted' || status === 'running') {
      await deps.sleep(ctx.settings.backfillPollMs, signal);
      const got = await attempt(() => ctx.http.json(target, `${queries}/${created.body.id}`, querySchema, { api: 'graph', signal }), signal);
      if (got.body.status !== status) await set({ queryStatus: got.body.status });
      status = got.body.status;
      latest = got.body;
    }
    if (status !== 'succeeded')
      return set({ state: 'failed', message: `Microsoft's audit log query ended ${status}; run replay --backfill to try again`, finishedMs: ctx.now() });
    await set({ state: 'fetching', recordsExpected: recordCountOf(latest.approximateReturnedRecordCount), fetchingStartedMs: ctx.now() });
    for await (const page of graphPages(ctx, target, `${queries}/${created.body.id}/records`, signal)) await publishPage(deps, page, set, () => state);
    return set({ state: 'succeeded', finishedMs: ctx.now() });
  } catch (error) {
    if (signal.aborted) throw error;
    const f = failureOf(error);
    const outcome = f.reason === 'permission_missing' || f.reason === 'consent_revoked' ? 'not_permitted' : 'failed';
    const hint = outcome === 'not_permitted' ? ` — ${notPermittedMessage(['AuditLogsQuery.Read.All'])}` : '';
    return set({ state: outcome, message: `${f.code}: ${f.message}${hint}`.slice(0, 500), finishedMs: ctx.now() });
  }
}

async function publishPage(deps: BackfillDeps, page: unknown[], set: (patch: Partial<Backfill>) => Promise<Backfill>, current: () => Backfill): Promise<void> {
  const records = page.map(auditDataOf).filter((r): r is Record<string, unknown> => r !== null);
  const bySource = new Map<ManagementSource, Record<string, unknown>[]>();
  for (const r of records) {
    const source = managementSourceOf(r);
    bySource.set(source, [...(bySource.get(source) ?? []), r]);
  }
  let published = 0;
  let duplicates = 0;
  for (const [source, list] of bySource) {
    const progress = deps.progressOf(source);
    if (!progress) continue; // not a source this organization collects (its consent does not cover it)
    const report: CycleReport = emptyReport();
    const ctx = { ...deps.ctx, source, progress };
    const { records: ready, refused } = guardPage(ctx, report, 'management', list, (r): ReadyRecord => {
      const id = typeof r.Id === 'string' && r.Id !== '' ? r.Id : `sha:${canonicalJson(r)}`;
      return { dedupKey: id, record: r, eventMs: parseMicrosoftDate(r.CreationTime) };
    });
    const committed = await progress.commit({ records: ready, deadLetters: refused });
    published += committed.published;
    duplicates += committed.duplicates;
  }
  deps.ctx.metrics.backfillRecords.inc(page.length);
  const s = current();
  await set({ recordsFetched: s.recordsFetched + page.length, published: s.published + published, duplicates: s.duplicates + duplicates });
}
