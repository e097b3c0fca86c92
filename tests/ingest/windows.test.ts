import { describe, expect, it } from 'vitest';
import {
  formatGraphTime,
  formatManagementTime,
  hoursUntilDataLoss,
  oldestListable,
  parseMicrosoftDate,
  planWindows,
  RETENTION_MS,
} from '../../ingest/windows.ts';

const H = 3_600_000;
const NOW = Date.parse('2026-11-26T10:30:45.678Z');

describe('listing windows', () => {
  it('start at cursor minus overlap, end at now, on whole seconds, contiguous and at most the window size', () => {
    const cursor = NOW - 5 * H;
    const { windows, lostMs } = planWindows({ cursorMs: cursor, nowMs: NOW, overlapMs: H, maxWindowMs: 2 * H, initialLookbackMs: 24 * H });
    expect(lostMs).toBe(0);
    expect(windows[0]?.startMs).toBe(Math.floor((cursor - H) / 1000) * 1000);
    expect(windows.at(-1)?.endMs).toBe(Math.floor(NOW / 1000) * 1000);
    for (let i = 1; i < windows.length; i++) expect(windows[i]?.startMs).toBe(windows[i - 1]?.endMs);
    for (const w of windows) {
      expect(w.endMs - w.startMs).toBeLessThanOrEqual(2 * H);
      expect(w.startMs % 1000).toBe(0);
      expect(w.endMs % 1000).toBe(0);
    }
  });

  it('never exceed 24 hours even when configured larger, and start at the initial look-back on first run', () => {
    const { windows } = planWindows({ cursorMs: null, nowMs: NOW, overlapMs: 0, maxWindowMs: 48 * H, initialLookbackMs: 3 * 24 * H });
    expect(windows).toHaveLength(3);
    expect(windows.every((w) => w.endMs - w.startMs <= 24 * H)).toBe(true);
    expect(windows[0]?.startMs).toBe(Math.floor(NOW / 1000) * 1000 - 3 * 24 * H);
  });

  it('clamp to the 7-day limit and report the span that can no longer be fetched', () => {
    const cursor = NOW - RETENTION_MS - 2 * H;
    const { windows, lostMs } = planWindows({ cursorMs: cursor, nowMs: NOW, overlapMs: H, maxWindowMs: 24 * H, initialLookbackMs: H });
    expect(windows[0]?.startMs).toBe(oldestListable(NOW));
    expect(windows[0]!.startMs).toBeGreaterThan(NOW - RETENTION_MS);
    expect(lostMs).toBe(oldestListable(NOW) - cursor);
  });

  it('are empty when the cursor is now and there is no overlap', () => {
    expect(planWindows({ cursorMs: Math.floor(NOW / 1000) * 1000, nowMs: NOW, overlapMs: 0, maxWindowMs: H, initialLookbackMs: H }).windows).toEqual([]);
  });
});

describe('Microsoft dates', () => {
  it('formats Management API times without zone and Graph times with Z', () => {
    expect(formatManagementTime(NOW)).toBe('2026-11-26T10:30:45');
    expect(formatGraphTime(NOW)).toBe('2026-11-26T10:30:45Z');
  });

  it('parses dates with and without zone, with long fractions, and rejects garbage', () => {
    expect(parseMicrosoftDate('2015-06-29T20:03:19')).toBe(Date.parse('2015-06-29T20:03:19Z'));
    expect(parseMicrosoftDate('2015-06-29T20:03:19.1234567Z')).toBe(Date.parse('2015-06-29T20:03:19.123Z'));
    expect(parseMicrosoftDate('2015-06-29T22:03:19+02:00')).toBe(Date.parse('2015-06-29T20:03:19Z'));
    expect(parseMicrosoftDate('2015-06-29')).toBe(Date.parse('2015-06-29T00:00:00Z'));
    expect(parseMicrosoftDate('yesterday')).toBeNull();
    expect(parseMicrosoftDate(42)).toBeNull();
  });

  it('counts hours left before content passes the 7-day limit', () => {
    expect(hoursUntilDataLoss(NOW - 6 * 24 * H, NOW)).toBe(24);
    expect(hoursUntilDataLoss(NOW - 8 * 24 * H, NOW)).toBe(-24);
  });
});
