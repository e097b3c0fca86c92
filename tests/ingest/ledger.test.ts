import { describe, expect, it } from 'vitest';
import { createLogger, parseTopicSettings, topicSpecs } from '../../runtime/index.ts';
import { addHourly, CheckpointSnapshot, emptyCheckpoint, events24h, idHash, IdLedger, serializeCheckpoint, segmentKey } from '../../ingest/checkpoint-store.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import type { TransactionalWriter, Unit } from '../../ingest/raw-publisher.ts';
import { SourceProgress } from '../../ingest/source-progress.ts';
import { guardRecord } from '../../ingest/tenant-guard.ts';

const TENANT = 'f28ab78a-d401-4060-8012-736e373933eb';
const topics = topicSpecs(parseTopicSettings({}));

/** A writer that records units and can be told to fail, standing in for the Kafka transaction. */
class FakeWriter {
  units: Unit[] = [];
  fail = false;
  async submit(unit: Unit): Promise<void> {
    if (this.fail) throw new Error('broker down');
    this.units.push(unit);
  }
}

function progress(writer: FakeWriter, now = () => 1_000_000, horizonMs = 60_000) {
  const ids = new IdLedger('org', 'management:Audit.Exchange', 3, horizonMs);
  return new SourceProgress('org', TENANT, 'management:Audit.Exchange', emptyCheckpoint('org', 'management:Audit.Exchange', TENANT), ids, {
    topics,
    writer: () => writer as unknown as TransactionalWriter,
    metrics: createIngestMetrics(false),
    logger: createLogger('test', { level: 'silent' }),
    dedupHorizonMs: horizonMs,
    now,
  });
}

const rec = (id: string) => ({ dedupKey: id, record: { Id: id, OrganizationId: TENANT }, eventMs: 5 });

describe('source progress (the only way a cursor moves)', () => {
  it('publishes records, the ledger and the cursor in one unit, skipping ids already published', async () => {
    const w = new FakeWriter();
    const p = progress(w);
    const r1 = await p.commit({ records: [rec('A'), rec('B'), rec('a')], contentIdsDone: { c1: 10 } });
    expect(r1).toEqual({ published: 2, duplicates: 1, deadLettered: 0 }); // ids compare case-insensitively
    const r2 = await p.commit({ records: [rec('B'), rec('C')], cursorMs: 500 });
    expect(r2).toEqual({ published: 1, duplicates: 1, deadLettered: 0 });
    const unit = w.units[1]!;
    const raw = unit.messages.filter((m) => m.topic === topics.raw.name);
    const cps = unit.messages.filter((m) => m.topic === topics.checkpoints.name);
    expect(raw).toHaveLength(1);
    expect(cps.some((m) => m.key === 'org|management:Audit.Exchange' && JSON.parse(m.value!).cursorMs === 500)).toBe(true);
    expect(p.checkpoint.counts).toEqual({ recordsPublished: 3, duplicatesSkipped: 2, deadLettered: 0 });
    expect(p.checkpoint.contentIds).toEqual({ c1: 10 });
  });

  it('moves nothing when the transaction fails, so the same records are published on retry', async () => {
    const w = new FakeWriter();
    const p = progress(w);
    await p.commit({ records: [rec('A')], cursorMs: 100 });
    w.fail = true;
    await expect(p.commit({ records: [rec('B')], cursorMs: 200, contentIdsDone: { c2: 1 } })).rejects.toThrow('broker down');
    expect(p.checkpoint.cursorMs).toBe(100);
    expect(p.checkpoint.contentIds).toEqual({});
    expect(p.isKnown('B')).toBe(false);
    w.fail = false;
    expect(await p.commit({ records: [rec('B')], cursorMs: 200 })).toEqual({ published: 1, duplicates: 0, deadLettered: 0 });
    expect(p.checkpoint.cursorMs).toBe(200);
  });

  it('never moves the cursor backwards unless rewinding (operator re-fetch), which also forgets the ledger', async () => {
    const w = new FakeWriter();
    const p = progress(w);
    await p.commit({ records: [rec('A')], cursorMs: 300 });
    await p.commit({ cursorMs: 100 });
    expect(p.checkpoint.cursorMs).toBe(300);
    await p.commit({ cursorMs: 50, rewind: true, clearIds: true });
    expect(p.checkpoint.cursorMs).toBe(50);
    expect(await p.commit({ records: [rec('A')] })).toMatchObject({ published: 1 });
  });

  it('keeps small idle cursor moves in memory and commits them once they add up (a restart only re-lists more)', async () => {
    let now = 1_000_000;
    const w = new FakeWriter();
    const p = progress(w, () => now);
    await p.advance(100_000, 60_000); // first cursor: committed
    expect(w.units).toHaveLength(1);
    now += 5_000;
    await p.advance(130_000, 60_000); // idle step below the interval: memory only
    expect(w.units).toHaveLength(1);
    expect(p.checkpoint.cursorMs).toBe(100_000);
    expect(p.effectiveCursorMs).toBe(130_000);
    expect(p.lastSuccessMs).toBe(now);
    await p.advance(160_000, 60_000); // 60 s past the committed cursor: committed
    expect(w.units).toHaveLength(2);
    expect(p.checkpoint.cursorMs).toBe(160_000);
  });

  it('persists ids in bounded segments and expires them after the horizon (tombstones)', async () => {
    let now = 1_000_000;
    const w = new FakeWriter();
    const p = progress(w, () => now, 60_000);
    await p.commit({ records: ['1', '2', '3', '4', '5'].map(rec) }); // capacity 3 → segments 0 and 1
    expect(p.checkpoint.segments.map((s) => [s.n, s.count])).toEqual([
      [0, 3],
      [1, 2],
    ]);
    const seg0 = w.units[0]!.messages.find((m) => m.key === segmentKey('org', 'management:Audit.Exchange', 0));
    expect(JSON.parse(seg0!.value!).ids).toHaveLength(3);
    now += 120_000;
    await p.commit({ records: [rec('6')] });
    const tombstones = w.units[1]!.messages.filter((m) => m.value === null).map((m) => m.key);
    expect(tombstones).toEqual([segmentKey('org', 'management:Audit.Exchange', 0)]);
    expect(p.isKnown('1')).toBe(false); // beyond the horizon
    expect(p.isKnown('4')).toBe(true); // segment 1 was appended to at the last commit
  });

  it('dead-letters a refused record once per horizon', async () => {
    const w = new FakeWriter();
    const p = progress(w);
    const refused = { dedupKey: 'X', errorCode: 'tenant_mismatch' as const, errorMessage: 'other tenant', input: { Id: 'X' } };
    expect((await p.commit({ deadLetters: [refused] })).deadLettered).toBe(1);
    expect((await p.commit({ deadLetters: [refused] })).deadLettered).toBe(0);
  });
});

