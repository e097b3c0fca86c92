import { describe, expect, it } from 'vitest';
import { backfillProgress, progressFigures, refetchProgress, workProgressOf } from '../../control-plane/ui/app/logic/work-progress.ts';

const T0 = Date.parse('2026-12-03T12:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const HOUR = 3_600_000;

describe('back-fill progress (issue 17 item 7)', () => {
  const base = {
    generation: 2,
    published: 0,
    duplicates: 0,
    message: null,
    startedAt: at(0),
    finishedAt: null,
    recordsExpected: null,
    fetchingStartedAt: null,
  };

  it('is indeterminate while Microsoft runs the query', () => {
    const p = backfillProgress({ ...base, state: 'querying', queryStatus: 'running', recordsFetched: 0 }, T0 + 30_000);
    expect(p).toMatchObject({ phase: 'querying', running: true, fraction: null, total: null, ratePerSecond: null, etaMs: null });
    expect(p.summary).toContain('running');
    expect(progressFigures(p)).toBe('0 records · running for 30s');
  });

  it('measures fetching against Microsoft’s record count, with the rate since paging began and an ETA', () => {
    const p = backfillProgress(
      {
        ...base,
        state: 'fetching',
        queryStatus: 'succeeded',
        recordsFetched: 600,
        recordsExpected: 2400,
        fetchingStartedAt: at(60),
        published: 500,
        duplicates: 100,
      },
      T0 + 90_000,
    );
    // 600 records in the 30 s since paging began: 20/s, 1,800 left: 90 s.
    expect(p).toMatchObject({ phase: 'fetching', running: true, done: 600, total: 2400, fraction: 0.25, ratePerSecond: 20, etaMs: 90_000 });
    expect(progressFigures(p)).toBe('25% · 600 of ~2,400 records · 20 records/s · ETA 1m30s');
  });

  it('never shows 100 % or a negative ETA while running when Microsoft counted fewer than it pages', () => {
    const p = backfillProgress(
      { ...base, state: 'fetching', queryStatus: 'succeeded', recordsFetched: 120, recordsExpected: 100, fetchingStartedAt: at(0) },
      T0 + 10_000,
    );
    expect(p.fraction).toBe(0.99);
    expect(p.total).toBe(120);
    expect(p.etaMs).toBeNull();
  });

  it('says how it ended', () => {
    const done = backfillProgress(
      {
        ...base,
        state: 'succeeded',
        queryStatus: 'succeeded',
        recordsFetched: 50,
        recordsExpected: 48,
        fetchingStartedAt: at(10),
        finishedAt: at(15),
        published: 30,
        duplicates: 20,
      },
      T0 + 60_000,
    );
    expect(done).toMatchObject({ phase: 'done', running: false, fraction: 1, total: 50, ratePerSecond: 10 });
    expect(progressFigures(done)).toBe('100% · 50 of 50 records · 10 records/s · took 15s');
    const refused = backfillProgress(
      { ...base, state: 'not_permitted', queryStatus: null, recordsFetched: 0, message: 'not permitted: …', finishedAt: at(1) },
      T0 + 5_000,
    );
    expect(refused).toMatchObject({ phase: 'failed', running: false, fraction: null, summary: 'not permitted: …' });
  });
});

describe('re-fetch progress (issue 17 item 7)', () => {
  const from = new Date(T0 - 48 * HOUR).toISOString();
  const until = new Date(T0).toISOString();

  it('sums the history covered over the sources of the latest generation', () => {
    const p = refetchProgress(
      [
        { generation: 3, from, until, startedAt: at(0), cursorAt: until },
        { generation: 3, from, until, startedAt: at(0), cursorAt: new Date(T0 - 24 * HOUR).toISOString() },
        { generation: 3, from, until, startedAt: at(0), cursorAt: null },
        // An older re-fetch of another source does not count.
        { generation: 2, from, until, startedAt: at(-999), cursorAt: from },
      ],
      T0 + 60_000,
    );
    // 48 + 24 + 0 of 144 hours in 60 s.
    expect(p).toMatchObject({
      kind: 'refetch',
      generation: 3,
      phase: 'catching_up',
      running: true,
      done: 72,
      total: 144,
      fraction: 0.5,
      ratePerSecond: 1.2,
      etaMs: 60_000,
    });
    expect(progressFigures(p!)).toBe('50% · 72 of 144 h of history · 1.2 h/s · ETA 1m00s');
  });

  it('is done once every cursor is back where it stood, and absent before any re-fetch', () => {
    const p = refetchProgress([{ generation: 1, from, until, startedAt: at(0), cursorAt: new Date(T0 + 5_000).toISOString() }], T0 + 20_000);
    expect(p).toMatchObject({ phase: 'done', running: false, fraction: 1, done: 48, total: 48 });
    expect(refetchProgress([], T0)).toBeNull();
    expect(workProgressOf([{ name: 'graph:signIns' }], T0)).toEqual([]);
  });

  it('lists one back-fill per organization (the latest generation) before the re-fetch', () => {
    const b = { state: 'querying', queryStatus: 'notStarted', recordsFetched: 0, startedAt: at(0) };
    const work = workProgressOf(
      [
        { name: 'management:Audit.Exchange', backfill: { ...b, generation: 1 }, refetch: { generation: 1, from, until, startedAt: at(0), cursorAt: from } },
        { name: 'management:Audit.SharePoint', backfill: { ...b, generation: 2 } },
      ],
      T0,
    );
    expect(work.map((w) => [w.kind, w.generation])).toEqual([
      ['backfill', 2],
      ['refetch', 1],
    ]);
  });
});
