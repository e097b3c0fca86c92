import { describe, expect, it } from 'vitest';
import { createLogger, defaultCloudProfiles, parseSettings, parseTopicSettings, topicSpecs, type SourceName } from '../../runtime/index.ts';
import { emptyCheckpoint, IdLedger } from '../../ingest/checkpoint-store.ts';
import { ingestSettingsSpec } from '../../ingest/config.ts';
import { GRAPH_SOURCE_SPECS, GraphPoller, graphQueryUrl, graphSlices } from '../../ingest/graph-poller.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { ApiRetriableError, type MicrosoftHttp } from '../../ingest/microsoft-http.ts';
import type { TransactionalWriter, Unit } from '../../ingest/raw-publisher.ts';
import { SourceProgress } from '../../ingest/source-progress.ts';

const SECOND = 1_000;
const MIN = 60 * SECOND;
const HOUR = 60 * MIN;
const T = Date.UTC(2026, 2, 10, 12, 0, 0);
const TENANT = 'f28ab78a-d401-4060-8012-736e373933eb';
const HOST = 'https://graph.microsoft.com';

describe('graphSlices', () => {
  it('keeps a window no longer than a slice as the one open-ended query of every usual cycle', () => {
    expect(graphSlices(T - 15 * MIN, T, 6 * HOUR)).toEqual([{ startMs: T - 15 * MIN, endMs: T, openEnded: true }]);
    expect(graphSlices(T - 6 * HOUR, T, 6 * HOUR)).toEqual([{ startMs: T - 6 * HOUR, endMs: T, openEnded: true }]);
  });

  it('cuts a longer window into bounded slices oldest first, the last one open ended, with no empty slice on an exact multiple', () => {
    expect(graphSlices(T - 18 * HOUR, T, 6 * HOUR)).toEqual([
      { startMs: T - 18 * HOUR, endMs: T - 12 * HOUR, openEnded: false },
      { startMs: T - 12 * HOUR, endMs: T - 6 * HOUR, openEnded: false },
      { startMs: T - 6 * HOUR, endMs: T, openEnded: true },
    ]);
    expect(graphSlices(T - 13 * HOUR, T, 6 * HOUR).map((s) => [(s.endMs - s.startMs) / HOUR, s.openEnded])).toEqual([
      [6, false],
      [6, false],
      [1, true],
    ]);
  });

  it('ends bounded slices on whole seconds, the precision of a $filter literal, and leaves no gap between slices', () => {
    const from = T - 3 * HOUR - 1_234;
    const slices = graphSlices(from, T + 567, HOUR);
    expect(slices[0]?.startMs).toBe(from);
    expect(slices.at(-1)?.endMs).toBe(T + 567);
    for (const s of slices.slice(0, -1)) expect(s.endMs % SECOND).toBe(0);
    for (let i = 1; i < slices.length; i++) expect(slices[i]?.startMs).toBe(slices[i - 1]?.endMs);
  });

  it('gives one open-ended query for an empty or negative window (the cursor at or past now)', () => {
    expect(graphSlices(T, T, HOUR)).toEqual([{ startMs: T, endMs: T, openEnded: true }]);
    expect(graphSlices(T + 5 * MIN, T, HOUR)).toEqual([{ startMs: T + 5 * MIN, endMs: T, openEnded: true }]);
  });

  it('refuses a slice shorter than the one-second precision of the filter', () => {
    expect(() => graphSlices(T - HOUR, T, 0)).toThrow(RangeError);
    expect(() => graphSlices(T - HOUR, T, 999)).toThrow(RangeError);
  });
});

describe('graphQueryUrl', () => {
  it('asks an open-ended window with ge only, and a slice with ge and le on the same field', () => {
    const signIns = GRAPH_SOURCE_SPECS['graph:signIns'];
    expect(decodeURIComponent(graphQueryUrl(HOST, signIns, T - HOUR + 500))).toBe(
      `${HOST}/v1.0/auditLogs/signIns?$filter=createdDateTime ge 2026-03-10T11:00:00Z`,
    );
    expect(decodeURIComponent(graphQueryUrl(HOST, GRAPH_SOURCE_SPECS['graph:directoryAudits'], T - 2 * HOUR, T - HOUR))).toBe(
      `${HOST}/v1.0/auditLogs/directoryAudits?$filter=activityDateTime ge 2026-03-10T10:00:00Z and activityDateTime le 2026-03-10T11:00:00Z`,
    );
    expect(decodeURIComponent(graphQueryUrl(HOST, GRAPH_SOURCE_SPECS['graph:riskDetections'], T - HOUR))).toBe(
      `${HOST}/v1.0/identityProtection/riskDetections?$filter=lastUpdatedDateTime ge 2026-03-10T11:00:00Z&$top=500`,
    );
  });

  it('slices only the reports, whose date field documents le', () => {
    expect(
      Object.entries(GRAPH_SOURCE_SPECS)
        .filter(([, spec]) => spec.sliceable)
        .map(([source]) => source),
    ).toEqual(['graph:signIns', 'graph:nonInteractiveSignIns', 'graph:servicePrincipalSignIns', 'graph:managedIdentitySignIns', 'graph:directoryAudits']);
  });
});

/** A writer standing in for the Kafka transaction: what it holds is what was committed. */
class FakeWriter {
  units: Unit[] = [];
  async submit(unit: Unit): Promise<void> {
    this.units.push(unit);
  }
  committedCursors(key: string): Array<number | null> {
    return this.units.flatMap((u) =>
      u.messages.filter((m) => m.key === key && m.value !== null).map((m) => (JSON.parse(m.value as string) as { cursorMs: number | null }).cursorMs),
    );
  }
}

