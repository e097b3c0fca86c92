import { describe, expect, it } from 'vitest';
import type { FetchFn } from '../../ingest/index.ts';
import type { SourceName, SourceStatus } from '../../runtime/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * Visible gaps (issue 18 item 5, decisions 0150-0151): a subscription restart records a durable data-loss marker of
 * what Microsoft will never serve and asks /subscriptions/start no more than once per 15 minutes; a Graph source on a
 * Free tenant counts down from 7 days and marks what passed its retention. Ingest and the simulator share one clock
 * (the poller's `now` follows the simulator's, decision 0014), so days pass without waiting.
 */
const fx = useIngestFixture();
const MINUTE = 60_000;
const DAY = 24 * 3_600_000;

function latestOf(orgId: string, source: SourceName): () => SourceStatus | undefined {
  return () =>
    fx()
      .status.values()
      .filter((s) => s.orgId === orgId && s.source === source)
      .at(-1);
}

describe('visible gaps', () => {
  it('a subscription stopped and restarted records the interval Microsoft never serves, once per 15 minutes at most, durably', async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const tenant = await fx().sim.tenant({ recordsPerBlob: 5 });
    const orgId = 'org-restart-gap';
    const source: SourceName = 'management:Audit.Exchange';
    const env = { INGEST_POLL_INTERVAL_MS: '300', INGEST_MAX_BACKOFF_MS: '500', INGEST_CHECKPOINT_INTERVAL_MS: '0' };
    let listings = 0;
    const counting: FetchFn = (url, init) => {
      if (url.includes('/subscriptions/content')) listings++;
      return fetch(url, init);
    };
    const ingest = await fx().startIngest(env, { now, fetch: counting });
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().waitForSubscriptions(tenant.tenantId, ['Audit.Exchange']);
    const latest = latestOf(orgId, source);
    await fx().sim.control.addRecords(tenant.tenantId, source, 10);
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 10, 20_000, 'records before the stop');
    // The first start marks the look-back the Management API cannot serve, without degrading the source.
    await fx().status.waitFor(
      () => latest()?.gaps.some((g) => g.cause === 'subscription_started') === true && latest()?.state === 'ok',
      20_000,
      'first-start marker',
    );

    const stoppedAt = now();
    await fx().sim.control.disableSubscription(tenant.tenantId, 'Audit.Exchange');
    await fx().sim.control.addRecords(tenant.tenantId, source, 5); // published while stopped: never served
    // Within 15 minutes of the first start the poller waits instead of asking again.
    await fx().status.waitFor(
      () => latest()?.reason === 'subscription_disabled' && /asking again in/.test(latest()?.message ?? ''),
      20_000,
      'waiting for the 15 minutes',
    );
    const listed = listings;
    await waitUntil(async () => listings >= listed + 5, 20_000, 'five more cycles, each answered AF20023');
    let sim = await fx().sim.control.getTenant(tenant.tenantId);
    expect(sim.startRequests['Audit.Exchange']).toEqual({ answered: 1, refused: 0 });

    // 16 minutes later for both clocks: one start request, and the marker [cursor, restart).
    offset += 16 * MINUTE;
    const restartedAt = (await fx().sim.control.advanceClock(16 * MINUTE)).now;
    await fx().status.waitFor(() => latest()?.gaps.some((g) => g.cause === 'subscription_restarted') === true, 20_000, 'restart marker');
    const status = latest();
    const gap = status?.gaps.find((g) => g.cause === 'subscription_restarted');
    expect(status?.state).toBe('degraded');
    expect(status?.reason).toBe('data_loss_risk');
    expect(status?.message).toMatch(/never serve/);
    expect(Date.parse(gap?.from ?? '')).toBeLessThanOrEqual(stoppedAt);
    expect(Date.parse(gap?.from ?? '')).toBeGreaterThan(stoppedAt - 2 * MINUTE);
    expect(Math.abs(Date.parse(gap?.to ?? '') - Date.parse(restartedAt))).toBeLessThan(30_000);
    sim = await fx().sim.control.getTenant(tenant.tenantId);
    expect(sim.startRequests['Audit.Exchange']).toEqual({ answered: 2, refused: 0 });
    expect(sim.subscriptions.find((s) => s.contentType === 'Audit.Exchange')?.status).toBe('enabled');

    // What is published after the restart flows; nothing is duplicated; the 5 records of the gap are the simulator's
    // "not collected" ones, never published.
    await fx().sim.control.addRecords(tenant.tenantId, source, 5);
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 15, 20_000, 'records after the restart');
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(duplicatesOf(got)).toEqual([]);
    expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, source)));
    expect((await fx().sim.control.ledger(tenant.tenantId, source)).notCollected).toBe(5);

    // The marker survives a restart of ingest: the new instance reports it from the checkpoint.
    await ingest.close();
    const before = fx().status.values().length;
    const again = await fx().startIngest(env, { now });
    await fx().status.waitFor(
      () => fx().status.values().length > before && latest()?.gaps.some((g) => g.cause === 'subscription_restarted' && g.from === gap?.from) === true,
      20_000,
      'the marker after a restart of ingest',
    );
    expect((await fx().sim.control.getTenant(tenant.tenantId)).startRequests['Audit.Exchange']).toEqual({ answered: 2, refused: 0 });
    await again.close();
  });

  it('a start request answered with a 5xx or a plain 429 did not take: the poller asks again at once, not in 15 minutes', async () => {
    const tenant = await fx().sim.tenant({ recordsPerBlob: 5 });
    const orgId = 'org-start-fails';
    const source: SourceName = 'management:Audit.SharePoint';
    // The first two start requests are answered 503 and then a plain 429 (no named wait) on the way to the simulator.
    const answers = [503, 429];
    let starts = 0;
    const failingStarts: FetchFn = async (url, init) => {
      if (!url.includes('/subscriptions/start')) return fetch(url, init);
      starts++;
      const status = answers.shift();
      if (status === undefined) return fetch(url, init);
      const code = status === 503 ? 'AF50000' : 'AF429';
      return new Response(JSON.stringify({ error: { code, message: 'An internal server error occurred. Retry the request.' } }), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    };
    // Ingest follows the simulator's clock, which earlier tests of this file may have moved on.
    const offset = Date.parse((await fx().sim.control.advanceClock(0)).now) - Date.now();
    const now = () => Date.now() + offset;
    const ingest = await fx().startIngest(
      { INGEST_POLL_INTERVAL_MS: '300', INGEST_MAX_BACKOFF_MS: '1000', INGEST_CHECKPOINT_INTERVAL_MS: '0' },
      { now, fetch: failingStarts },
    );
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().waitForSubscriptions(tenant.tenantId, ['Audit.SharePoint']);
    expect(starts).toBe(3);
    await fx().sim.control.addRecords(tenant.tenantId, source, 5);
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 5, 20_000, 'records after the failed starts');
    await ingest.close();
  });

  it("a Free tenant's Graph source warns before its 7th day of failure, then marks the 3 days lost after 10 days", async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const tenant = await fx().sim.tenant({ licences: { entraP1: false, entraP2: false } });
    const orgId = 'org-free-retention';
    const source: SourceName = 'graph:directoryAudits';
    const ingest = await fx().startIngest({ INGEST_POLL_INTERVAL_MS: '300', INGEST_MAX_BACKOFF_MS: '500', INGEST_CHECKPOINT_INTERVAL_MS: '0' }, { now });
    await fx().connect(orgId, tenant.tenantId, [source]);
    const latest = latestOf(orgId, source);
    await fx().sim.control.addRecords(tenant.tenantId, source, 5);
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 5, 20_000, 'first records');
    await fx().status.waitFor(() => latest()?.state === 'ok' && latest()?.lagSeconds !== null, 20_000, 'ok');

    const outage = await fx().sim.control.injectFault({ tenantId: tenant.tenantId, target: 'graph', kind: 'server-error' });
    await fx().status.waitFor(() => latest()?.state === 'failing', 20_000, 'failing');
    const cursorAtOutage = Date.parse(latest()?.lastSuccessAt ?? '');
    offset += 5.5 * DAY;
    await fx().sim.control.advanceClock(5.5 * DAY);
    await fx().status.waitFor(() => latest()?.reason === 'data_loss_risk', 20_000, 'the warning');
    expect(latest()?.hoursUntilDataLoss).toBeGreaterThan(30);
    expect(latest()?.hoursUntilDataLoss).toBeLessThanOrEqual(36.1);
    expect(latest()?.message).toMatch(/7-day limit/);

    // Ten days of outage in all: the first 3 days after the cursor are past Entra Free's 7 days.
    offset += 4.5 * DAY;
    await fx().sim.control.advanceClock(4.5 * DAY);
    await fx().sim.control.clearFault(outage.id);
    await fx().status.waitFor(() => latest()?.gaps.some((g) => g.cause === 'retention_passed') === true, 20_000, 'the retention marker');
    const gap = latest()?.gaps.find((g) => g.cause === 'retention_passed');
    const lostMs = Date.parse(gap?.to ?? '') - Date.parse(gap?.from ?? '');
    expect(Math.abs(lostMs - 3 * DAY)).toBeLessThan(2 * MINUTE);
    expect(Math.abs(Date.parse(gap?.from ?? '') - cursorAtOutage)).toBeLessThan(2 * MINUTE);
    expect(latest()?.reason).toBe('data_loss_risk');
    expect(latest()?.state).toBe('degraded');
    await ingest.close();
  });
});
