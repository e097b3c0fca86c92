import { describe, expect, it } from 'vitest';
import type { SourceName } from '../../runtime/index.ts';
import type { FetchFn } from '../../ingest/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * Content Microsoft lists late (its contentCreated already behind the cursor when it first shows up) is found by
 * the trailing overlap; a source failing for days says how many hours are left before the 7-day limit, and
 * catches up once repaired.
 */
const fx = useIngestFixture();
const DAY = 24 * 3_600_000;

describe('late and at-risk content', () => {
  it('finds a blob listed only after the cursor passed its contentCreated (trailing overlap)', async () => {
    const tenant = await fx().sim.tenant({ recordsPerBlob: 10 });
    const orgId = 'org-late';
    const source: SourceName = 'management:Audit.SharePoint';
    const hidden = new Set<string>();
    let hideUntil = 0;
    // Plays Microsoft listing late: the first blob listed is left out of every listing for a few seconds.
    const late: FetchFn = async (url, init) => {
      const res = await fetch(url, init);
      if (res.status !== 200 || !url.includes('/subscriptions/content')) return res;
      const items = JSON.parse(await res.text()) as Array<{ contentId: string }>;
      if (hidden.size === 0 && items[0]) {
        hidden.add(items[0].contentId);
        hideUntil = Date.now() + 3_000;
      }
      const shown = Date.now() < hideUntil ? items.filter((i) => !hidden.has(i.contentId)) : items;
      return new Response(JSON.stringify(shown), { status: 200, headers: res.headers });
    };
    const ingest = await fx().startIngest({}, { fetch: late });
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().waitForSubscriptions(tenant.tenantId);
    await fx().sim.control.addRecords(tenant.tenantId, source, 40);
    // While hidden, every other blob is published and the cursor moves past the hidden one.
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 30, 20_000, 'the visible blobs');
    expect(Date.now()).toBeLessThan(hideUntil);
    expect(publishedIds(fx().raw.values(), orgId, source)).toHaveLength(30);
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 40, 20_000, 'the late blob');
    await fx().settle(ingest, orgId, [source]);
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(duplicatesOf(got)).toEqual([]);
    expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, source)));
    await ingest.close();
  });

  it('a source failing for days reports data_loss_risk with the hours left, then fills the gap once repaired', async () => {
    let offset = 0;
    const tenant = await fx().sim.tenant({});
    const orgId = 'org-at-risk';
    const source: SourceName = 'management:Audit.General';
    const ingest = await fx().startIngest({ INGEST_MAX_BACKOFF_MS: '1000' }, { now: () => Date.now() + offset });
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().waitForSubscriptions(tenant.tenantId);
    await fx().sim.control.addRecords(tenant.tenantId, source, 20);
    await waitUntil(async () => publishedIds(fx().raw.values(), orgId, source).length >= 20, 20_000, 'first records');
    const outage = await fx().sim.control.injectFault({ tenantId: tenant.tenantId, target: 'management', kind: 'server-error' });
    const latest = () =>
      fx()
        .status.values()
        .filter((s) => s.orgId === orgId && s.source === source)
        .at(-1);
    await fx().status.waitFor(() => latest()?.state === 'failing', 20_000, 'failing status');
    // 5.5 days pass for Microsoft and for the poller: the content at the cursor is 36 h from the 7-day limit.
    offset = 5.5 * DAY;
    await fx().sim.control.advanceClock(5.5 * DAY);
    await fx().sim.control.addRecords(tenant.tenantId, source, 20);
    await fx().status.waitFor(() => latest()?.reason === 'data_loss_risk', 20_000, 'data_loss_risk');
    const risk = latest();
    expect(risk?.state).toBe('failing');
    expect(risk?.hoursUntilDataLoss).toBeGreaterThan(30);
    expect(risk?.hoursUntilDataLoss).toBeLessThanOrEqual(36.1);
    expect(risk?.message).toMatch(/h left before/);
    await fx().sim.control.clearFault(outage.id);
    await waitUntil(async () => new Set(publishedIds(fx().raw.values(), orgId, source)).size >= 40, 30_000, 'the gap filled');
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(duplicatesOf(got)).toEqual([]);
    expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, source)));
    await fx().status.waitFor(() => latest()?.state === 'ok', 20_000, 'ok after repair');
    await ingest.close();
  });
});
