/**
 * Per-cloud application registrations end to end (issue 13 item 3, docs/consent.md): Microsoft requires the connector
 * to be registered separately in each Entra instance, and the simulator, like Microsoft, knows the commercial
 * registration only in commercial and GCC tenants and the Entra ID Government one only in GCC High and DoD tenants.
 * A GCC High organization is connected next to a commercial one through the real consent pages: each consent link
 * names its own cloud's registration, both end Active, and each one's events are searchable under it only.
 * (A deployment without a GCC High registration refusing the connect is tests/control-plane/propagation.int.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerConsent } from '../../simulator/index.ts';
import type { SimTenant } from '../../simulator/index.ts';
import { organizationDocumentCount, startWholePipeline, waitUntil, type Pipeline } from './harness.ts';

type Cloud = 'commercial' | 'gcc-high';

describe('each cloud connects through its own application registration', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startWholePipeline();
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 120_000);

  async function connectThroughConsent(tenant: SimTenant, cloud: Cloud): Promise<{ orgId: string; consentUrl: URL }> {
    const created = await p.api<{ id: string }>('POST', '/organizations', { name: tenant.name });
    expect(created.status).toBe(201);
    const connect = await p.api<{ consentUrl: string }>('POST', `/organizations/${created.body.id}/applications/microsoft-manage`, {
      autoUpgrade: true,
      cloud,
      tenant: tenant.tenantId,
    });
    expect(connect.status).toBe(201);
    const landed = await answerConsent(connect.body.consentUrl, tenant.adminAccount, 'accept');
    expect(landed.stage).toBe('callback');
    expect(landed.status).toBeLessThan(400);
    return { orgId: created.body.id, consentUrl: new URL(connect.body.consentUrl) };
  }

  it('a GCC High organization consents to the Entra ID Government registration and ends Active next to a commercial one', async () => {
    const stamp = Date.now().toString(36);
    const gov = await p.control.createTenant({ name: 'E2E Gov Agency', domain: `gov-${stamp}.example`, users: 5, cloud: 'gcc-high' });
    const commercial = await p.control.createTenant({ name: 'E2E Commercial', domain: `com-${stamp}.example`, users: 5 });
    const govOrg = await connectThroughConsent(gov, 'gcc-high');
    const commercialOrg = await connectThroughConsent(commercial, 'commercial');

    // Each consent link (the sign-in that precedes the admin consent) names its own cloud's registration.
    expect(govOrg.consentUrl.searchParams.get('client_id')).toBe(p.sim.usGovClientId);
    expect(commercialOrg.consentUrl.searchParams.get('client_id')).toBe(p.sim.clientId);
    // The administrator's consent created the service principal in each tenant (of its own registration).
    expect((await p.control.getTenant(gov.tenantId)).servicePrincipal?.consentedBy).toBe(gov.adminAccount);

    await p.control.addRecords(gov.tenantId, 'graph:signIns', 6);
    await p.control.addRecords(commercial.tenantId, 'graph:signIns', 4);
    for (const [org, expected] of [
      [govOrg, 6],
      [commercialOrg, 4],
    ] as const) {
      await waitUntil(
        `${expected} sign-ins searchable under ${org.orgId}`,
        async () => (await organizationDocumentCount(p, org.orgId)) >= expected,
        90_000,
        1_000,
      );
      const status = await waitUntil(
        `${org.orgId} Active`,
        async () => {
          const r = await p.api<{ status: string; reason: string | null }>('GET', `/organizations/${org.orgId}/applications/microsoft-manage`);
          return r.body.status === 'active' ? r.body : null;
        },
        60_000,
      );
      expect(status.reason).toBeNull();
    }
    // Nothing crossed over: each organization holds exactly its own tenant's sign-ins.
    expect(await organizationDocumentCount(p, govOrg.orgId)).toBe(6);
    expect(await organizationDocumentCount(p, commercialOrg.orgId)).toBe(4);
  }, 240_000);
});
