import { describe, expect, it } from 'vitest';
import { LagTracker, type PartitionOffsets } from '../../runtime/index.ts';

const at = (partition: number, end: number, committed: number | null, low = 0): PartitionOffsets => ({
  partition,
  low: BigInt(low),
  end: BigInt(end),
  committed: committed === null ? null : BigInt(committed),
});

describe('LagTracker', () => {
  it('counts records between the committed offset and the end, and from the log start when nothing is committed', () => {
    const tracker = new LagTracker(30_000);
    const [p0, p1, p2] = tracker.observe(0, [at(0, 120, 100), at(1, 50, null, 10), at(2, 7, 9)]);
    expect(p0).toMatchObject({ partition: 0, lagRecords: 20, lagSeconds: 0, stalled: false });
    expect(p1).toMatchObject({ partition: 1, lagRecords: 40 });
    // A committed offset past the end (the end read a moment before the commit) is no lag, never a negative one.
    expect(p2).toMatchObject({ partition: 2, lagRecords: 0 });
  });

  it('reads 0 seconds for a group that commits between samples, however large its backlog', () => {
    const tracker = new LagTracker(30_000);
    let committed = 0;
    for (let t = 0; t <= 120_000; t += 10_000) {
      committed += 1_000;
      const [lag] = tracker.observe(t, [at(0, committed + 50_000 + t, committed)]);
      expect(lag).toMatchObject({ lagSeconds: 0, stalled: false, waitingSince: null });
      expect(lag?.lagRecords).toBeGreaterThanOrEqual(50_000);
    }
  });

  it('never counts an idle group whose only lag is a commit marker as waiting', () => {
    const tracker = new LagTracker(30_000);
    for (let t = 0; t <= 600_000; t += 10_000) {
      const [lag] = tracker.observe(t, [at(0, 1_001, 1_000)]);
      expect(lag).toMatchObject({ lagRecords: 1, lagSeconds: 0, stalled: false });
    }
  });

  it('starts the clock when records arrive that the group does not take, stalls at the threshold, clears on the next commit', () => {
    const tracker = new LagTracker(30_000);
    expect(tracker.observe(0, [at(0, 1_001, 1_000)])[0]?.waitingSince).toBeNull();
    // Records arrive; the group is frozen.
    expect(tracker.observe(10_000, [at(0, 1_500, 1_000)])[0]).toMatchObject({ lagRecords: 500, lagSeconds: 0, waitingSince: 10_000, stalled: false });
    expect(tracker.observe(25_000, [at(0, 1_900, 1_000)])[0]).toMatchObject({ lagSeconds: 15, stalled: false });
    // Lag that stops growing still counts: the group has committed nothing since the records arrived.
    expect(tracker.observe(40_000, [at(0, 1_900, 1_000)])[0]).toMatchObject({ lagRecords: 900, lagSeconds: 30, waitingSince: 10_000, stalled: true });
    expect(tracker.observe(55_000, [at(0, 2_000, 1_000)])[0]).toMatchObject({ lagSeconds: 45, stalled: true });
    // It runs again: one commit clears the condition even before the backlog is gone.
    expect(tracker.observe(60_000, [at(0, 2_100, 1_500)])[0]).toMatchObject({ lagRecords: 600, lagSeconds: 0, waitingSince: null, stalled: false });
  });

  it('starts the clock for a backlog the group does not take, even when it arrived before the commit and stops growing', () => {
    const tracker = new LagTracker(30_000);
    tracker.observe(0, [at(0, 1_000, 900)]);
    // Same end, same commit: 100 records wait and nothing is committed (issue 19: lag stays > 0 while nothing is
    // committed). This is the stall of a stage frozen right after its last commit, with the burst already in.
    expect(tracker.observe(10_000, [at(0, 1_000, 900)])[0]?.waitingSince).toBe(10_000);
    expect(tracker.observe(20_000, [at(0, 1_001, 900)])[0]?.waitingSince).toBe(10_000);
    expect(tracker.observe(40_000, [at(0, 1_001, 900)])[0]?.stalled).toBe(true);
    // A commit stops the clock.
    expect(tracker.observe(50_000, [at(0, 1_001, 950)])[0]?.waitingSince).toBeNull();
  });

  it('tracks partitions independently and forgets partitions that disappear', () => {
    const tracker = new LagTracker(10_000);
    tracker.observe(0, [at(0, 10, 10), at(1, 10, 10)]);
    tracker.observe(5_000, [at(0, 20, 10), at(1, 20, 20)]);
    const lags = tracker.observe(15_000, [at(0, 30, 10), at(1, 30, 30)]);
    expect(lags.map((l) => [l.partition, l.stalled])).toEqual([
      [0, true],
      [1, false],
    ]);
    // Partition 0 gone from one sample (e.g. the topic re-created): it starts from scratch when it comes back.
    tracker.observe(20_000, [at(1, 30, 30)]);
    expect(tracker.observe(25_000, [at(0, 40, 10)])[0]).toMatchObject({ partition: 0, waitingSince: null });
  });

  it('never stalls with a threshold of 0 (off), while still measuring seconds', () => {
    const tracker = new LagTracker(0);
    tracker.observe(0, [at(0, 1, 1)]);
    tracker.observe(1_000, [at(0, 5, 1)]);
    expect(tracker.observe(3_600_000, [at(0, 5, 1)])[0]).toMatchObject({ lagSeconds: 3_599, stalled: false });
  });
});
