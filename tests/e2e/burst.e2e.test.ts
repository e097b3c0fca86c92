/**
 * Issue 19 end to end on real Kafka and OpenSearch, checked against the simulator's ledger (decision 0082):
 *   - a burst of 50,000 realistic Exchange records on one tenant, plus records of 50 KB each and one record of 3 MB,
 *     arrives while the normalizer is held (stopped: the same backlog a SIGSTOP, a GC pause or a deploy leaves);
 *   - the normalizer comes back to a backlog of tens of megabytes on the tenant's partition;
 *   - every ledger record is searchable exactly once, the 3 MB one included (docs/decisions/0091), and no stage
 *     is left "not ready".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimTenant } from '../../simulator/index.ts';
import { organizationDocumentCount, startWholePipeline, waitUntil, type ConnectedOrganization, type Pipeline } from './harness.ts';

const SOURCE = 'management:Audit.Exchange' as const;
const BURST = 50_000;
const LARGE = 400;
const LARGE_BYTES = 50 * 1024;
const HUGE_BYTES = 3 * 1024 * 1024;

describe('a burst on one tenant while the normalizer is held (real Kafka and OpenSearch)', () => {
  let p: Pipeline;
  let tenant: SimTenant;
  let org: ConnectedOrganization;

  beforeAll(async () => {
    p = await startWholePipeline({ INGEST_GRAPH_LAG_MS: '60000', INGEST_INITIAL_LOOKBACK_MS: '3600000' });
    tenant = await p.control.createTenant({
      name: 'Burst Contoso',
      domain: `burst-${Date.now().toString(36)}.example`,
      users: 50,
      publicationDelayMs: [0, 500],
      recordsPerBlob: 100,
    });
    org = await p.connect(tenant);
  }, 180_000);

  /** On a timeout: which ledger records are not searchable, whether they reached siem.events, and every dead letter. */
  async function whereAreTheMissing(expected: readonly string[], hugeId: string | undefined): Promise<string> {
    const indexed = new Set((await p.documents()).filter((d) => d.orgId === org.orgId).map((d) => d.eventId));
    const missing = expected.filter((id) => !indexed.has(id));
    const onEvents = new Set((await p.readEvents()).filter((e) => e.orgId === org.orgId).map((e) => e.eventId));
    const letters = await p.readDeadLetters();
    const shown = missing
      .slice(0, 10)
      .map((id) => `${id}${id === hugeId ? ' (the 3 MB record)' : ''}: ${onEvents.has(id) ? 'on siem.events' : 'not on siem.events'}`);
    const dead = letters.map((l) => `${l.stage}/${l.errorCode} ${l.bytes} bytes: ${l.head.slice(0, 300)}`);
    return `; missing ${missing.length}: ${shown.join('; ')}; dead letters ${letters.length}: ${dead.join(' | ') || 'none'}; normalize readiness ${p.services.normalize?.service.readiness() ?? 'ready'}, index readiness ${p.services.index?.service.readiness() ?? 'ready'}`;
  }

  afterAll(async () => {
    await p?.close();
  }, 120_000);

  it('indexes every record of the burst exactly once, the 50 KB and 3 MB records included', async () => {
    // Content published before its subscription started is never retrievable (decision 0082): wait for it.
    await waitUntil(
      'ingest to start the Exchange subscription',
      async () => {
        const subs = (await p.control.getTenant(tenant.tenantId)).subscriptions;
        return subs.some((s) => s.contentType === 'Audit.Exchange' && s.status === 'enabled');
      },
      60_000,
      500,
    );
    // The hold: the normalizer is away while the burst is collected into m365.raw.
    await p.stop('normalize');
    await p.control.addRecords(tenant.tenantId, SOURCE, BURST);
    await p.control.addRecords(tenant.tenantId, SOURCE, LARGE, { recordBytes: LARGE_BYTES });
    const ledgerIds = async () => [...new Set((await p.control.ledger(tenant.tenantId, SOURCE)).records.map((r) => r.id))];
    // The ledger lists a record once Microsoft would have published it (the tenant's publication delay).
    const ledgerOf = (n: number) =>
      waitUntil(
        `${n} records in the ledger`,
        async () => {
          const ids = await ledgerIds();
          return ids.length >= n ? ids : null;
        },
        30_000,
        250,
      );
    const beforeHuge = new Set(await ledgerOf(BURST + LARGE));
    await p.control.addRecords(tenant.tenantId, SOURCE, 1, { recordBytes: HUGE_BYTES });
    const started = Date.now();
    const expected = await ledgerOf(BURST + LARGE + 1);
    const hugeId = expected.find((id) => !beforeHuge.has(id));
    expect(expected.length).toBe(BURST + LARGE + 1);

    // Everything collected into m365.raw before the normalizer comes back: the backlog of issue 19.
    await waitUntil(
      'm365.raw to hold as many messages as the burst',
      async () => [...(await p.endOffsets(p.topics.raw.name)).values()].reduce((a, b) => a + b, 0n) >= BigInt(expected.length),
      300_000,
      2_000,
    );
    const rawMessages = await waitUntil(
      'the burst in m365.raw',
      async () => {
        const raw = await p.readRaw();
        const ids = new Set(raw.filter((r) => r.orgId === org.orgId).map((r) => r.eventId));
        return expected.every((id) => ids.has(id)) ? raw.length : null;
      },
      300_000,
      5_000,
    );
    const collectedAt = Date.now();
    await p.start('normalize');

    const count = () => organizationDocumentCount(p, org.orgId);
    let searchable = 0;
    try {
      // Generous: a loaded 2-core machine moves a few hundred of these records per second through three services.
      await waitUntil(
        'every ledger record searchable',
        async () => {
          searchable = await count();
          return searchable >= expected.length;
        },
        600_000,
        2_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message} (${searchable} of ${expected.length} searchable)${await whereAreTheMissing(expected, hugeId)}`);
    }
    const indexedAt = Date.now();
    await p.waitForIndexerCaughtUp(120_000);

    const docs = (await p.documents()).filter((d) => d.orgId === org.orgId);
    const perId = new Map<string, number>();
    for (const d of docs) perId.set(d.eventId, (perId.get(d.eventId) ?? 0) + 1);
    const missing = expected.filter((id) => perId.get(id) !== 1);
    expect(missing, 'ledger records not searchable exactly once').toEqual([]);
    expect(docs.length).toBe(expected.length);
    expect(hugeId).toBeDefined();
    expect(perId.get(hugeId!), 'the 3 MB record searchable once').toBe(1);

    for (const name of ['ingest', 'normalize', 'index'] as const) {
      const service = p.services[name];
      const readiness =
        name === 'ingest'
          ? p.services.ingest?.service.readiness()
          : name === 'normalize'
            ? p.services.normalize?.service.readiness()
            : p.services.index?.service.readiness();
      expect(service, name).not.toBeNull();
      expect(readiness ?? null, `${name} readiness`).toBeNull();
    }
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    console.log(
      `burst: ${expected.length} records (${rawMessages} messages on m365.raw) collected in ${seconds(collectedAt - started)} s; ` +
        `normalizer back → all searchable in ${seconds(indexedAt - collectedAt)} s (${Math.round(expected.length / ((indexedAt - collectedAt) / 1000))} records/s); ` +
        `largest normalizer send ${p.services.normalize?.service.sendLimits?.largestSendBytes} of ${p.services.normalize?.service.sendLimits?.limitOf(p.topics.events.name)} bytes`,
    );
  }, 900_000);
});
