import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, type Harness } from './helpers/harness.ts';

/**
 * What happens after Microsoft confirmed a consent, against the simulator and real Kafka: a consent that takes a
 * while to reach the token service ends Active by itself (the 90 s case is the unit test's, with a controllable
 * clock; here the simulator's delay is seconds, the same code path); each AADSTS family Entra answers gives its
 * reason and is not retried; a cloud without a registration is refused at connect naming the setting.
 */
describe('after consent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const status = async (orgId: string) => (await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`)).body;

  it('waits for Microsoft to propagate the consent and ends Active without operator action', async () => {
    // The service principal reaches the token service after 1.5 s (AADSTS700016 before), the roles after 3 s.
    const tenant = await h.tenant({ consentPropagationMs: [1_500, 3_000] });
    const orgId = await h.createOrg('Slow propagation');
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: tenant.tenantId,
    });
    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result).toMatchObject({ stage: 'callback', status: 202 });
    expect(result.html).toMatch(/waiting for Microsoft to propagate the consent/i);
    expect(await status(orgId)).toMatchObject({ status: 'connecting', reason: 'consent_propagating', tenantId: tenant.tenantId });
    expect((await h.tenantsValue(orgId))?.connection?.polling.enabled).toBe(false);

    await eventually(async () => (await status(orgId)).status === 'waiting_for_first_events', 30_000, 'verification after propagation');
    expect((await h.tenantsValue(orgId))?.connection?.polling.enabled).toBe(true);
    // The pollers report their first events: Active, with nobody having touched anything.
    await h.publishStatus({
      schemaVersion: 1,
      orgId,
      tenantId: tenant.tenantId,
      source: 'graph:signIns',
      state: 'ok',
      reason: null,
      message: null,
      licenceRequired: null,
      lastSuccessAt: new Date().toISOString(),
      lastErrorAt: null,
      lastEventAt: new Date().toISOString(),
      firstEventAt: new Date().toISOString(),
      lagSeconds: 5,
      hoursUntilDataLoss: null,
      gaps: [],
      counts: { recordsPublished: 3, duplicatesSkipped: 0, deadLettered: 0, errors: 0, events24h: 3 },
      updatedAt: new Date().toISOString(),
    });
    await eventually(async () => (await status(orgId)).status === 'active', 20_000, 'active');
    const actions = (await h.api('GET', `/organizations/${orgId}/history`)).body.items.map((i: { action: string }) => i.action);
    expect(actions).toEqual(expect.arrayContaining(['consent.granted', 'consent.propagating', 'status.changed']));
  });

  it.each([
    [700027, 'certificate_invalid'],
    [700024, 'certificate_invalid'],
    [7000112, 'application_disabled'],
    [53003, 'conditional_access'],
    [90038, 'wrong_cloud'],
    [900432, 'wrong_cloud'],
    [650052, 'service_not_subscribed'],
  ] as const)('AADSTS%s gives %s with its remedy and is not retried until something changes', async (code, reason) => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg(`AADSTS${code}`);
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: tenant.tenantId,
    });
    const fault = await h.control.injectFault({ target: 'token', kind: 'aadsts', aadsts: code, tenantId: tenant.tenantId });
    try {
      const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
      expect(result).toMatchObject({ stage: 'callback', status: 424 });
      const view = await status(orgId);
      expect(view).toMatchObject({ status: 'needs_attention', reason });
      expect(view.remedy).toBeTruthy();
      expect(view.message).toContain(`AADSTS${code}`);
      const applied = (await h.control.listFaults()).find((f) => f.id === fault.id)?.applied;
      // The periodic verification leaves a permanent refusal alone: no new token request for this tenant.
      await h.cp.verifyNow();
      await h.cp.verifyNow();
      expect((await h.control.listFaults()).find((f) => f.id === fault.id)?.applied).toBe(applied);
      // Something changes (the operator repairs the connection): it is tried again.
      await h.control.clearFault(fault.id);
      const repair = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/repair`);
      expect((await h.consent(repair.body.consentUrl, tenant.adminAccount)).status).toBe(200);
      expect(await status(orgId)).toMatchObject({ status: 'waiting_for_first_events', reason: null });
    } finally {
      await h.control.clearFault(fault.id).catch(() => undefined);
    }
  });

  it('refuses to connect an organization in a cloud without a registration, naming the setting', async () => {
    const orgId = await h.createOrg('GCC High customer');
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, { autoUpgrade: false, cloud: 'gcc-high' });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'cloud_not_configured', field: 'body.cloud' });
    expect(res.body.error.message).toContain('M365_GCC_HIGH_CLIENT_ID');
    expect((await status(orgId)).status).toBe('not_connected');
  });
});
