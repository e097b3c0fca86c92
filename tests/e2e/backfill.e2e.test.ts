/**
 * History before the connection (issue 18 item 6, docs/decisions/0155), end to end against the simulator's Audit
 * Search API and real Kafka and OpenSearch: a new organization connected today shows yesterday's audit records from
 * the back-fill, and records the Management API serves as well are on m365.raw and in the index once each. A GCC High
 * organization's status says the back-fill is not offered there.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { requestBackfill } from '../../cli/replay.ts';
import type { BackfillStatus } from '../../runtime/index.ts';
import { startPipeline, waitUntil, type Pipeline } from './harness.ts';

interface AppStatus {
  status: string;
  reason: string | null;
  pendingUpgrade: { missingRoles: string[]; pausedSources: string[] } | null;
  sources: Array<{ name: string; state: string; lastEventAt: string | null; backfill?: BackfillStatus }>;
}

const DAY = 24 * 3_600_000;
const SOURCE = 'management:Audit.Exchange';

describe('back-fill of history before the connection', () => {
  let p: Pipeline;

  beforeAll(async () => {
    const caFile = inject('simulatorCaFile');
    if (!caFile) throw new Error('the global setup did not provide the simulator CA');
    p = await startPipeline({
      kafkaBrokers: inject('kafkaBrokers'),
      opensearchUrl: inject('opensearchUrl'),
      simulatorStateDir: path.dirname(caFile),
      env: { INGEST_BACKFILL_POLL_MS: '300', INGEST_BACKFILL_MAX_DAYS: '7' },
    });
    for (const name of ['control-plane', 'index', 'normalize', 'ingest'] as const) await p.start(name);
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 120_000);

  const statusOf = async (orgId: string) => {
    const r = await p.api<AppStatus>('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    return r.status === 200 ? r.body : null;
  };
  const backfillOf = async (orgId: string) => (await statusOf(orgId))?.sources.find((s) => s.name === SOURCE)?.backfill;

  it('a new organization shows yesterday’s records from the back-fill, once each after the Management API serves them too', async () => {
    const tenant = await p.control.createTenant({
      name: 'E2E Backfill',
      domain: `backfill-${Date.now().toString(36)}.example`,
      users: 5,
      publicationDelayMs: [0, 0],
      // The query stays queued long enough for records added after the subscription to be in it as well.
      auditSearch: { queuedMs: 8_000, runningMs: 2_000, outcome: 'succeeded' },
    });
    // Yesterday's history, before any subscription: the Management API will never serve it.
    await p.control.addRecords(tenant.tenantId, SOURCE, 30, { eventsSpanMs: DAY });
    const org = await p.connect(tenant);
    await waitUntil(
      'the Exchange poller to have subscribed and run a cycle',
      async () => (await statusOf(org.orgId))?.sources.find((s) => s.name === SOURCE)?.state === 'ok',
      90_000,
    );
    // More of yesterday's events, published now that the subscription collects: both APIs serve these.
    await p.control.addRecords(tenant.tenantId, SOURCE, 20, { eventsSpanMs: DAY });

    const done = await waitUntil(
      'the back-fill to succeed',
      async () => {
        const b = await backfillOf(org.orgId);
        return b?.state === 'succeeded' ? b : null;
      },
      120_000,
    );
    expect(done.queryStatus).toBe('succeeded');
    expect(done.recordsFetched).toBe(50);
    expect(Date.parse(done.from)).toBeLessThanOrEqual(Date.now() - 7 * DAY + 120_000);

    const ledger = await p.control.ledger(tenant.tenantId, SOURCE);
    expect(ledger.records).toHaveLength(20); // what the Management API serves: only what came after the subscription
    const feedIds = new Set<string>();
    for (const r of ledger.records) feedIds.add(r.id);

    // Every record on m365.raw and in the index once: the 30 only the back-fill could fetch and the 20 both served.
    const raw = await waitUntil(
      'all 50 records on m365.raw',
      async () => {
        const events = (await p.readRaw()).filter((e) => e.orgId === org.orgId);
        return events.length >= 50 ? events : null;
      },
      90_000,
    );
    const rawIds = raw.map((e) => e.eventId);
    expect(rawIds).toHaveLength(50);
    expect(new Set(rawIds).size).toBe(50);
    for (const id of feedIds) expect(rawIds).toContain(id);
    expect(done.published + done.duplicates).toBe(50);

    const docs = await waitUntil(
      'all 50 indexed',
      async () => {
        const mine = (await p.documents()).filter((d) => d.orgId === org.orgId);
        return mine.length >= 50 ? mine : null;
      },
      90_000,
    );
    expect(docs).toHaveLength(50);
    expect(new Set(docs.map((d) => d.eventId))).toEqual(new Set(rawIds));

    // The Management API keeps serving the same 20 on later cycles: still nothing new on the topic.
    await p.control.addRecords(tenant.tenantId, SOURCE, 1);
    await waitUntil('the next record on m365.raw', async () => (await p.readRaw()).filter((e) => e.orgId === org.orgId).length >= 51, 90_000);
    const after = (await p.readRaw()).filter((e) => e.orgId === org.orgId).map((e) => e.eventId);
    expect(after).toHaveLength(51);
    expect(new Set(after).size).toBe(51);

    // The operator asks again (replay --backfill --from 2d): a second generation fetches it all, publishes nothing new.
    const cli = { M365_SIEM_URL: p.controlPlaneUrl, M365_SIEM_TOKEN: p.operatorToken };
    const asked = await requestBackfill(cli, org.orgId, new Date(Date.now() - 2 * DAY));
    expect(asked.backfillGeneration).toBe(1);
    const again = await waitUntil(
      'the second back-fill to succeed',
      async () => {
        const b = await backfillOf(org.orgId);
        return b?.generation === 1 && b.state === 'succeeded' ? b : null;
      },
      120_000,
    );
    expect(Date.parse(again.from)).toBe(Date.parse(asked.backfillFrom));
    expect(again.recordsFetched).toBe(51);
    expect(again.published).toBe(0);
    expect(again.duplicates).toBe(51);
    const final = (await p.readRaw()).filter((e) => e.orgId === org.orgId);
    expect(final).toHaveLength(51);
    await expect(requestBackfill(cli, org.orgId, new Date(Date.now() - 200 * DAY))).rejects.toThrow(/400 invalid_request.*180 days/);
  }, 420_000);

  it('a query Microsoft ends failed shows as a failed back-fill, and the Management sources keep flowing', async () => {
    const tenant = await p.control.createTenant({
      name: 'E2E Backfill failed',
      domain: `backfill-failed-${Date.now().toString(36)}.example`,
      users: 5,
      publicationDelayMs: [0, 0],
      auditSearch: { queuedMs: 500, runningMs: 1_000, outcome: 'failed' },
    });
    const org = await p.connect(tenant);
    const b = await waitUntil(
      'the failed back-fill in the status',
      async () => {
        const got = await backfillOf(org.orgId);
        return got?.state === 'failed' ? got : null;
      },
      90_000,
    );
    expect(b.queryStatus).toBe('failed');
    expect(b.message).toMatch(/ended failed.*replay --backfill/);
    expect((await statusOf(org.orgId))?.sources.find((s) => s.name === SOURCE)?.state).toBe('ok');
  }, 180_000);

  it('a GCC High organization’s status says the back-fill is not offered there', async () => {
    const tenant = await p.control.createTenant({
      name: 'E2E Backfill GCC High',
      domain: `backfill-gov-${Date.now().toString(36)}.example`,
      users: 5,
      cloud: 'gcc-high',
    });
    const org = await p.connect(tenant, undefined, 'gcc-high');
    const b = await waitUntil(
      'the back-fill outcome in the status',
      async () => {
        const got = await backfillOf(org.orgId);
        return got?.state === 'not_offered' ? got : null;
      },
      90_000,
    );
    expect(b.message).toMatch(/not offered in gcc-high/);
    expect(b.queryStatus).toBeNull();
  }, 180_000);

  it('without the AuditLogsQuery role the status says the back-fill is not permitted, and the Management sources keep flowing', async () => {
    const app = await p.control.getApp();
    await p.control.patchApp({ requiredRoles: app.requiredRoles.filter((r) => r !== 'AuditLogsQuery.Read.All') });
    try {
      const tenant = await p.control.createTenant({ name: 'E2E Backfill no role', domain: `backfill-norole-${Date.now().toString(36)}.example`, users: 5 });
      // Without auto-upgrade (with it, the control plane would assign the role itself): the upgrade waits for approval.
      const org = await p.connect(tenant, undefined, 'commercial', false);
      const b = await waitUntil(
        'the refused back-fill in the status',
        async () => {
          const got = await backfillOf(org.orgId);
          return got?.state === 'not_permitted' ? got : null;
        },
        90_000,
      );
      expect(b.message).toMatch(/AuditLogsQuery\.Read\.All/);
      // Manifest version 4 knows the role is missing: no query is made, and the status names the remedy.
      expect(b.message).toMatch(/not permitted.*approve the pending permission upgrade/);
      expect(b.queryStatus).toBeNull();
      await waitUntil('the Exchange source ok', async () => (await statusOf(org.orgId))?.sources.find((s) => s.name === SOURCE)?.state === 'ok', 90_000);
      // The upgrade is pending, yet it pauses nothing and never holds the connection up (Active once events flow).
      const s = await statusOf(org.orgId);
      expect(s?.status).not.toBe('needs_attention');
      expect(s?.reason).toBeNull();
      expect(s?.pendingUpgrade?.missingRoles).toEqual(['AuditLogsQuery.Read.All']);
      expect(s?.pendingUpgrade?.pausedSources).toEqual([]);
    } finally {
      await p.control.patchApp({ requiredRoles: app.requiredRoles });
    }
  }, 180_000);
});
