/**
 * Soak (issue 19): sustained load through the whole pipeline — simulator → ingest → m365.raw → normalize →
 * siem.events → index → OpenSearch — for BENCH_SOAK_SECONDS (default 600 = 10 minutes) at the highest rate the
 * machine holds: a feeder keeps a backlog of records waiting at the simulator so no stage ever idles, and the rate
 * is whatever the pipeline then sustains. Reported:
 *   - throughput: documents indexed per second over the soak after a warm-up, against a bare `_bulk` replay of the
 *     same documents into the same node (same template, 1,000 per request, 2 in flight), measured in the same run;
 *   - lag over time: the normalizer's and the indexer's consumer lag (records, and seconds without a commit — the
 *     gauges of docs/pipeline-health.md), sampled every BENCH_SOAK_SAMPLE_SECONDS (10), against the stall threshold;
 *   - peak RSS per service (VmHWM of its own process), against its RSS once started and before the load.
 * Ingest, normalize and index run as their own processes (`m365-siem start <service>`); the simulator and the
 * control plane run in this process. Try it out with `BENCH_SOAK_SECONDS=60 npm run bench soak`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LagTracker, readGroupOffsets, type KafkaAdmin, type PipelineStage } from '../runtime/index.ts';
import { freePort } from '../tests/helpers/free-port.ts';
import { startPipeline, waitUntil, type Pipeline } from '../tests/e2e/harness.ts';
import type { BenchContext, BenchResult } from './types.ts';

const SOAK_MS = Number(process.env.BENCH_SOAK_SECONDS ?? 600) * 1000;
const SAMPLE_MS = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 10) * 1000;
/** The first part of the soak is warm-up (JIT, group joins, first polls) and not counted in the throughput. */
const WARMUP_MS = Math.min(60_000, SOAK_MS / 5);
const TENANTS = 6;
/** Records kept waiting at the simulator beyond what ingest has published: enough that no poll finds nothing. */
const SIM_BACKLOG = 20_000;
const ADD_BATCH = 2_000;
const STALL_SECONDS = 30;
const FED_SOURCES = ['management:Audit.Exchange', 'management:Audit.SharePoint'] as const;
const BASELINE_DOCS = 20_000;
const SERVICES = ['ingest', 'normalize', 'index'] as const;
type ChildName = (typeof SERVICES)[number];

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident set size now and at its peak (kB → MB) of a process, from /proc (Linux). */
function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN');
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

type Sample = {
  t: number;
  docs: number;
  rawRecords: number;
  normalizeLagRecords: number;
  normalizeLagSeconds: number;
  indexLagRecords: number;
  indexLagSeconds: number;
  ingestRssMb: number;
  normalizeRssMb: number;
  indexRssMb: number;
};

