import { describe, expect, it } from 'vitest';
import { RAW_HEADERS, type SourceName } from '../../runtime/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitForPollCycles, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * Management Activity API end to end against the simulator and real Kafka: m365.raw is compared with the
 * simulator's ledger (every record id it made available), for completeness and for duplicates.
 */
const fx = useIngestFixture();

describe('Management Activity API poller', () => {
  it('publishes every record exactly once despite duplicates, re-served, out-of-order and paged content', async () => {
    const tenant = await fx().sim.tenant({
      duplicateRate: 0.3,
      reserveRate: 0.4,
      outOfOrder: true,
      recordsPerBlob: 15,
      contentPageSize: 3,
      publicationDelayMs: [0, 1500],
    });
    const orgId = 'org-mgmt-complete';
    const sources: SourceName[] = ['management:Audit.Exchange', 'management:Audit.AzureActiveDirectory'];
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, sources);
    await fx().waitForSubscriptions(tenant.tenantId, ['Audit.Exchange', 'Audit.AzureActiveDirectory']);
    for (let i = 0; i < 3; i++) {
      for (const s of sources) await fx().sim.control.addRecords(tenant.tenantId, s, 60);
      // Each batch lands after a cycle of its own, so later cycles re-list earlier content.
      await waitForPollCycles(ingest, orgId, sources, 1);
    }
    for (const s of sources) {
      await waitUntil(
        async () => {
          const ledger = await fx().sim.control.ledger(tenant.tenantId, s);
          return ledger.pending === 0 && new Set(publishedIds(fx().raw.values(), orgId, s)).size >= ledger.records.length;
        },
        30_000,
        `all records of ${s}`,
      );
    }
    // Let two more cycles re-list the overlap, and read what they committed: nothing new may appear.
    await fx().settle(ingest, orgId, sources);
    for (const s of sources) {
      const expected = await fx().ledgerIds(tenant.tenantId, s);
      const got = publishedIds(fx().raw.values(), orgId, s);
      expect(expected.length).toBe(180);
      expect(duplicatesOf(got)).toEqual([]);
      expect(new Set(got)).toEqual(new Set(expected));
    }
    const sample = fx().raw.items.find((i) => i.value.orgId === orgId);
    expect(sample?.key).toBe(orgId);
    expect(sample?.value.tenantId).toBe(tenant.tenantId);
    expect(sample?.value.contentId).toBeTruthy();
    expect(sample?.headers[RAW_HEADERS.source]).toBe(sample?.value.source);
    expect(sample?.headers[RAW_HEADERS.contentType]).toBe(sample?.value.contentType);
    expect((sample?.value.record as Record<string, unknown> | undefined)?.OrganizationId).toBe(tenant.tenantId);
    // Duplicates were really served and skipped, and status says so.
    await fx().status.waitFor(
      (all) => all.some((s) => s.orgId === orgId && s.source === 'management:Audit.Exchange' && s.counts.duplicatesSkipped > 0 && s.state === 'ok'),
      10_000,
      'status with skipped duplicates',
    );
    await ingest.close();
  });

  it('retries truncated, malformed and failing responses without losing or repeating records', async () => {
    const tenant = await fx().sim.tenant({ recordsPerBlob: 10, contentPageSize: 4 });
    const orgId = 'org-mgmt-faults';
    const source: SourceName = 'management:DLP.All';
    // A subscription listing that forgets ours: the poller starts it again and Microsoft answers AF20024.
    const forgetful = async (url: string, init: RequestInit) => {
      const res = await fetch(url, init);
      if (url.includes('/subscriptions/list') && res.status === 200) return new Response('[]', { status: 200, headers: res.headers });
      return res;
    };
    const token = await fx().sim.token(tenant.tenantId, 'https://manage.office.com');
    const started = await fetch(`${fx().sim.management(tenant.tenantId)}/subscriptions/start?contentType=DLP.All`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(started.status).toBe(200);
    const ingest = await fx().startIngest({}, { fetch: forgetful });
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().sim.control.addRecords(tenant.tenantId, source, 30);
    await waitUntil(() => publishedIds(fx().raw.values(), orgId, source).length >= 30, 20_000, 'first records');
    for (const kind of ['truncated', 'malformed', 'server-error'] as const) {
      await fx().sim.control.injectFault({ tenantId: tenant.tenantId, target: 'management', kind, count: 3 });
    }
    await fx().sim.control.addRecords(tenant.tenantId, source, 60);
    await waitUntil(async () => new Set(publishedIds(fx().raw.values(), orgId, source)).size >= 90, 30_000, 'every record despite the faults');
    await fx().settle(ingest, orgId, [source]);
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(duplicatesOf(got)).toEqual([]);
    expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, source)));
    expect(
      fx()
        .dlq.values()
        .filter((d) => d.orgId === orgId),
    ).toEqual([]);
    await ingest.close();
  });

  it('loses and duplicates nothing when the poller is killed in the middle of a window and restarted', async () => {
    const tenant = await fx().sim.tenant({ recordsPerBlob: 10, contentPageSize: 50 });
    const orgId = 'org-mgmt-crash';
    const source: SourceName = 'management:Audit.General';
    const first = await fx().startIngest({ INGEST_BLOB_CONCURRENCY: '2' });
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().waitForSubscriptions(tenant.tenantId, ['Audit.General']);
    const fault = await fx().sim.control.injectFault({ tenantId: tenant.tenantId, target: 'management', kind: 'slow', delayMs: 250 });
    await fx().sim.control.addRecords(tenant.tenantId, source, 400);
    await waitUntil(() => publishedIds(fx().raw.values(), orgId, source).length >= 60, 30_000, 'the window to be partly published');
    const before = publishedIds(fx().raw.values(), orgId, source).length;
    await first.crash();
    expect(before).toBeLessThan(400); // the kill really happened in the middle of the window
    await fx().sim.control.clearFault(fault.id);
    const second = await fx().startIngest();
    await waitUntil(() => new Set(publishedIds(fx().raw.values(), orgId, source)).size >= 400, 40_000, 'the rest of the window after restart');
    await fx().settle(second, orgId, [source]);
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(duplicatesOf(got)).toEqual([]);
    expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, source)));
    await second.close();
  });
});
