import { describe, expect, it } from 'vitest';
import type { FetchFn } from '../../ingest/index.ts';
import type { SourceName } from '../../runtime/index.ts';
import { Collector, duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/** A Graph report backlog (first connection to a tenant with history) read in time slices under throttling. */
const fx = useIngestFixture();

const HOUR = 3_600_000;
const SLICE_MS = 4 * HOUR;
const LAG_MS = 60_000;
const BACKLOG = 300;

/** The `ge` and, for a bounded slice, `le` instants of a recorded $filter. */
function bounds(filter: string): { ge: number; le: number | null } {
  const m = /^createdDateTime ge (\S+)(?: and createdDateTime le (\S+))?$/.exec(filter);
  if (!m) throw new Error(`unexpected $filter: ${filter}`);
  return { ge: Date.parse(m[1] ?? ''), le: m[2] === undefined ? null : Date.parse(m[2]) };
}

describe('Graph report time slices', () => {
  it('commit the cursor slice by slice while throttling fails cycles part-way, then every record of the backlog is published once', async () => {
    const source: SourceName = 'graph:signIns';
    const orgId = 'org-backlog';
    // The injected faults are the throttling here; the simulator's own 5 / 10 s limit would only make the test longer.
    const tenant = await fx().sim.tenant({ graphThrottling: false });
    await fx().sim.control.addRecords(tenant.tenantId, source, BACKLOG, { eventsSpanMs: 20 * HOUR });
    const checkpoints = new Collector(fx().kafka, fx().topics.checkpoints.name, `${fx().groupId}-checkpoints`, (v) => v as { cursorMs?: number | null });
    await checkpoints.start();
    const committedCursors = () => [
      ...new Set(
        checkpoints.items
          .filter((i) => i.key === `${orgId}|${source}`)
          .map((i) => i.value.cursorMs)
          .filter((c): c is number => typeof c === 'number'),
      ),
    ];
    const connectedAt = Date.now();
    const filters: string[] = [];
    let cycleBroken = false;
    const recordingFetch: FetchFn = async (url, init) => {
      if (url.includes('/auditLogs/signIns')) {
        const filter = new URL(url).searchParams.get('$filter') ?? '';
        filters.push(filter);
        // Certainly once, besides the random throttling: the third slice (two already committed) is throttled on all
        // three attempts of its request, so that cycle fails part-way.
        if (!cycleBroken && bounds(filter).ge >= connectedAt - 17 * HOUR) {
          cycleBroken = true;
          await fx().sim.control.injectFault({ target: 'graph', kind: 'throttle', count: 3, tenantId: tenant.tenantId });
        }
      }
      return fetch(url, init);
    };
    try {
      // Sustained throttling: half the requests answer 429 with Retry-After (2 s); three in a row fail the cycle.
      const sustained = await fx().sim.control.injectFault({ target: 'graph', kind: 'throttle', rate: 0.5, tenantId: tenant.tenantId });
      const ingest = await fx().startIngest(
        {
          INGEST_INITIAL_LOOKBACK_MS: String(24 * HOUR),
          INGEST_GRAPH_SLICE_MS: String(SLICE_MS),
          INGEST_GRAPH_LAG_MS: String(LAG_MS),
          INGEST_GRAPH_REPORTS_PER_10S: '1000',
        },
        { fetch: recordingFetch },
      );
      await fx().connect(orgId, tenant.tenantId, [source]);

      // (a) While throttled, the committed cursor climbs through the backlog one slice at a time.
      await waitUntil(() => committedCursors().some((c) => c >= connectedAt - SLICE_MS), 180_000, 'the committed cursor through the backlog');
      expect((await fx().sim.control.listFaults()).find((f) => f.id === sustained.id)?.applied).toBeGreaterThan(0);
      await fx().sim.control.clearFault(sustained.id);
      const cursors = committedCursors();
      const inBacklog = cursors.filter((c) => c < connectedAt - SLICE_MS);
      expect(inBacklog.length).toBeGreaterThanOrEqual(4);
      expect(inBacklog[0]).toBeLessThan(connectedAt - 19 * HOUR);
      for (let i = 1; i < cursors.length; i++) {
        const step = (cursors[i] as number) - (cursors[i - 1] as number);
        expect(step).toBeGreaterThan(0);
        if ((cursors[i] as number) < connectedAt) expect(step).toBeLessThanOrEqual(SLICE_MS);
      }
      // A cycle failed with its committed cursor deep in the backlog, and the next one resumed from that cursor.
      const failedInBacklog = fx()
        .status.values()
        .filter((s) => s.orgId === orgId && s.reason === 'throttled' && s.lagSeconds !== null && s.lagSeconds * 1000 > SLICE_MS);
      expect(failedInBacklog.length).toBeGreaterThan(0);
      const asked = filters.map(bounds);
      expect(asked.some((a) => inBacklog.includes(a.ge + LAG_MS))).toBe(true);

      // (c) Each of those cursors is the `le` bound of a slice asked; no slice is wider than one.
      const bounded = asked.filter((a): a is { ge: number; le: number } => a.le !== null);
      for (const b of bounded) expect(b.le - b.ge).toBeLessThanOrEqual(SLICE_MS);
      for (const c of inBacklog) expect(bounded.map((b) => b.le)).toContain(c);

      // (b) Once the fault is gone, the backlog is published exactly once.
      const ledger = await fx().ledgerIds(tenant.tenantId, source);
      expect(ledger).toHaveLength(BACKLOG);
      await waitUntil(() => new Set(publishedIds(fx().raw.values(), orgId, source)).size >= BACKLOG, 120_000, 'every backlog record published');
      await waitUntil(() => committedCursors().some((c) => c >= connectedAt), 60_000, 'the cursor at the present');
      // A few more cycles re-read their lag window: the ledger keeps them from publishing again.
      const requestsSoFar = filters.length;
      await waitUntil(() => filters.length >= requestsSoFar + 3, 30_000, 'more cycles');
      const got = publishedIds(fx().raw.values(), orgId, source);
      expect(duplicatesOf(got)).toEqual([]);
      expect(new Set(got)).toEqual(new Set(ledger));
      // Caught up: a cycle's window is shorter than a slice again, asked in the one open-ended query of before.
      expect(bounds(filters.at(-1) ?? '').le).toBeNull();
      await ingest.close();
    } finally {
      await checkpoints.stop();
    }
  }, 300_000);
});
