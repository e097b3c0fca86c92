/**
 * Pipeline-added latency (issue 8): from the moment the simulator makes a record available (its ledger
 * `availableAt`: the Management blob's contentCreated, the Graph record's publication) to the moment the record is
 * searchable in OpenSearch, over the whole pipeline (simulator → ingest → m365.raw → normalize → siem.events →
 * index → refresh) with a 5 s poll interval. The poll interval is the baseline measured against in the same run:
 * a poller cannot do better than wait for its next cycle, so p99 / interval says how much the pipeline adds on top.
 * Goal: p99 ≤ 10 s (the leading peer integration polls every 3 minutes by default).
 *
 * Records are added in small bursts at random moments relative to the poll cycles; a watcher queries OpenSearch
 * every 150 ms for the ids not yet seen (terms query on event.id) and records when each first appears.
 */
import path from 'node:path';
import { startPipeline, waitUntil, type Pipeline } from '../tests/e2e/harness.ts';
import type { SourceName } from '../runtime/index.ts';
import type { BenchContext, BenchResult } from './types.ts';

const POLL_INTERVAL_MS = 5_000;
const GOAL_P99_MS = 10_000;
const FEED_MS = 50_000;
const DRAIN_MS = 30_000;
const WATCH_EVERY_MS = 150;
const SOURCES: SourceName[] = ['management:Audit.Exchange', 'management:Audit.AzureActiveDirectory', 'graph:signIns'];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default async function run(ctx?: BenchContext): Promise<BenchResult[]> {
  const caFile = process.env.NODE_EXTRA_CA_CERTS;
  if (!caFile) throw new Error('NODE_EXTRA_CA_CERTS must point at the simulator CA (bench/run.ts sets it)');
  const kafkaBrokers = ctx?.kafkaBrokers || process.env.KAFKA_BROKERS || '';
  const opensearchUrl = ctx?.opensearchUrl || process.env.OPENSEARCH_URL || '';
  let p: Pipeline | null = null;
  try {
    p = await startPipeline({
      kafkaBrokers,
      opensearchUrl,
      simulatorStateDir: path.dirname(caFile),
      logLevel: process.env.BENCH_LOG_LEVEL ?? 'error',
      env: {
        INGEST_POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
        // Graph's own indexing delay is not simulated here (no out-of-order records): a short lag keeps cycles small.
        INGEST_GRAPH_LAG_MS: '60000',
        INGEST_INITIAL_LOOKBACK_MS: '60000',
      },
    });
    const pipeline = p;
    for (const name of ['control-plane', 'index', 'normalize', 'ingest'] as const) await pipeline.start(name);
    const tenant = await pipeline.control.createTenant({
      name: 'Latency Bench',
      domain: `latency-${Date.now().toString(36)}.example`,
      users: 10,
      publicationDelayMs: [0, 0],
      graphThrottling: false,
    });
    const org = await pipeline.connect(tenant);
    await waitUntil(
      'ingest to start the Management subscriptions',
      async () => (await pipeline.control.getTenant(tenant.tenantId)).subscriptions.filter((s) => s.status === 'enabled').length >= 5,
      60_000,
      500,
    );
    // One full cycle of every source first, so the measurement starts in steady state.
    await sleep(POLL_INTERVAL_MS + 1_000);

    const availableAt = new Map<string, number>();
    const seenAt = new Map<string, number>();
    const feedStart = Date.now();
    let feeding = true;
    let watching = true;

    const refreshLedger = async () => {
      for (const source of SOURCES) {
        const ledger = await pipeline.control.ledger(tenant.tenantId, source);
        for (const r of ledger.records) {
          const at = Date.parse(r.availableAt);
          if (at >= feedStart && !availableAt.has(r.id)) availableAt.set(r.id, at);
        }
      }
    };

    const watcher = (async () => {
      let lastLedger = 0;
      while (watching) {
        if (Date.now() - lastLedger > 1_000) {
          await refreshLedger();
          lastLedger = Date.now();
        }
        const unseen = [...availableAt.keys()].filter((id) => !seenAt.has(id));
        for (let i = 0; i < unseen.length; i += 1_000) {
          const found = await pipeline.searchIds(unseen.slice(i, i + 1_000));
          const now = Date.now();
          for (const id of found.keys()) if (!seenAt.has(id)) seenAt.set(id, now);
        }
        if (!feeding && unseen.length === 0 && availableAt.size > 0) break;
        await sleep(WATCH_EVERY_MS);
      }
    })();

    // Small bursts at random moments: the phase against the poll cycle varies from burst to burst.
    while (Date.now() - feedStart < FEED_MS) {
      for (const source of SOURCES) await pipeline.control.addRecords(tenant.tenantId, source, 5);
      await sleep(1_000 + Math.floor(Math.random() * 2_500));
    }
    feeding = false;
    await refreshLedger();
    const drainUntil = Date.now() + DRAIN_MS;
    while (Date.now() < drainUntil && [...availableAt.keys()].some((id) => !seenAt.has(id))) await sleep(250);
    watching = false;
    await watcher;

    const latencies = [...availableAt]
      .filter(([id]) => seenAt.has(id))
      .map(([id, at]) => (seenAt.get(id) as number) - at)
      .sort((a, b) => a - b);
    const missing = availableAt.size - latencies.length;
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const notes = `${latencies.length} records of ${SOURCES.join(', ')} for organization ${org.orgId}; ${missing} not searchable within ${DRAIN_MS / 1000} s after the last burst; max ${(latencies[latencies.length - 1] ?? 0) / 1000} s; searchable detected by polling every ${WATCH_EVERY_MS} ms (index refresh 1 s)`;
    process.stderr.write(`[pipeline-latency] p50 ${p50} ms, p99 ${p99} ms; ${notes}\n`);
    const baseline = 'INGEST_POLL_INTERVAL_MS of this run';
    const seconds = POLL_INTERVAL_MS / 1000;
    return [
      {
        name: 'pipeline.latency.p99',
        value: p99 / 1000,
        unit: 's',
        baseline,
        baselineValue: seconds,
        ratio: p99 / POLL_INTERVAL_MS,
        goal: `p99 <= ${GOAL_P99_MS / 1000} s (ratio <= ${GOAL_P99_MS / POLL_INTERVAL_MS}), nothing missing`,
        met: missing === 0 && p99 <= GOAL_P99_MS,
        notes,
      },
      {
        name: 'pipeline.latency.p50',
        value: p50 / 1000,
        unit: 's',
        baseline,
        baselineValue: seconds,
        ratio: p50 / POLL_INTERVAL_MS,
        goal: 'p50 <= the poll interval (ratio <= 1)',
        met: missing === 0 && p50 <= POLL_INTERVAL_MS,
        notes,
      },
    ];
  } finally {
    await p?.close();
  }
}
