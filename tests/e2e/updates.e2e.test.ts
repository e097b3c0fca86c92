/**
 * Records that change, end to end (issue 18): a Defender XDR alert created, then assigned, classified and resolved in
 * the simulated tenant, flows through ingest, normalize and index; the index holds one document per change (four)
 * and the collapse query of docs/querying-updates.md shows the alert's current state. A risk detection dismissed an
 * hour after it was detected is a second document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWholePipeline, waitUntil, type Pipeline } from './harness.ts';

interface Hit {
  _source: {
    '@timestamp': string;
    event: { id: string };
    m365: { alert: { id: string; status: string; classification: string | null; determination: string | null; assigned_to: string | null } };
  };
}

describe('alerts and risk detections that change', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startWholePipeline();
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 120_000);

  const search = async (body: unknown): Promise<Hit[]> => {
    await p.opensearch.indices.refresh({ index: `${p.indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true } as never);
    const r = await p.opensearch.search({ index: `${p.indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true, body } as never);
    return (r as { body: { hits: { hits: Hit[] } } }).body.hits.hits;
  };
  const historyOf = (orgId: string, source: string) =>
    search({
      size: 100,
      query: { bool: { filter: [{ term: { 'organization.id': orgId } }, { term: { 'm365.source': source } }] } },
      sort: [{ '@timestamp': 'asc' }],
    });

  it('an alert updated three times is four documents, and the collapse query shows its current state', async () => {
    const tenant = await p.control.createTenant({
      name: 'E2E Alerts',
      domain: `alerts-${Date.now().toString(36)}.example`,
      users: 5,
      publicationDelayMs: [0, 500],
    });
    const org = await p.connect(tenant);
    const source = 'graph:securityAlerts';
    const { firstIndex } = await p.control.addRecords(tenant.tenantId, source, 1);
    await waitUntil('the new alert indexed', async () => (await historyOf(org.orgId, source)).length === 1, 90_000);
    // Each change is read by the pollers before the next one replaces it (Graph serves only the current state).
    for (let n = 2; n <= 4; n++) {
      await p.control.updateRecords(tenant.tenantId, source, firstIndex);
      await waitUntil(`change ${n - 1} indexed`, async () => (await historyOf(org.orgId, source)).length === n, 90_000);
    }
    const history = await historyOf(org.orgId, source);
    expect(history).toHaveLength(4);
    expect(new Set(history.map((h) => h._source.event.id)).size).toBe(4);
    expect(new Set(history.map((h) => h._source.m365.alert.id)).size).toBe(1);
    expect(history.map((h) => h._source.m365.alert.status)).toEqual(['new', 'inProgress', 'inProgress', 'resolved']);
    expect(history[2]?._source.m365.alert).toMatchObject({ classification: 'truePositive', determination: 'malware' });

    // The current state: collapse on the alert id, newest change first (docs/querying-updates.md).
    const current = await search({
      query: { bool: { filter: [{ term: { 'organization.id': org.orgId } }, { term: { 'm365.source': source } }] } },
      collapse: { field: 'm365.alert.id' },
      sort: [{ '@timestamp': 'desc' }],
    });
    expect(current).toHaveLength(1);
    expect(current[0]?._source.m365.alert).toMatchObject({ status: 'resolved', classification: 'truePositive', determination: 'malware' });
    expect(current[0]?._source.m365.alert.assigned_to).toBeTruthy();
  }, 420_000);

  it('a risk detection dismissed an hour after detection is a second document', async () => {
    const tenant = await p.control.createTenant({
      name: 'E2E Risk',
      domain: `risk-${Date.now().toString(36)}.example`,
      users: 5,
      publicationDelayMs: [0, 500],
    });
    const org = await p.connect(tenant);
    const source = 'graph:riskDetections';
    const { firstIndex } = await p.control.addRecords(tenant.tenantId, source, 1);
    await waitUntil('the detection indexed', async () => (await historyOf(org.orgId, source)).length === 1, 90_000);
    await p.control.advanceClock(3_600_000);
    await p.control.updateRecords(tenant.tenantId, source, firstIndex, { state: 'dismissed' });
    await waitUntil('the dismissal indexed', async () => (await historyOf(org.orgId, source)).length === 2, 90_000);
    const [detected, dismissed] = await historyOf(org.orgId, source);
    expect(detected?._source.m365.alert.id).toBe(dismissed?._source.m365.alert.id);
    expect(detected?._source.m365.alert.status).toBe('atRisk');
    expect(dismissed?._source.m365.alert.status).toBe('dismissed');
    expect(Date.parse(dismissed?._source['@timestamp'] ?? '') - Date.parse(detected?._source['@timestamp'] ?? '')).toBeGreaterThanOrEqual(3_600_000);
  }, 300_000);
});
