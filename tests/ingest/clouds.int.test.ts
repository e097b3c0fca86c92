import { describe, expect, it } from 'vitest';
import type { Cloud, SourceName } from '../../runtime/index.ts';
import { publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * Every cloud profile (authority, Management host, Graph host and token audiences chosen together) against the
 * simulator, which issues and checks cloud-specific audiences. Hosts are overridden per cloud the documented
 * way (M365_<CLOUD>_{AUTHORITY,MANAGEMENT,GRAPH}_HOST).
 */
const fx = useIngestFixture();

const CLOUDS: Cloud[] = ['commercial', 'gcc', 'gcc-high', 'dod'];
const PREFIX: Record<Cloud, string> = { commercial: 'M365_COMMERCIAL', gcc: 'M365_GCC', 'gcc-high': 'M365_GCC_HIGH', dod: 'M365_DOD' };

describe('cloud profiles', () => {
  it('polls the Management API and Graph of a tenant in each cloud, and fails a tenant connected with the wrong cloud', async () => {
    const url = fx().sim.sim.url;
    const hosts: Record<string, string> = { M365_ALL_HOSTS: '' };
    for (const c of CLOUDS) for (const h of ['AUTHORITY', 'MANAGEMENT', 'GRAPH']) hosts[`${PREFIX[c]}_${h}_HOST`] = url;
    await fx().startIngest(hosts);
    const mgmt: SourceName = 'management:Audit.AzureActiveDirectory';
    const graph: SourceName = 'graph:directoryAudits';
    const tenants = await Promise.all(CLOUDS.map((cloud) => fx().sim.tenant({ cloud })));
    for (const [i, cloud] of CLOUDS.entries()) await fx().connect(`org-${cloud}`, (tenants[i] as { tenantId: string }).tenantId, [mgmt, graph], { cloud });
    const wrong = await fx().sim.tenant({ cloud: 'gcc-high' });
    await fx().connect('org-wrong-cloud', wrong.tenantId, [graph], { cloud: 'commercial' });
    for (const t of tenants) await fx().waitForSubscriptions(t.tenantId);
    for (const t of tenants) {
      await fx().sim.control.addRecords(t.tenantId, mgmt, 12);
      await fx().sim.control.addRecords(t.tenantId, graph, 6);
    }
    await fx().sim.control.addRecords(wrong.tenantId, graph, 6);
    for (const [i, cloud] of CLOUDS.entries()) {
      const tenantId = (tenants[i] as { tenantId: string }).tenantId;
      for (const s of [mgmt, graph]) {
        await waitUntil(
          async () => {
            const ledger = (await fx().sim.control.ledger(tenantId, s)).records.map((r) => r.id);
            const got = new Set(publishedIds(fx().raw.values(), `org-${cloud}`, s));
            return ledger.length > 0 && ledger.every((id) => got.has(id));
          },
          30_000,
          `${s} of the ${cloud} tenant`,
        );
      }
    }
    await fx().status.waitFor((all) => all.some((s) => s.orgId === 'org-wrong-cloud' && s.state !== 'ok' && s.reason !== null), 20_000, 'wrong-cloud status');
    expect(publishedIds(fx().raw.values(), 'org-wrong-cloud', graph)).toEqual([]);
  });
});
