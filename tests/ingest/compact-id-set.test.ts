import { describe, expect, it } from 'vitest';
import { idHash, IdLedger, CheckpointSnapshot, emptyCheckpoint, serializeCheckpoint } from '../../ingest/checkpoint-store.ts';
import { CompactIdSet, hashWords } from '../../ingest/compact-id-set.ts';

const TENANT = 'f28ab78a-d401-4060-8012-736e373933eb';
const HOUR = 3_600_000;

describe('compact id set (the in-memory dedup ledger)', () => {
  it('answers exactly for 200,000 ids across sealed and open buckets, with none of 200,000 others', () => {
    const set = new CompactIdSet(HOUR);
    const n = 200_000;
    for (let i = 0; i < n; i++) set.add(idHash(`in-${i}`), (i % 10) * HOUR + i); // ten buckets, added out of order
    const hashes = Array.from({ length: n }, (_, i) => idHash(`in-${i}`));
    expect(hashes.filter((h) => !set.has(h))).toEqual([]);
    set.compact();
    let falsePositives = 0;
    let missing = 0;
    for (let i = 0; i < n; i++) {
      if (!set.has(hashes[i]!)) missing++;
      if (set.has(idHash(`out-${i}`))) falsePositives++;
    }
    expect({ missing, falsePositives }).toEqual({ missing: 0, falsePositives: 0 });
    expect(set.size).toBe(n);
    expect(set.bucketCount).toBe(10);
    // Sealed: 8 bytes per id.
    expect(set.bytes).toBe(n * 8);
  });

  it('keeps one copy of an id added twice to a bucket, sealed or not', () => {
    const set = new CompactIdSet(HOUR);
    set.add(idHash('a'), 0);
    set.add(idHash('a'), 1);
    set.add(idHash('b'), HOUR); // seals bucket 0
    set.add(idHash('a'), 2); // already in the sealed bucket 0
    set.compact();
    expect(set.size).toBe(2);
  });

  it('holds the all-zero hash like any other', () => {
    const zero = Buffer.alloc(9).toString('base64url').slice(0, 11);
    expect(hashWords(zero)).toEqual([0, 0]);
    const set = new CompactIdSet(HOUR);
    expect(set.has(zero)).toBe(false);
    set.add(zero, 0);
    set.add(idHash('x'), 0);
    expect(set.has(zero)).toBe(true);
    set.add(idHash('y'), HOUR); // seal
    expect(set.has(zero)).toBe(true);
    expect(set.has(idHash('x'))).toBe(true);
    expect(set.size).toBe(3);
  });

  it('drops a bucket once its newest add is older than the cut-off, not before', () => {
    const set = new CompactIdSet(HOUR);
    set.add(idHash('early'), 10);
    set.add(idHash('late'), HOUR - 1); // same bucket, newest add at HOUR - 1
    set.add(idHash('next'), HOUR + 5);
    set.expireBefore(HOUR - 1);
    expect(set.has(idHash('early'))).toBe(true);
    set.expireBefore(HOUR);
    expect(set.has(idHash('early'))).toBe(false);
    expect(set.has(idHash('late'))).toBe(false);
    expect(set.has(idHash('next'))).toBe(true);
  });

  it('restores a ledger from its segments: every id known, nothing else, compact', () => {
    const horizon = 8 * 24 * HOUR;
    const ledger = new IdLedger('org', 'graph:signIns', 100, horizon);
    let cp = emptyCheckpoint('org', 'graph:signIns', TENANT);
    const entries = new Map<string, Buffer | null>();
    for (let batch = 0; batch < 50; batch++) {
      const hashes = Array.from({ length: 37 }, (_, k) => idHash(`rec-${batch}-${k}`));
      const staged = ledger.stage(cp, hashes, batch * HOUR);
      staged.apply();
      cp = { ...cp, segments: staged.segments, nextSegment: staged.nextSegment };
      for (const m of staged.messages) entries.set(m.key, Buffer.from(m.value!));
    }
    const main = serializeCheckpoint(cp, 50 * HOUR);
    entries.set(main.key, Buffer.from(main.value!));
    const restored = new CheckpointSnapshot(entries).restore('org', 'graph:signIns', TENANT, horizon);
    const unknown: string[] = [];
    for (let batch = 0; batch < 50; batch++) for (let k = 0; k < 37; k++) if (!restored.ids.has(idHash(`rec-${batch}-${k}`))) unknown.push(`rec-${batch}-${k}`);
    expect(unknown).toEqual([]);
    expect(restored.ids.has(idHash('rec-50-0'))).toBe(false);
    // The next commit continues the open segment with its earlier ids (the segment is rewritten whole).
    const next = restored.ids.stage(restored.checkpoint, [idHash('rec-new')], 51 * HOUR);
    const last = cp.segments[cp.segments.length - 1]!;
    expect(next.messages).toHaveLength(1);
    expect(JSON.parse(next.messages[0]!.value!).ids).toHaveLength(last.count + 1);
  });
});