describe('checkpoint snapshot (takeover)', () => {
  it('restores cursor and ledger, and starts fresh for a re-pinned tenant', () => {
    const ids = new IdLedger('org', 'graph:signIns');
    const cp = { ...emptyCheckpoint('org', 'graph:signIns', TENANT), cursorMs: 42 };
    const staged = ids.stage(cp, [idHash('r1')], 7);
    const main = serializeCheckpoint({ ...cp, segments: staged.segments, nextSegment: staged.nextSegment }, 7);
    const entries = new Map<string, Buffer | null>([
      [main.key, Buffer.from(main.value!)],
      ...staged.messages.map((m) => [m.key, Buffer.from(m.value!)] as [string, Buffer]),
    ]);
    entries.set('org|graph:directoryAudits', Buffer.from('not json'));
    const snap = new CheckpointSnapshot(entries);
    const restored = snap.restore('org', 'graph:signIns', TENANT);
    expect(restored.checkpoint.cursorMs).toBe(42);
    expect(restored.ids.has(idHash('R1'))).toBe(true);
    const other = snap.restore('org', 'graph:signIns', '00000000-0000-4000-8000-000000000001');
    expect(other.checkpoint.cursorMs).toBeNull();
    expect(other.problem).toMatch(/pinned/);
    expect(snap.restore('org', 'graph:directoryAudits', TENANT).problem).toMatch(/not JSON/);
  });

  it('counts events of the last 24 hours', () => {
    const H = 3_600_000;
    let hourly = addHourly([], 5, 0);
    hourly = addHourly(hourly, 3, 10 * H);
    hourly = addHourly(hourly, 2, 10 * H + 5);
    expect(events24h(hourly, 10 * H)).toBe(10);
    expect(events24h(hourly, 30 * H)).toBe(5);
  });
});

describe('tenant guard', () => {
  it('accepts the organization tenant (any case) and records without a tenant field; refuses others', () => {
    expect(guardRecord({ OrganizationId: TENANT.toUpperCase() }, TENANT, 'management').kind).toBe('ok');
    expect(guardRecord({ Id: 'x' }, TENANT, 'management').kind).toBe('ok');
    expect(guardRecord({ OrganizationId: '11111111-1111-4111-8111-111111111111' }, TENANT, 'management')).toEqual({
      kind: 'tenant_mismatch',
      foundTenantId: '11111111-1111-4111-8111-111111111111',
    });
    expect(guardRecord({ tenantId: 'other' }, TENANT, 'graph').kind).toBe('tenant_mismatch');
    expect(guardRecord({ OrganizationId: 7 }, TENANT, 'management').kind).toBe('tenant_mismatch');
    expect(guardRecord('text', TENANT, 'graph').kind).toBe('malformed');
    expect(guardRecord([1], TENANT, 'graph').kind).toBe('malformed');
  });
});
