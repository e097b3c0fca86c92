import { describe, expect, it } from 'vitest';
import type { RawEnvelope, SourceName } from '../../runtime/index.ts';
import { duplicatesOf, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * The Graph sources of issue 18 against the simulator and real Kafka: service-principal risk detections,
 * provisioning logs, Defender XDR alerts and incidents, and risk detections re-read by their last update. Every
 * version Microsoft served (the record as first published and each later change) reaches m365.raw exactly once,
 * through throttling, 5xx answers, truncated bodies and a poller restart.
 */
const fx = useIngestFixture();

const UPDATED_FIELD: Partial<Record<SourceName, string>> = {
  'graph:riskDetections': 'lastUpdatedDateTime',
  'graph:servicePrincipalRiskDetections': 'lastUpdatedDateTime',
  'graph:securityAlerts': 'lastUpdateDateTime',
  'graph:securityIncidents': 'lastUpdateDateTime',
};

/** One published version: the record id, with its last-update time (ms) for records changed in place. */
function versionKey(id: string, updatedMs: number | null): string {
  return updatedMs === null ? id : `${id}@${updatedMs}`;
}

function publishedVersions(raw: RawEnvelope[], orgId: string, source: SourceName): string[] {
  const field = UPDATED_FIELD[source];
  return raw
    .filter((e) => e.orgId === orgId && e.source === source)
    .map((e) => {
      const r = e.record as Record<string, unknown>;
      return versionKey(String(r.id), field ? Date.parse(String(r[field])) : null);
    });
}

async function ledgerVersions(tenantId: string, source: SourceName): Promise<{ keys: string[]; pending: number }> {
  const ledger = await fx().sim.control.ledger(tenantId, source);
  return { keys: ledger.records.map((r) => versionKey(r.id, UPDATED_FIELD[source] ? Date.parse(r.updatedAt ?? r.eventTime) : null)), pending: ledger.pending };
}

const SOURCES: SourceName[] = [
  'graph:servicePrincipalRiskDetections',
  'graph:provisioning',
  'graph:securityAlerts',
  'graph:securityIncidents',
  'graph:riskDetections',
];

describe('risk updates, provisioning logs, Defender alerts and incidents', () => {
  it('publish every version exactly once through throttling, 5xx, truncated bodies and a poller restart', async () => {
    const tenant = await fx().sim.tenant({ publicationDelayMs: [0, 1_500] });
    const orgId = 'org-updatable';
    let ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, SOURCES);
    for (const s of SOURCES) await fx().sim.control.addRecords(tenant.tenantId, s, 30);
    for (const kind of ['throttle', 'server-error', 'truncated'] as const)
      await fx().sim.control.injectFault({ target: 'graph', kind, count: 2, tenantId: tenant.tenantId });
    // Records changed later: each change is a new version the pollers must read again by its last-update time.
    const updatable = SOURCES.filter((s) => UPDATED_FIELD[s]);
    await waitUntil(() => updatable.every((s) => publishedVersions(fx().raw.values(), orgId, s).length >= 30), 90_000, 'first versions published');
    for (const s of updatable) await fx().sim.control.updateRecords(tenant.tenantId, s, 0, { count: 10 });
    // Records 5..9 change twice: their first change must have been served to a poller before the second replaces it.
    await waitUntil(() => updatable.every((s) => publishedVersions(fx().raw.values(), orgId, s).length >= 40), 90_000, 'first changes published');
    // A poller restart between two rounds of changes: cursors and ledgers come back from Kafka.
    await ingest.close();
    for (const s of SOURCES) await fx().sim.control.addRecords(tenant.tenantId, s, 10);
    for (const s of updatable) await fx().sim.control.updateRecords(tenant.tenantId, s, 5, { count: 10 });
    ingest = await fx().startIngest();
    for (const s of SOURCES) {
      await waitUntil(
        async () => {
          const ledger = await ledgerVersions(tenant.tenantId, s);
          const got = new Set(publishedVersions(fx().raw.values(), orgId, s));
          return ledger.pending === 0 && ledger.keys.every((k) => got.has(k));
        },
        120_000,
        `every version of ${s}`,
      );
    }
    for (const s of SOURCES) {
      const got = publishedVersions(fx().raw.values(), orgId, s);
      const ledger = await ledgerVersions(tenant.tenantId, s);
      expect(duplicatesOf(got), s).toEqual([]);
      expect(new Set(got), s).toEqual(new Set(ledger.keys));
      // 40 records; the updatable ones also 20 changes, of which records 5..9 had two.
      expect(got.length, s).toBe(UPDATED_FIELD[s] ? 60 : 40);
    }
    await ingest.close();
  }, 240_000);

  it('a risk detection dismissed an hour after it was detected is published a second time, in its new state', async () => {
    const tenant = await fx().sim.tenant({ publicationDelayMs: [0, 500] });
    const orgId = 'org-risk-dismissed';
    const source: SourceName = 'graph:riskDetections';
    const ingest = await fx().startIngest();
    await fx().connect(orgId, tenant.tenantId, [source]);
    const { firstIndex } = await fx().sim.control.addRecords(tenant.tenantId, source, 1);
    await fx().raw.waitFor((all) => all.some((e) => e.orgId === orgId), 30_000, 'the detection');
    await fx().sim.control.advanceClock(3_600_000);
    await fx().sim.control.updateRecords(tenant.tenantId, source, firstIndex, { state: 'dismissed' });
    await fx().raw.waitFor((all) => all.filter((e) => e.orgId === orgId).length >= 2, 30_000, 'the dismissal');
    const versions = fx()
      .raw.values()
      .filter((e) => e.orgId === orgId)
      .map((e) => e.record as Record<string, string>);
    expect(versions).toHaveLength(2);
    const [detected, dismissed] = versions as [Record<string, string>, Record<string, string>];
    expect(dismissed.id).toBe(detected.id);
    expect(detected.riskState).toBe('atRisk');
    expect(dismissed).toMatchObject({ riskState: 'dismissed', riskDetail: 'adminDismissedAllRiskForUser' });
    expect(Date.parse(dismissed.lastUpdatedDateTime ?? '') - Date.parse(detected.detectedDateTime ?? '')).toBeGreaterThanOrEqual(3_600_000);
    await ingest.close();
  });
});
