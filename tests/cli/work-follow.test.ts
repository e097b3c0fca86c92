import { describe, expect, it } from 'vitest';
import { followWork } from '../../cli/work-follow.ts';

const T0 = Date.parse('2026-12-03T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const ENV = { M365_SIEM_URL: 'http://127.0.0.1:1', M365_SIEM_TOKEN: 'cli-test-token' };

/** A control plane that answers the given connection bodies in turn (the last one again), recording each request. */
function statusAnswers(bodies: unknown[]) {
  const seen: Array<{ url: string; auth: string | null }> = [];
  const fetchImpl = (async (url: string, init?: RequestInit) => {
    seen.push({ url, auth: new Headers(init?.headers).get('authorization') });
    const body = bodies[Math.min(seen.length - 1, bodies.length - 1)];
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { seen, fetchImpl };
}

function output(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns: 160, write: (t: string) => writes.push(t) } };
}

const backfill = (over: Record<string, unknown>) => ({
  generation: 2,
  state: 'querying',
  queryStatus: 'running',
  from: iso(T0 - 86_400_000),
  to: iso(T0),
  recordsFetched: 0,
  published: 0,
  duplicates: 0,
  message: null,
  startedAt: iso(T0),
  finishedAt: null,
  recordsExpected: null,
  fetchingStartedAt: null,
  ...over,
});
const connection = (sources: unknown[]) => ({ status: 'active', sources });

describe('replay --backfill/--refetch --follow (issue 17 item 7)', () => {
  it('waits for the requested generation, then draws the back-fill to its end as plain lines off a terminal', async () => {
    let now = T0;
    const { seen, fetchImpl } = statusAnswers([
      // An older back-fill is not the one asked for.
      connection([{ name: 'management:Audit.Exchange', backfill: backfill({ generation: 1, state: 'succeeded', finishedAt: iso(T0 - 1000) }) }]),
      connection([{ name: 'management:Audit.Exchange', backfill: backfill({}) }]),
      connection([
        {
          name: 'management:Audit.Exchange',
          backfill: backfill({ state: 'fetching', queryStatus: 'succeeded', recordsFetched: 300, recordsExpected: 900, fetchingStartedAt: iso(T0 + 10_000) }),
        },
      ]),
      connection([
        {
          name: 'management:Audit.Exchange',
          backfill: backfill({
            state: 'succeeded',
            queryStatus: 'succeeded',
            recordsFetched: 900,
            recordsExpected: 900,
            published: 850,
            duplicates: 50,
            fetchingStartedAt: iso(T0 + 10_000),
            finishedAt: iso(T0 + 40_000),
          }),
        },
      ]),
    ]);
    const { writes, out } = output(false);
    const end = await followWork(ENV, 'org_abc123', 'backfill', 2, {
      out,
      fetchImpl,
      now: () => now,
      pause: async (ms) => {
        now += ms * 5;
      },
      plainEveryMs: 0,
    });
    expect(end).toMatchObject({ phase: 'done', done: 900 });
    expect(seen[0]).toEqual({ url: 'http://127.0.0.1:1/api/v1/organizations/org_abc123/applications/microsoft-manage', auth: 'Bearer cli-test-token' });
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes[0]).toMatch(/^\[back-fill\] 0 records .*waiting for ingest/);
    expect(writes[1]).toMatch(/^\[back-fill\] 0 records .*audit log query \(running\)/);
    // 300 records in the 10 s since paging began: 30/s, 600 left: 20 s.
    expect(writes[2]).toMatch(/^\[back-fill\] 33\.3% {2}300\/900 records {2}30 records\/s {2}ETA 20s/);
    expect(writes.at(-1)).toMatch(/^\[back-fill\] 100% {2}900\/900 records {2}30 records\/s .*850 new, 50 already collected/);
  });

  it('redraws one line on a terminal for a re-fetch and returns when every cursor is back', async () => {
    let now = T0;
    const from = iso(T0 - 48 * 3_600_000);
    const refetch = (cursorAt: string) => ({ generation: 4, from, until: iso(T0), startedAt: iso(T0), cursorAt });
    const { fetchImpl } = statusAnswers([
      connection([{ name: 'graph:signIns', refetch: refetch(iso(T0 - 24 * 3_600_000)) }]),
      connection([{ name: 'graph:signIns', refetch: refetch(iso(T0 + 1000)) }]),
    ]);
    const { writes, out } = output(true);
    const end = await followWork(ENV, 'org_abc123', 'refetch', 4, {
      out,
      fetchImpl,
      now: () => now,
      pause: async () => {
        now += 12_000;
      },
    });
    expect(end).toMatchObject({ kind: 'refetch', phase: 'done', done: 48, total: 48 });
    expect(writes[0]).toMatch(/^\r\[re-fetch\] \[#{12}\.{12}\] {2}50\.0% {2}24\/48 h of history/);
    expect(writes.at(-1)).toMatch(/^\r\[re-fetch\] \[#{24}\] {2}100% {2}48\/48 h of history.*\n$/);
  });
});
