import { GraphError } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { rejectionOf, startFixture } from './fixtures/simulator-fixture.ts';

/**
 * Conformance of the simulator to Microsoft's Graph v1.0 pages for the resources that change in place and for
 * provisioning logs: List alerts_v2 / incidents (permissions, $filter on lastUpdateDateTime, paging, $top bounds),
 * List servicePrincipalRiskDetections, riskDetection state changes, List provisioningObjectSummary.
 */
let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('graph-updatable');
});
afterAll(async () => {
  await f.close();
});

type Collection = { '@odata.context': string; '@odata.nextLink'?: string; value: Array<Record<string, unknown>> };
const graphError = (p: Promise<unknown>) => rejectionOf(p, GraphError);

describe('Defender XDR alerts and incidents', () => {
  it('serve alerts_v2 in the security.alert shape, with evidence, and list a change again by lastUpdateDateTime', async () => {
    const t = await f.tenant({ graphThrottling: false });
    const { firstIndex } = await f.control.addRecords(t.tenantId, 'graph:securityAlerts', 3);
    const client = f.graphClient(t.tenantId);
    // The records are published after the tenant's publication delay: move the clock past it.
    const ledger = await f.control.ledger(t.tenantId, 'graph:securityAlerts');
    const publishedBy = Math.max(...ledger.records.map((r) => Date.parse(r.availableAt)));
    await f.control.advanceClock(Math.max(0, publishedBy - Date.now()) + 1);
    const all = ((await client.api('/security/alerts_v2').get()) as Collection).value;
    expect(all).toHaveLength(3);
    const alert = all[0] as Record<string, unknown>;
    expect(alert['@odata.type']).toBe('#microsoft.graph.security.alert');
    expect(alert).toMatchObject({ status: 'new', classification: 'unknown', determination: 'unknown', tenantId: t.tenantId });
    const types = (alert.evidence as Array<{ '@odata.type': string }>).map((e) => e['@odata.type']);
    expect(types).toEqual(
      expect.arrayContaining(['#microsoft.graph.security.userEvidence', '#microsoft.graph.security.deviceEvidence', '#microsoft.graph.security.fileEvidence']),
    );

    const since = new Date(Date.now() + 60_000);
    await f.control.advanceClock(120_000);
    const update = await f.control.updateRecords(t.tenantId, 'graph:securityAlerts', firstIndex);
    await f.control.advanceClock(Math.max(0, Date.parse(update.availableAt) - Date.parse(update.updatedAt)) + 1);
    const changed = ((await client.api('/security/alerts_v2').filter(`lastUpdateDateTime ge ${since.toISOString()}`).get()) as Collection).value;
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ status: 'inProgress' });
    expect(changed[0]?.assignedTo).toBeTruthy();
    expect(Date.parse(String(changed[0]?.lastUpdateDateTime))).toBeGreaterThan(Date.parse(String(changed[0]?.createdDateTime)));
    // The ledger lists both versions of the changed alert.
    expect((await f.control.ledger(t.tenantId, 'graph:securityAlerts')).records.filter((r) => r.id === changed[0]?.id).map((r) => r.version)).toEqual([0, 1]);
  });

  it('needs SecurityAlert.Read.All and SecurityIncident.Read.All, and bounds the incidents page at 50', async () => {
    const t = await f.tenant({ consent: ['AuditLog.Read.All'] });
    const client = f.graphClient(t.tenantId);
    expect((await graphError(client.api('/security/alerts_v2').get())).statusCode).toBe(403);
    expect((await graphError(client.api('/security/incidents').get())).statusCode).toBe(403);
    const ok = await f.tenant({ graphThrottling: false });
    await f.control.addRecords(ok.tenantId, 'graph:securityIncidents', 30);
    const okClient = f.graphClient(ok.tenantId);
    expect((await graphError(okClient.api('/security/incidents').top(51).get())).statusCode).toBe(400);
    await f.control.advanceClock(10_000);
    const first = (await okClient.api('/security/incidents').get()) as Collection;
    expect(first.value).toHaveLength(20);
    expect(first['@odata.nextLink']).toContain('%24skiptoken=');
    expect(first.value[0]?.['@odata.type']).toBe('#microsoft.graph.security.incident');
  });
});

describe('identity protection and provisioning', () => {
  it('serves service-principal risk detections and provisioning logs with their documented properties', async () => {
    const t = await f.tenant({ graphThrottling: false });
    await f.control.addRecords(t.tenantId, 'graph:servicePrincipalRiskDetections', 2);
    await f.control.addRecords(t.tenantId, 'graph:provisioning', 2);
    await f.control.advanceClock(10_000);
    const client = f.graphClient(t.tenantId);
    const sp = ((await client.api('/identityProtection/servicePrincipalRiskDetections').get()) as Collection).value;
    expect(sp).toHaveLength(2);
    expect(sp[0]).toMatchObject({ activity: 'servicePrincipal', riskState: 'atRisk', source: 'IdentityProtection' });
    expect(Object.keys(sp[0] ?? {})).toEqual(
      expect.arrayContaining(['servicePrincipalId', 'servicePrincipalDisplayName', 'appId', 'keyIds', 'lastUpdatedDateTime']),
    );
    const prov = ((await client.api('/auditLogs/provisioning').get()) as Collection).value;
    expect(prov).toHaveLength(2);
    expect(Object.keys(prov[0] ?? {})).toEqual(
      expect.arrayContaining([
        'activityDateTime',
        'provisioningAction',
        'provisioningStatusInfo',
        'provisioningSteps',
        'sourceIdentity',
        'targetIdentity',
        'servicePrincipal',
      ]),
    );
  });

  it('a dismissed risk detection carries its new state and a later lastUpdatedDateTime', async () => {
    const t = await f.tenant({ graphThrottling: false });
    const { firstIndex } = await f.control.addRecords(t.tenantId, 'graph:riskDetections', 1);
    await f.control.advanceClock(3_600_000);
    const update = await f.control.updateRecords(t.tenantId, 'graph:riskDetections', firstIndex, { state: 'dismissed' });
    await f.control.advanceClock(Math.max(0, Date.parse(update.availableAt) - Date.parse(update.updatedAt)) + 1);
    const [d] = ((await f.graphClient(t.tenantId).api('/identityProtection/riskDetections').get()) as Collection).value;
    expect(d).toMatchObject({ riskState: 'dismissed', riskDetail: 'adminDismissedAllRiskForUser', riskLevel: 'none' });
    expect(Date.parse(String(d?.lastUpdatedDateTime)) - Date.parse(String(d?.detectedDateTime))).toBeGreaterThanOrEqual(3_600_000);
    const e = await f.control.updateRecords(t.tenantId, 'graph:signIns', 0).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
  });
});
