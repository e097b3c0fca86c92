/**
 * Licence refusals in every form of the table (ingest/licence-refusals.ts), through the real control plane and
 * ingest against simulator tenants answering in that form: a P1 tenant and a Free tenant stay Active, with exactly
 * their licence-gated sources `unavailable_licence` and every other source collecting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCES, type SourceName } from '../../runtime/index.ts';
import type { LicenceRefusalShape } from '../../simulator/graph/licence-refusals.ts';
import type { SimTenant } from '../../simulator/index.ts';
import { startWholePipeline, waitUntil, type Pipeline } from './harness.ts';

const SHAPES: LicenceRefusalShape[] = ['documented', 'premium-check', 'premium-check-new-wording', 'not-licensed-for-feature', 'no-valid-licence'];
const FREE_GATED: SourceName[] = [
  'graph:signIns',
  'graph:nonInteractiveSignIns',
  'graph:servicePrincipalSignIns',
  'graph:managedIdentitySignIns',
  'graph:riskyUsers',
  'graph:riskDetections',
  'graph:userRegistrationDetails',
  'graph:servicePrincipalRiskDetections',
  'graph:provisioning',
];
// Risky users need P2; risk detections and the reports are served to P1 (risk with limited detail).
const P1_GATED: SourceName[] = ['graph:riskyUsers'];

interface AppStatus {
  status: string;
  reason: string | null;
  sources: Array<{ name: string; state: string; reason: string | null }>;
}

describe('licence refusals keep the connection Active (real control plane, ingest, Kafka)', () => {
  let p: Pipeline;
  beforeAll(async () => {
    // The whole pipeline: Active means data flows to the index, and a normalizer that never consumes m365.raw is
    // a stalled pipeline (needs_attention, pipeline_stalled) once records wait there long enough.
    p = await startWholePipeline();
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 120_000);

  it('a P1 and a Free tenant, for each form of refusal, show exactly their gated sources unavailable_licence', async () => {
    const cases: Array<{ shape: LicenceRefusalShape; tier: 'p1' | 'free'; tenant: SimTenant; orgId: string }> = [];
    for (const shape of SHAPES) {
      for (const tier of ['p1', 'free'] as const) {
        const tenant = await p.control.createTenant({
          name: `Lic ${shape} ${tier}`,
          domain: `lic-${shape}-${tier}-${Date.now().toString(36)}.example`,
          users: 5,
          publicationDelayMs: [0, 0],
          licences: { entraP1: tier === 'p1', entraP2: false },
          licenceRefusal: shape,
        });
        const org = await p.connect(tenant);
        cases.push({ shape, tier, tenant, orgId: org.orgId });
      }
    }
    for (const c of cases) {
      // Something to collect on every source that is served, so Active can be reached.
      for (const s of SOURCES) if (!(c.tier === 'free' ? FREE_GATED : P1_GATED).includes(s)) await p.control.addRecords(c.tenant.tenantId, s, 3);
    }
    for (const c of cases) {
      const gated = c.tier === 'free' ? FREE_GATED : P1_GATED;
      let last: AppStatus | null = null;
      const final = await waitUntil(
        `${c.tier} tenant answering ${c.shape}: Active with ${gated.length} sources unavailable_licence`,
        async () => {
          const r = await p.api<AppStatus>('GET', `/organizations/${c.orgId}/applications/microsoft-manage`);
          if (r.status !== 200) return null;
          last = r.body;
          const unavailable = r.body.sources
            .filter((s) => s.state === 'unavailable_licence')
            .map((s) => s.name)
            .sort();
          const graphOk = r.body.sources.filter((s) => s.name.startsWith('graph:') && !gated.includes(s.name as SourceName)).every((s) => s.state === 'ok');
          return r.body.status === 'active' && graphOk && JSON.stringify(unavailable) === JSON.stringify([...gated].sort()) ? r.body : null;
        },
        120_000,
        1_000,
      ).catch((error: unknown) => {
        const seen = last as AppStatus | null;
        const states = seen?.sources.map((x) => `${x.name}=${x.state}${x.reason ? `(${x.reason})` : ''}`).join(' ');
        throw new Error(`${(error as Error).message}; last seen: ${seen ? `${seen.status} ${seen.reason ?? ''} ${states}` : 'no answer'}`);
      });
      expect(final.reason).toBeNull();
      for (const s of final.sources.filter((x) => gated.includes(x.name as SourceName))) expect(s.reason).toBe('licence_missing');
      expect(final.sources.some((s) => s.reason === 'permission_missing')).toBe(false);
    }
  }, 300_000);
});
