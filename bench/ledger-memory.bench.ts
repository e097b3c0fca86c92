/**
 * Memory of the ingest dedup ledger for one large tenant (issue 16, item 4; docs/decisions/0170): 2 million
 * sign-ins a day for the whole 8-day horizon (16 million record ids) go through the ledger exactly as ingest's
 * commits do (stage → apply, expiry each commit, a commit of 1,000 records every 43.2 s of simulated time).
 *
 * Figures: the ledger's bytes (its typed arrays) and the process's measured growth (heap + array buffers after
 * a full GC) against the stated budget of 160 MB per such tenant; baseline in the same run: the previous ledger
 * structure (a Map of hash strings) measured on 1 million ids and scaled to 16 million (a Map cannot hold more
 * than 2^24 entries, and the real one would need gigabytes on this shared machine).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { emptyCheckpoint, idHash, IdLedger, type Checkpoint } from '../ingest/index.ts';
import type { BenchResult } from './types.ts';

const DAY = 24 * 3_600_000;
const HORIZON = 8 * DAY;
const PER_DAY = 2_000_000;
const PER_COMMIT = 1_000;
const BUDGET_BYTES = 160 * 1024 * 1024;
const MAP_SAMPLE = 1_000_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** The structure the ledger had before 0170: hash string → segment number. */
function mapBytesPerId(): number {
  const before = retained();
  const owner = new Map<string, number>();
  for (let i = 0; i < MAP_SAMPLE; i++) owner.set(idHash(`map-${i}`), i >>> 11);
  const after = retained();
  if (owner.size !== MAP_SAMPLE) throw new Error('map lost ids');
  return (after - before) / MAP_SAMPLE;
}

export default async function run(): Promise<BenchResult[]> {
  const mapPerId = mapBytesPerId();
  const before = retained();
  const ledger = new IdLedger('org-bench', 'graph:signIns', undefined, HORIZON);
  let cp: Checkpoint = emptyCheckpoint('org-bench', 'graph:signIns', '00000000-0000-4000-8000-000000000001');
  const commits = (8 * PER_DAY) / PER_COMMIT;
  const stepMs = DAY / (PER_DAY / PER_COMMIT);
  const start = Date.parse('2026-06-01T00:00:00Z');
  const cpuStart = process.cpuUsage();
  let seq = 0;
  for (let c = 0; c < commits; c++) {
    const now = start + c * stepMs;
    const hashes: string[] = [];
    for (let k = 0; k < PER_COMMIT; k++) hashes.push(idHash(`sign-in-${seq++}`));
    const staged = ledger.stage(cp, hashes, now);
    staged.apply();
    cp = { ...cp, segments: staged.segments, nextSegment: staged.nextSegment };
    const expiry = ledger.stageExpiry(cp, now, HORIZON);
    expiry.apply();
    cp = { ...cp, segments: expiry.segments };
  }
  const cpu = process.cpuUsage(cpuStart);
  const after = retained();
  // Spot check: the oldest ids are still within the horizon (the run spans exactly 8 days), a fresh one is not known.
  if (!ledger.has(idHash('sign-in-0')) || !ledger.has(idHash(`sign-in-${seq - 1}`)) || ledger.has(idHash('never-seen'))) {
    throw new Error('ledger answers wrongly after the run');
  }
  const measured = after - before;
  const ids = 8 * PER_DAY;
  const mapEstimate = mapPerId * ids;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const mb = (b: number) => Math.round(b / 1024 / 1024);
  process.stderr.write(
    `[ledger-memory] ${ids.toLocaleString('en-US')} ids: ledger arrays ${mb(ledger.bytes)} MB, measured growth ${mb(measured)} MB ` +
      `(${(measured / ids).toFixed(2)} B/id), ${cp.segments.length} live segments; previous Map ${mapPerId.toFixed(1)} B/id → ${mb(mapEstimate)} MB; ` +
      `${cpuSeconds.toFixed(1)} CPU s for ${commits} commits\n`,
  );
  return [
    {
      name: 'ingest.ledger.memory_2m_per_day_tenant',
      value: mb(measured),
      unit: 'MB',
      baseline: `budget ${mb(BUDGET_BYTES)} MB per tenant of 2 M sign-ins/day at the 8-day horizon`,
      baselineValue: mb(BUDGET_BYTES),
      ratio: measured / BUDGET_BYTES,
      goal: 'ratio <= 1 (within the budget)',
      met: measured <= BUDGET_BYTES,
      notes: `ledger typed arrays ${mb(ledger.bytes)} MB for ${ids} ids`,
    },
    {
      name: 'ingest.ledger.memory_vs_map',
      value: measured / ids,
      unit: 'B/id',
      baseline: `previous ledger (Map of hash strings), ${MAP_SAMPLE.toLocaleString('en-US')} ids measured`,
      baselineValue: mapPerId,
      ratio: measured / ids / mapPerId,
      goal: 'informational (lower is better)',
      notes: `the Map would need ≈ ${mb(mapEstimate)} MB for the same tenant`,
    },
  ];
}
