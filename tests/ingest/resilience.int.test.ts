import { describe, expect, it } from 'vitest';
import type { SourceName, SourceStatus } from '../../runtime/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * Failure modes become status, and repair fills the gap: licence missing, permission missing, consent revoked
 * mid-run; a throttling storm on one tenant does not slow the others.
 */
const fx = useIngestFixture();

const latest = (orgId: string, source: SourceName): SourceStatus | undefined =>
  fx()
    .status.values()
    .filter((s) => s.orgId === orgId && s.source === source)
    .at(-1);

async function waitComplete(orgId: string, tenantId: string, source: SourceName, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    async () => {
      const ledger = await fx().sim.control.ledger(tenantId, source);
      const got = new Set(publishedIds(fx().raw.values(), orgId, source));
      return ledger.pending === 0 && ledger.records.length > 0 && ledger.records.every((r) => got.has(r.id));
    },
    timeoutMs,
    `every record of ${source} for ${orgId}`,
  );
}

describe('errors become status; repair fills the gap', () => {
  it('a missing licence marks only the licence-gated report unavailable, and data flows once licensed', async () => {
    const tenant = await fx().sim.tenant({ licences: { entraP1: false, entraP2: false } });
    const orgId = 'org-licence';
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, ['graph:signIns', 'graph:directoryAudits']);
    await fx().sim.control.addRecords(tenant.tenantId, 'graph:signIns', 20);
    await fx().sim.control.addRecords(tenant.tenantId, 'graph:directoryAudits', 20);
    await fx().status.waitFor(() => latest(orgId, 'graph:signIns')?.state === 'unavailable_licence', 20_000, 'unavailable_licence');
    const s = latest(orgId, 'graph:signIns');
    expect(s?.reason).toBe('licence_missing');
    expect(s?.licenceRequired).toMatch(/P1/);
    await waitComplete(orgId, tenant.tenantId, 'graph:directoryAudits');
    expect(publishedIds(fx().raw.values(), orgId, 'graph:signIns')).toEqual([]);
    await fx().sim.control.patchTenant(tenant.tenantId, { licences: { entraP1: true, entraP2: false } });
    await waitComplete(orgId, tenant.tenantId, 'graph:signIns');
    await fx().status.waitFor(() => latest(orgId, 'graph:signIns')?.state === 'ok', 20_000, 'signIns ok after licensing');
    await ingest.close();
  });

  it('a missing permission fails only that source with permission_missing', async () => {
    const tenant = await fx().sim.tenant({ consent: ['ActivityFeed.Read'] });
    const orgId = 'org-permission';
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, ['graph:directoryAudits', 'management:Audit.Exchange']);
    await fx().waitForSubscriptions(tenant.tenantId, ['Audit.Exchange']);
    await fx().sim.control.addRecords(tenant.tenantId, 'management:Audit.Exchange', 30);
    await fx().sim.control.addRecords(tenant.tenantId, 'graph:directoryAudits', 10);
    await fx().status.waitFor(() => latest(orgId, 'graph:directoryAudits')?.reason === 'permission_missing', 20_000, 'permission_missing');
    expect(latest(orgId, 'graph:directoryAudits')?.state).not.toBe('ok');
    // Only that source: the Management source, whose permission was granted, collects everything and reports so.
    await waitComplete(orgId, tenant.tenantId, 'management:Audit.Exchange');
    await fx().status.waitFor(() => latest(orgId, 'management:Audit.Exchange') !== undefined, 20_000, 'a status of Audit.Exchange');
    expect(latest(orgId, 'management:Audit.Exchange')?.reason).not.toBe('permission_missing');
    expect(latest(orgId, 'management:Audit.Exchange')?.state).not.toBe('failing');
    expect(publishedIds(fx().raw.values(), orgId, 'graph:directoryAudits')).toEqual([]);
    await fx().sim.control.grantConsent(tenant.tenantId);
    await waitComplete(orgId, tenant.tenantId, 'graph:directoryAudits', 30_000);
    expect(duplicatesOf(publishedIds(fx().raw.values(), orgId, 'graph:directoryAudits'))).toEqual([]);
    await ingest.close();
  });

  it('consent revoked mid-run shows consent_revoked, and after repair the gap is filled without duplicates', async () => {
    const tenant = await fx().sim.tenant({});
    const orgId = 'org-consent';
    const sources: SourceName[] = ['management:Audit.SharePoint', 'graph:directoryAudits'];
    const ingest = await fx().startIngest({ INGEST_TOKEN_REFRESH_MS: '1000' });
    await fx().connect(orgId, tenant.tenantId, sources);
    await fx().waitForSubscriptions(tenant.tenantId, ['Audit.SharePoint']);
    for (const s of sources) await fx().sim.control.addRecords(tenant.tenantId, s, 25);
    for (const s of sources) await waitComplete(orgId, tenant.tenantId, s);
    await fx().sim.control.revokeConsent(tenant.tenantId);
    for (const s of sources) await fx().status.waitFor(() => latest(orgId, s)?.reason === 'consent_revoked', 20_000, `consent_revoked on ${s}`);
    // Records keep arriving at Microsoft while we cannot read them.
    const errorsBefore = new Map(sources.map((s) => [s, ingest.service.statusOf(orgId, s)?.lastErrorAt ?? null]));
    for (const s of sources) await fx().sim.control.addRecords(tenant.tenantId, s, 25);
    // The gap is real: each source failed another cycle after those records arrived, before consent is repaired.
    await waitUntil(
      () => sources.every((s) => (ingest.service.statusOf(orgId, s)?.lastErrorAt ?? null) !== errorsBefore.get(s)),
      30_000,
      'a failed cycle of each source while consent is revoked',
    );
    await fx().sim.control.grantConsent(tenant.tenantId);
    for (const s of sources) {
      await waitComplete(orgId, tenant.tenantId, s, 40_000);
      const got = publishedIds(fx().raw.values(), orgId, s);
      expect(duplicatesOf(got)).toEqual([]);
      expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, s)));
      await fx().status.waitFor(() => latest(orgId, s)?.state === 'ok', 20_000, `${s} ok after repair`);
    }
    await ingest.close();
  });

  it('a source paused by the control plane reports paused, and resumes from its cursor without duplicates', async () => {
    const tenant = await fx().sim.tenant({});
    const orgId = 'org-pause';
    const source: SourceName = 'graph:directoryAudits';
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().sim.control.addRecords(tenant.tenantId, source, 15);
    await waitComplete(orgId, tenant.tenantId, source);
    await fx().connect(orgId, tenant.tenantId, [source], { paused: [{ source, reason: 'upgrade pending', missingRoles: ['AuditLog.Read.All'] }] });
    await fx().status.waitFor(() => latest(orgId, source)?.state === 'paused', 10_000, 'paused status');
    expect(latest(orgId, source)?.message).toContain('AuditLog.Read.All');
    // Paused means no poller: the source's runner is gone, so nothing more can be published for it.
    await waitUntil(() => !ingest.service.polledOrgs.includes(orgId), 10_000, 'the paused source no longer polled');
    await fx().sim.control.addRecords(tenant.tenantId, source, 15);
    expect(publishedIds(fx().raw.values(), orgId, source)).toHaveLength(15);
    // Disconnected for a while (polling disabled), then connected again: the cursor and ledger are kept.
    await fx().connect(orgId, tenant.tenantId, [source], { polling: { enabled: false } as never });
    // The disconnection took effect (the instance dropped the organization, paused runner and all) before it is
    // connected again, so the cursor and ledger below come back from Kafka, not from memory.
    await waitUntil(() => !ingest.service.assignedOrgs.includes(orgId), 10_000, 'the disabled organization dropped by the instance');
    await fx().connect(orgId, tenant.tenantId, [source]);
    await waitComplete(orgId, tenant.tenantId, source);
    await fx().settle(ingest, orgId, [source]);
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(duplicatesOf(got)).toEqual([]);
    expect(got).toHaveLength(30);
    await ingest.close();
  });

  it('an operator re-fetch rewinds the cursor once per generation and publishes the span again', async () => {
    const tenant = await fx().sim.tenant({});
    const orgId = 'org-refetch';
    const source: SourceName = 'graph:directoryAudits';
    const from = new Date(Date.now() - 120_000).toISOString();
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, [source]);
    await fx().sim.control.addRecords(tenant.tenantId, source, 12);
    await waitComplete(orgId, tenant.tenantId, source);
    await fx().settle(ingest, orgId, [source]);
    expect(publishedIds(fx().raw.values(), orgId, source)).toHaveLength(12);
    await fx().connect(orgId, tenant.tenantId, [source], {
      polling: { enabled: true, sources: [source], paused: [], refetchGeneration: 1, refetchFrom: from },
    });
    await waitUntil(() => publishedIds(fx().raw.values(), orgId, source).length >= 24, 20_000, 'the re-fetched span');
    // Two more cycles after the re-fetch: it must not rewind again on each.
    await fx().settle(ingest, orgId, [source]);
    const got = publishedIds(fx().raw.values(), orgId, source);
    expect(got).toHaveLength(24); // once more, not on every cycle
    expect(new Set(got)).toEqual(new Set(await fx().ledgerIds(tenant.tenantId, source)));
    await ingest.close();
  });

  it('a throttling storm on one tenant does not hold back the others', async () => {
    const stormy = await fx().sim.tenant({});
    const calm = await fx().sim.tenant({});
    const source: SourceName = 'management:Audit.General';
    const ingest = await fx().startIngest();
    await fx().connect('org-stormy', stormy.tenantId, [source]);
    await fx().connect('org-calm', calm.tenantId, [source]);
    await fx().waitForSubscriptions(stormy.tenantId, ['Audit.General']);
    await fx().waitForSubscriptions(calm.tenantId, ['Audit.General']);
    const storm = await fx().sim.control.injectFault({ tenantId: stormy.tenantId, target: 'management', kind: 'throttle', durationMs: 60_000 });
    await fx().sim.control.addRecords(stormy.tenantId, source, 50);
    for (let i = 0; i < 3; i++) {
      await fx().sim.control.addRecords(calm.tenantId, source, 40);
      await waitComplete('org-calm', calm.tenantId, source, 15_000);
    }
    // The calm tenant got everything while every request of the stormy one was refused.
    expect(publishedIds(fx().raw.values(), 'org-stormy', source)).toEqual([]);
    await fx().status.waitFor(() => latest('org-stormy', source)?.reason === 'throttled', 10_000, 'throttled status');
    expect(latest('org-calm', source)?.state).toBe('ok');
    await fx().sim.control.clearFault(storm.id);
    await waitComplete('org-stormy', stormy.tenantId, source, 30_000);
    expect(duplicatesOf(publishedIds(fx().raw.values(), 'org-stormy', source))).toEqual([]);
    await ingest.close();
  });
});