export default async function run(ctx?: BenchContext): Promise<BenchResult[]> {
  const caFile = process.env.NODE_EXTRA_CA_CERTS;
  if (!caFile) throw new Error('NODE_EXTRA_CA_CERTS must point at the simulator CA (bench/run.ts sets it)');
  let p: Pipeline | null = null;
  const children = new Map<ChildName, { child: ChildProcess; log: () => string; opsPort: number }>();
  let admin: KafkaAdmin | null = null;
  try {
    p = await startPipeline({
      kafkaBrokers: ctx?.kafkaBrokers || process.env.KAFKA_BROKERS || '',
      opensearchUrl: ctx?.opensearchUrl || process.env.OPENSEARCH_URL || '',
      simulatorStateDir: path.dirname(caFile),
      logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
      env: {
        TOPIC_DATA_PARTITIONS: '6',
        INGEST_GRAPH_LAG_MS: '60000',
        INGEST_INITIAL_LOOKBACK_MS: '60000',
        INDEX_REFRESH_INTERVAL: '5s',
        // On the cluster variant (bench/run.ts): replicated topics and one replica per index, as in production.
        ...(process.env.TOPIC_REPLICATION_FACTOR ? { TOPIC_REPLICATION_FACTOR: process.env.TOPIC_REPLICATION_FACTOR } : {}),
        ...(process.env.INDEX_REPLICAS ? { INDEX_REPLICAS: process.env.INDEX_REPLICAS } : {}),
      },
    });
    const pipeline = p;
    await pipeline.start('control-plane');
    for (const name of SERVICES) {
      const opsPort = await freePort();
      const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'm365-siem.js'), 'start', name], {
        cwd: repoRoot,
        env: { ...process.env, ...pipeline.env, [`${name.toUpperCase()}_OPS_PORT`]: String(opsPort) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      child.stderr?.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-4_000);
      });
      children.set(name, { child, log: () => log, opsPort });
    }
    for (const [name, c] of children) {
      await waitUntil(`${name} ready`, async () => (await fetch(`http://127.0.0.1:${c.opsPort}/readyz`)).ok, 120_000, 500).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${c.log()}`);
      });
    }
    const startRss = new Map([...children].map(([name, c]) => [name, memoryOf(c.child.pid!).rssMb]));

    const tenants = [];
    for (let i = 0; i < TENANTS; i++) {
      const tenant = await pipeline.control.createTenant({
        name: `Soak ${i}`,
        domain: `soak${i}-${Date.now().toString(36)}.example`,
        users: 50,
        publicationDelayMs: [0, 0],
        recordsPerBlob: 200,
        managementRequestsPerMinute: 1_000_000,
        graphThrottling: false,
      });
      const { orgId } = await pipeline.connect(tenant);
      // Management content exists only for started subscriptions: feed once the pollers reported on the sources fed.
      await waitUntil(
        `the pollers of ${tenant.name} to report`,
        async () => {
          const view = await pipeline.api<{ sources: Array<{ name: string; state: string }> }>('GET', `/organizations/${orgId}/applications/microsoft-manage`);
          return FED_SOURCES.every((name) => view.body.sources.some((s) => s.name === name && s.state === 'ok'));
        },
        120_000,
        1_000,
      );
      tenants.push(tenant);
    }

    admin = pipeline.kafka.admin();
    await admin.connect();
    const trackers: Record<PipelineStage, LagTracker> = { normalize: new LagTracker(STALL_SECONDS * 1000), index: new LagTracker(STALL_SECONDS * 1000) };
    const groups: Record<PipelineStage, { group: string; topic: string }> = {
      normalize: { group: pipeline.env.NORMALIZE_GROUP_ID!, topic: pipeline.topics.raw.name },
      index: { group: pipeline.env.INDEX_GROUP_ID!, topic: pipeline.topics.events.name },
    };
    const lagOf = async (stage: PipelineStage, now: number) => {
      const offsets = (await readGroupOffsets(admin!, groups[stage].group, groups[stage].topic)) ?? [];
      const lags = trackers[stage].observe(now, offsets);
      return {
        records: lags.reduce((n, l) => n + l.lagRecords, 0),
        seconds: Math.max(0, ...lags.map((l) => l.lagSeconds)),
        end: offsets.reduce((n, o) => n + Number(o.end), 0),
      };
    };
    const docCount = async () => {
      const res = await pipeline.opensearch.count({ index: `${pipeline.indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true } as never);
      return Number((res as { body: { count: number } }).body.count);
    };

    let added = 0;
    let rawRecords = 0;
    let feeding = true;
    let next = 0;
    // The feeder tops the simulator's backlog up whenever ingest has taken most of it.
    const feeder = (async () => {
      while (feeding) {
        if (added - rawRecords < SIM_BACKLOG) {
          const tenant = tenants[next++ % tenants.length]!;
          await pipeline.control.addRecords(tenant.tenantId, FED_SOURCES[next % FED_SOURCES.length]!, ADD_BATCH);
          added += ADD_BATCH;
        } else {
          await sleep(500);
        }
      }
    })();

    const samples: Sample[] = [];
    const started = Date.now();
    let warmDocs: { t: number; docs: number } | null = null;
    for (;;) {
      const now = Date.now();
      const [normalize, index, docs] = await Promise.all([lagOf('normalize', now), lagOf('index', now), docCount()]);
      rawRecords = normalize.end;
      const mem = Object.fromEntries([...children].map(([name, c]) => [name, memoryOf(c.child.pid!).rssMb])) as Record<ChildName, number>;
      for (const [name, c] of children)
        if (c.child.exitCode !== null || c.child.signalCode !== null) throw new Error(`${name} exited during the soak\n${c.log()}`);
      samples.push({
        t: Math.round((now - started) / 1000),
        docs,
        rawRecords,
        normalizeLagRecords: normalize.records,
        normalizeLagSeconds: Math.round(normalize.seconds),
        indexLagRecords: index.records,
        indexLagSeconds: Math.round(index.seconds),
        ingestRssMb: Math.round(mem.ingest),
        normalizeRssMb: Math.round(mem.normalize),
        indexRssMb: Math.round(mem.index),
      });
      process.stderr.write(`[soak] ${JSON.stringify(samples.at(-1))}\n`);
      if (!warmDocs && now - started >= WARMUP_MS) warmDocs = { t: now, docs };
      if (now - started >= SOAK_MS) break;
      await sleep(Math.max(0, SAMPLE_MS - (Date.now() - now)));
    }
    feeding = false;
    await feeder;
    const last = samples.at(-1)!;
    const warm = warmDocs ?? { t: started, docs: 0 };
    const throughput = (last.docs - warm.docs) / ((started + last.t * 1000 - warm.t) / 1000);
    const peaks = new Map([...children].map(([name, c]) => [name, memoryOf(c.child.pid!).peakMb]));
    const maxLagSeconds = Math.max(...samples.map((s) => Math.max(s.normalizeLagSeconds, s.indexLagSeconds)));

    const baseline = await bareBulkReplay(pipeline);

    const minutes = (SOAK_MS / 60_000).toFixed(SOAK_MS % 60_000 === 0 ? 0 : 1);
    const results: BenchResult[] = [
      {
        name: 'soak.throughput',
        value: Math.round(throughput),
        unit: 'events/s',
        baseline: `bare _bulk replay of ${baseline.docs} of the same documents (1,000 per request, 2 in flight) into the same node`,
        baselineValue: Math.round(baseline.rate),
        ratio: throughput / baseline.rate,
        goal: `ratio >= 0.8 (issue 16), sustained ${minutes} min end to end (simulator → ingest → normalize → index) with no stage stalled`,
        met: throughput / baseline.rate >= 0.8 && maxLagSeconds < STALL_SECONDS,
        notes: `${TENANTS} tenants, ${added} records fed, ${last.docs} documents indexed; throughput counted after ${Math.round(WARMUP_MS / 1000)} s of warm-up; lag samples in "series"`,
        series: samples,
      },
      {
        name: 'soak.lag_seconds_max',
        value: maxLagSeconds,
        unit: 's',
        baseline: 'the stall threshold (CONTROL_PLANE_STALL_SECONDS default)',
        baselineValue: STALL_SECONDS,
        ratio: maxLagSeconds / STALL_SECONDS,
        goal: 'ratio < 1 (no stage ever went the threshold without a commit while records waited)',
        met: maxLagSeconds < STALL_SECONDS,
        notes: `largest backlog: normalize ${Math.max(...samples.map((s) => s.normalizeLagRecords))} records, index ${Math.max(...samples.map((s) => s.indexLagRecords))} records`,
      },
      ...SERVICES.map((name): BenchResult => {
        const peak = peaks.get(name)!;
        const start = startRss.get(name)!;
        return {
          name: `soak.peak_rss.${name}`,
          value: Math.round(peak),
          unit: 'MB',
          baseline: `${name} RSS once started, before the load`,
          baselineValue: Math.round(start),
          ratio: peak / start,
          goal: 'ratio <= 3 (memory stays bounded under sustained load)',
          met: peak / start <= 3,
        };
      }),
    ];
    return results;
  } finally {
    await admin?.disconnect().catch(() => undefined);
    for (const { child } of children.values()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await p?.close();
  }
}

