import { describe, expect, it } from 'vitest';
import { parseTimeArgument } from '../../cli/replay.ts';
import { partitionForKey } from '../../runtime/index.ts';

describe('replay command helpers', () => {
  it('reads --from/--to as ISO 8601 or as a duration back from now', () => {
    const now = Date.parse('2026-11-26T08:00:00Z');
    expect(parseTimeArgument('2026-11-25T10:00:00Z', now).toISOString()).toBe('2026-11-25T10:00:00.000Z');
    expect(parseTimeArgument('30m', now).toISOString()).toBe('2026-11-26T07:30:00.000Z');
    expect(parseTimeArgument('2d', now).toISOString()).toBe('2026-11-24T08:00:00.000Z');
    expect(() => parseTimeArgument('yesterday', now)).toThrow(/not a time/);
  });

  it("finds an organization's partition as the producers' default partitioner does (murmur2, like Java)", () => {
    // Java's murmur2 test vectors (Kafka UtilsTest): partition = toPositive(murmur2(key)) % n, as Java producers do.
    const java: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of java) for (const n of [3, 6, 12]) expect(partitionForKey(key, n)).toBe((hash & 0x7fffffff) % n);
    const keys = Array.from({ length: 200 }, (_, i) => `org_${i.toString(36)}`);
    const spread = new Set(keys.map((k) => partitionForKey(k, 6)));
    expect(spread.size).toBe(6);
    for (const k of keys) {
      expect(partitionForKey(k, 6)).toBe(partitionForKey(Buffer.from(k), 6));
      expect(partitionForKey(k, 1)).toBe(0);
    }
    expect(() => partitionForKey('org_x', 0)).toThrow();
  });
});