/**
 * A Graph report holding one sign-in every hour, answering `ge`/`le` filters newest first on one page; `fails`
 * decides which requests are throttled.
 */
function fakeGraph(fails: (filter: string) => boolean) {
  const records = Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, createdDateTime: new Date(T - i * HOUR - 30 * MIN).toISOString() }));
  const filters: string[] = [];
  const http = {
    json: async (_target: unknown, url: string, schema: { parse(v: unknown): unknown }) => {
      const filter = new URL(url).searchParams.get('$filter') ?? '';
      filters.push(filter);
      if (fails(filter))
        throw new ApiRetriableError({
          reason: 'throttled',
          code: 'TooManyRequests',
          httpStatus: 429,
          retriable: true,
          retryAfterMs: 1,
          message: 'Too many requests.',
        });
      const ge = Date.parse(/ ge (\S+)/.exec(filter)?.[1] ?? '');
      const le = Date.parse(/ le (\S+)/.exec(filter)?.[1] ?? '');
      const value = records.filter((r) => Date.parse(r.createdDateTime) >= ge && (Number.isNaN(le) || Date.parse(r.createdDateTime) <= le));
      return { status: 200, headers: new Headers(), body: schema.parse({ value }) };
    },
  };
  return { http: http as unknown as MicrosoftHttp, filters };
}

function poller(source: SourceName, http: MicrosoftHttp, writer: FakeWriter, now: () => number) {
  const settings = parseSettings(ingestSettingsSpec, {
    INGEST_PUBLISHER_IDENTIFIER: TENANT,
    INGEST_INITIAL_LOOKBACK_MS: String(24 * HOUR),
    INGEST_GRAPH_SLICE_MS: String(6 * HOUR),
    INGEST_GRAPH_LAG_MS: String(15 * MIN),
  });
  const metrics = createIngestMetrics(false);
  const logger = createLogger('test', { level: 'silent' });
  const progress = new SourceProgress('org', TENANT, source, emptyCheckpoint('org', source, TENANT), new IdLedger('org', source), {
    topics: topicSpecs(parseTopicSettings({})),
    writer: () => writer as unknown as TransactionalWriter,
    metrics,
    logger,
    dedupHorizonMs: settings.dedupHorizonMs,
    now,
  });
  const ctx = { orgId: 'org', tenantId: TENANT, profile: defaultCloudProfiles().commercial, source, http, progress, settings, metrics, logger, now };
  return { poller: new GraphPoller(ctx), progress };
}

describe('GraphPoller over a backlog', () => {
  it('commits each slice as it completes, so a later slice throttled to failure costs only itself', async () => {
    let now = T;
    let throttled = true;
    const graph = fakeGraph((f) => throttled && f.includes('ge 2026-03-10T00:00:00Z')); // the third of four slices
    const writer = new FakeWriter();
    const { poller: p, progress } = poller('graph:signIns', graph.http, writer, () => now);
    await expect(p.runCycle(new AbortController().signal)).rejects.toThrow('Too many requests');
    expect(graph.filters.slice(0, 2)).toEqual([
      'createdDateTime ge 2026-03-09T12:00:00Z and createdDateTime le 2026-03-09T18:00:00Z',
      'createdDateTime ge 2026-03-09T18:00:00Z and createdDateTime le 2026-03-10T00:00:00Z',
    ]);
    expect(new Set(writer.committedCursors('org|graph:signIns').filter((c) => c !== null))).toEqual(new Set([T - 18 * HOUR, T - 12 * HOUR]));
    expect(progress.checkpoint.cursorMs).toBe(T - 12 * HOUR);

    // The next cycle resumes at the committed cursor − the usual lag: the deeper re-query was done by slice one.
    now = T + MIN;
    throttled = false;
    graph.filters.length = 0;
    const report = await p.runCycle(new AbortController().signal);
    expect(graph.filters).toEqual([
      'createdDateTime ge 2026-03-09T23:45:00Z and createdDateTime le 2026-03-10T05:45:00Z',
      'createdDateTime ge 2026-03-10T05:45:00Z and createdDateTime le 2026-03-10T11:45:00Z',
      'createdDateTime ge 2026-03-10T11:45:00Z',
    ]);
    expect(progress.checkpoint.cursorMs).toBe(T + MIN);
    expect(report.oldestPendingMs).toBeNull();
    const published = writer.units.flatMap((u) =>
      u.messages.filter((m) => m.key === 'org').map((m) => (JSON.parse(m.value as string) as { record: { id: string } }).record.id),
    );
    expect(published.sort()).toEqual(Array.from({ length: 24 }, (_, i) => `s${i}`).sort());
  });

  it('asks a window shorter than a slice in the single open-ended query it always sent', async () => {
    const graph = fakeGraph(() => false);
    const writer = new FakeWriter();
    const now = T;
    const { poller: p, progress } = poller('graph:signIns', graph.http, writer, () => now);
    await progress.commit({ cursorMs: T - 5 * MIN });
    await p.runCycle(new AbortController().signal);
    await p.runCycle(new AbortController().signal);
    // The first cycle after a start re-queries 3 h deep, the next one the 15 min lag: both under one slice.
    expect(graph.filters).toEqual(['createdDateTime ge 2026-03-10T08:55:00Z', 'createdDateTime ge 2026-03-10T11:45:00Z']);
  });

  it('never slices risk detections, whose filter documents no le', async () => {
    const graph = fakeGraph(() => false);
    const { poller: p } = poller('graph:riskDetections', graph.http, new FakeWriter(), () => T);
    await p.runCycle(new AbortController().signal);
    // Changes are re-read by their last-update time (issue 18), not only new detections.
    expect(graph.filters).toEqual(['lastUpdatedDateTime ge 2026-03-09T12:00:00Z']);
  });
});
