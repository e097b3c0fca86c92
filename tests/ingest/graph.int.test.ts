import { describe, expect, it } from 'vitest';
import type { SourceName } from '../../runtime/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/** Graph pollers (activity, risk, registration snapshot) against the simulator and real Kafka. */
const fx = useIngestFixture();

describe('Graph pollers', () => {
  it('publish sign-ins, directory audits and risk detections exactly once, and every risky user', async () => {
    const tenant = await fx().sim.tenant({ publicationDelayMs: [0, 2_000] });
    const orgId = 'org-graph';
    const sources: SourceName[] = ['graph:signIns', 'graph:directoryAudits', 'graph:riskDetections', 'graph:riskyUsers'];
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, sources);
    // A batch must be available in the ledger (publication delay up to 2 s) before "all published" means all of it.
    const allPublished = async (expected: number) => {
      for (const s of ['graph:signIns', 'graph:directoryAudits', 'graph:riskDetections'] as SourceName[]) {
        await waitUntil(
          async () => {
            const ledger = await fx().ledgerIds(tenant.tenantId, s);
            return ledger.length === expected && new Set(publishedIds(fx().raw.values(), orgId, s)).size >= ledger.length;
          },
          40_000,
          `all ${expected} records of ${s}`,
        );
      }
    };
    // Two rounds: the second batch is added once the pollers have published the first, so it arrives in a later cycle.
    for (const s of sources) await fx().sim.control.addRecords(tenant.tenantId, s, 40);
    await allPublished(40);
    for (const s of sources) await fx().sim.control.addRecords(tenant.tenantId, s, 40);
    await allPublished(80);
    await waitUntil(
      async () => {
        const users = new Set(await fx().ledgerIds(tenant.tenantId, 'graph:riskyUsers'));
        const got = new Set(publishedIds(fx().raw.values(), orgId, 'graph:riskyUsers'));
        return [...users].every((u) => got.has(u));
      },
      40_000,
      'every risky user',
    );
    // Later cycles re-read the lag window (the reports budget, 5 requests / 10 s per tenant shared by two sources,
    // allows one every few seconds): wait until sign-ins has skipped re-listed ids, then check nothing doubled.
    await fx().status.waitFor(
      (all) => (all.filter((s) => s.orgId === orgId && s.source === 'graph:signIns').at(-1)?.counts.duplicatesSkipped ?? 0) > 0,
      30_000,
      'sign-ins re-listed and skipped',
    );
    for (const s of ['graph:signIns', 'graph:directoryAudits', 'graph:riskDetections'] as SourceName[]) {
      const got = publishedIds(fx().raw.values(), orgId, s);
      expect(duplicatesOf(got)).toEqual([]);
      expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, s)));
      expect(got.length).toBe(80);
    }
    const statuses = fx()
      .status.values()
      .filter((s) => s.orgId === orgId && s.source === 'graph:signIns');
    expect(statuses.at(-1)?.counts.duplicatesSkipped).toBeGreaterThan(0);
    expect(statuses.at(-1)?.state).toBe('ok');
    await ingest.close();
  });

  it('turns the registration report into change events with before/after, none for the baseline', async () => {
    const tenant = await fx().sim.tenant({ users: 6 });
    const orgId = 'org-registration';
    const source: SourceName = 'graph:userRegistrationDetails';
    await fx().sim.control.addRecords(tenant.tenantId, source, 6);
    // The baseline must see all six: start ingest once the simulator publishes them.
    await waitUntil(async () => (await fx().ledgerIds(tenant.tenantId, source)).length === 6, 10_000, 'the six registration records published');
    const ingest = await fx().startIngest({ INGEST_REGISTRATION_INTERVAL_MS: '1500' });
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().status.waitFor((all) => all.some((s) => s.orgId === orgId && s.source === source && s.lastSuccessAt !== null), 20_000, 'baseline snapshot');
    expect(
      fx()
        .raw.values()
        .filter((e) => e.orgId === orgId),
    ).toEqual([]);
    for (let i = 0; i < 4; i++) await fx().sim.control.addRecords(tenant.tenantId, source, 6);
    await fx().raw.waitFor((all) => all.some((e) => e.orgId === orgId), 20_000, 'registration change events');
    // Every change made has been snapshotted (two more cycles) and read back before the events are checked.
    await fx().settle(ingest, orgId, [source]);
    const events = fx()
      .raw.values()
      .filter((e) => e.orgId === orgId)
      .map((e) => e.record as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(0);
    expect(duplicatesOf(events.map((e) => String(e.id)))).toEqual([]);
    for (const e of events) {
      expect(['methodRegistered', 'methodRemoved', 'capabilityChanged']).toContain(e.changeType);
      expect(e.before).not.toBeNull();
      expect(e.after).toBeTruthy();
      expect(JSON.stringify(e.before)).not.toBe(JSON.stringify(e.after));
      if (e.changeType === 'methodRegistered') expect((e.after as { methodsRegistered: string[] }).methodsRegistered).toContain(e.method);
      if (e.changeType === 'methodRemoved') expect((e.before as { methodsRegistered: string[] }).methodsRegistered).toContain(e.method);
    }
    await ingest.close();
  });
});