/** The sink alone: the soak's own documents replayed with bare `_bulk` requests into a fresh index of the template. */
async function bareBulkReplay(p: Pipeline): Promise<{ docs: number; rate: number }> {
  const os = p.opensearch;
  // Keyed by _id: a document can sit in two daily indices (event time vs. retry), one index holds it once.
  const byId = new Map<string, unknown>();
  let res = await os.search({ index: `${p.indexPrefix}-*`, scroll: '1m', body: { size: 5_000, query: { match_all: {} } } } as never);
  for (;;) {
    const body = (res as { body: { _scroll_id?: string; hits: { hits: Array<{ _id: string; _source: unknown }> } } }).body;
    for (const h of body.hits.hits) byId.set(h._id, h._source);
    if (body.hits.hits.length === 0 || byId.size >= BASELINE_DOCS || !body._scroll_id) {
      if (body._scroll_id) await os.clearScroll({ scroll_id: body._scroll_id } as never).catch(() => undefined);
      break;
    }
    res = await os.scroll({ scroll_id: body._scroll_id, scroll: '1m' } as never);
  }
  const docs = [...byId].map(([id, source]) => ({ id, source }));
  if (docs.length === 0) throw new Error('the soak indexed no documents to replay');
  const index = `${p.indexPrefix}-baseline`;
  const requests: string[] = [];
  for (let i = 0; i < docs.length; i += 1_000) {
    requests.push(
      docs
        .slice(i, i + 1_000)
        .map((d) => `${JSON.stringify({ create: { _index: index, _id: d.id } })}\n${JSON.stringify(d.source)}\n`)
        .join(''),
    );
  }
  try {
    const started = performance.now();
    let nextRequest = 0;
    await Promise.all(
      [0, 1].map(async () => {
        while (nextRequest < requests.length) {
          const body = requests[nextRequest++]!;
          const r = await os.bulk({ body } as never);
          if ((r as { body: { errors?: boolean } }).body.errors) throw new Error('baseline bulk had item errors');
        }
      }),
    );
    return { docs: docs.length, rate: docs.length / ((performance.now() - started) / 1000) };
  } finally {
    await os.indices.delete({ index, ignore_unavailable: true } as never).catch(() => undefined);
  }
}
