import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressReporter, renderProgress } from '../../cli/progress.ts';
import { replaySnapshot } from '../../cli/replay.ts';

function output(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns: 100, write: (t: string) => writes.push(t) } };
}

describe('progress of long CLI work', () => {
  it('shows a bar, counts, rate and time left when the total is known', () => {
    const line = renderProgress({ done: 2_500, total: 10_000, unit: 'records', detail: '2,400 events produced' }, 5_000, { bar: true });
    expect(line).toBe('[######..................]  25.0%  2,500/10,000 records  500 records/s  ETA 15s  — 2,400 events produced');
  });

  it('without a total, counts and elapsed time', () => {
    expect(renderProgress({ done: 90, unit: 'records' }, 65_000, { bar: true })).toBe('90 records  1 records/s  elapsed 1m05s');
  });

  it('on a terminal redraws one line in place and closes it at the end', () => {
    let now = 0;
    const { writes, out } = output(true);
    const reporter = new ProgressReporter('[replay]', out, { now: () => now });
    now = 1_000;
    reporter.update({ done: 10, total: 100, unit: 'records' });
    now = 2_000;
    reporter.update({ done: 50, total: 100, unit: 'records' });
    reporter.finish({ done: 100, total: 100, unit: 'records' });
    expect(writes).toHaveLength(3);
    expect(writes.slice(0, 2).every((w) => w.startsWith('\r') && !w.includes('\n') && w.length === 100)).toBe(true);
    expect(writes[2]).toMatch(/^\r\[replay\] \[#{24}\] {2}100% {2}100\/100 records {2}50 records\/s {2}elapsed 2s\n$/);
  });

  it('elsewhere writes plain lines no more often than asked, and always the last one', () => {
    let now = 0;
    const { writes, out } = output(false);
    const reporter = new ProgressReporter('[replay]', out, { now: () => now, plainEveryMs: 5_000 });
    for (now = 1_000; now <= 12_000; now += 1_000) reporter.update({ done: now / 100, total: 200, unit: 'records' });
    reporter.finish({ done: 200, total: 200, unit: 'records' });
    expect(writes).toHaveLength(4);
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r') && !w.includes('#'))).toBe(true);
    expect(writes[0]).toContain('5.0%  10/200 records');
  });

  it('a replay reports offsets read out of those to read', () => {
    const snapshot = replaySnapshot({ start: 100n, offset: 160n, end: 200n, read: 60, matched: 40, produced: 38, duplicates: 2, unmappable: 0 });
    expect(snapshot).toMatchObject({ done: 60, total: 100, unit: 'records' });
    expect(formatDuration(7_380_000)).toBe('2h03m');
  });
});
