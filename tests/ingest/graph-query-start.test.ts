import { describe, expect, it } from 'vitest';
import { graphQueryStart } from '../../ingest/graph-poller.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const settings = { initialLookbackMs: 24 * HOUR, graphLagMs: 15 * MIN, graphLateLagMs: 3 * HOUR, graphLateIntervalMs: 15 * MIN };

describe('graphQueryStart', () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);

  it('starts a new source at the initial lookback', () => {
    expect(graphQueryStart(null, now, null, settings)).toEqual({ fromMs: now - 24 * HOUR, deep: true });
  });

  it('re-queries deep on the first cycle after a start, for records Graph lists hours late', () => {
    const cursor = now - 5 * MIN;
    expect(graphQueryStart(cursor, now, null, settings)).toEqual({ fromMs: cursor - 3 * HOUR, deep: true });
  });

  it('uses the short lag between deep re-queries and goes deep again when the interval has passed', () => {
    const cursor = now - 5 * MIN;
    expect(graphQueryStart(cursor, now, now - 5 * MIN, settings)).toEqual({ fromMs: cursor - 15 * MIN, deep: false });
    expect(graphQueryStart(cursor, now, now - 15 * MIN, settings)).toEqual({ fromMs: cursor - 3 * HOUR, deep: true });
  });

  it('never reaches less far back than the short lag', () => {
    const cursor = now;
    const shallowLate = { ...settings, graphLateLagMs: MIN };
    expect(graphQueryStart(cursor, now, null, shallowLate).fromMs).toBe(cursor - 15 * MIN);
  });
});
