import { describe, expect, it } from 'vitest';
import type { SourceName } from '../../runtime/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * Two instances share 50 tenants through the consumer group on m365.tenants; when one stops, the survivor
 * takes its tenants over from their committed checkpoints: every tenant still polled, nothing lost or repeated.
 */
const fx = useIngestFixture({ tenantPartitions: 12 });
const SOURCE: SourceName = 'graph:directoryAudits';
const TENANTS = 50;

describe('sharding tenants across instances', () => {
  it('two instances share 50 tenants; after one stops every tenant is still polled, exactly once', async () => {
    // Graph throttling off in the simulator: 50 tenants' cycles, not Microsoft's limits, are under test here.
    const tenants = await Promise.all(Array.from({ length: TENANTS }, () => fx().sim.tenant({ graphThrottling: false })));
    const orgs = tenants.map((t, i) => ({ orgId: `org-shard-${i}`, tenantId: t.tenantId }));
    const env = { INGEST_POLL_INTERVAL_MS: '1000', INGEST_GRAPH_REPORTS_PER_10S: '50' };
    const a = await fx().startIngest(env);
    const b = await fx().startIngest(env);
    await Promise.all([a.ready(), b.ready()]);
    for (const o of orgs) await fx().connect(o.orgId, o.tenantId, [SOURCE]);
    await waitUntil(() => a.service.polledOrgs.length + b.service.polledOrgs.length === TENANTS, 30_000, 'every tenant polled by one instance');
    expect(a.service.polledOrgs.length).toBeGreaterThan(0);
    expect(b.service.polledOrgs.length).toBeGreaterThan(0);
    expect(new Set([...a.service.polledOrgs, ...b.service.polledOrgs]).size).toBe(TENANTS);

    const complete = async () => {
      for (const o of orgs) {
        const ledger = (await fx().sim.control.ledger(o.tenantId, SOURCE)).records.map((r) => r.id);
        const got = new Set(publishedIds(fx().raw.values(), o.orgId, SOURCE));
        if (ledger.length === 0 || !ledger.every((id) => got.has(id))) return false;
      }
      return true;
    };
    for (const o of orgs) await fx().sim.control.addRecords(o.tenantId, SOURCE, 4);
    await waitUntil(complete, 45_000, 'first records of every tenant');

    const stopped = a.service.polledOrgs;
    await a.close();
    await waitUntil(() => b.service.polledOrgs.length === TENANTS, 30_000, 'the survivor polling every tenant');
    for (const o of orgs) await fx().sim.control.addRecords(o.tenantId, SOURCE, 4);
    await waitUntil(complete, 45_000, 'records added after the stop, for every tenant');
    // Nothing more appears: every tenant had two more cycles on the survivor and its records were read back.
    await Promise.all(orgs.map((o) => fx().settle(b, o.orgId, [SOURCE])));
    for (const o of orgs) {
      const got = publishedIds(fx().raw.values(), o.orgId, SOURCE);
      expect(duplicatesOf(got)).toEqual([]);
      expect(got.length).toBe(8);
    }
    expect(stopped.length).toBeGreaterThan(0);
  });
});
