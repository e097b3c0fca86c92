import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCES } from '../../runtime/index.ts';
import { ConsentStateSigner } from '../../control-plane/consent-state.ts';
import { startHarness, STATE_SECRET, type Harness } from './helpers/harness.ts';

/**
 * The admin-consent round trip against the simulator's consent pages and real Kafka: state binding (tampered,
 * expired, reused), declined consent, tenant pinning (named tenant, domain, first returned, partner tenant,
 * a tenant already used by another organization).
 */
describe('admin consent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const connect = (orgId: string, body: Record<string, unknown>) =>
    h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, { autoUpgrade: false, cloud: 'commercial', ...body });

  it('connects a named tenant: verifies with fresh tokens, enables polling of every source and records who did what', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg('Contoso');
    const res = await connect(orgId, { tenant: tenant.tenantId });
    expect(res.status).toBe(201);
    const consentUrl = new URL(res.body.consentUrl);
    expect(consentUrl.origin).toBe(h.sim.url);
    expect(consentUrl.pathname).toBe(`/${tenant.tenantId}/v2.0/adminconsent`);
    expect(consentUrl.searchParams.get('client_id')).toBe(h.sim.clientId);
    expect(consentUrl.searchParams.get('scope')).toBe('https://graph.microsoft.com/.default');
    expect(consentUrl.searchParams.get('redirect_uri')).toBe(`${h.env.CONTROL_PLANE_PUBLIC_URL}/oauth/microsoft/callback`);

    const before = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(before.body).toMatchObject({ status: 'connecting', tenantId: tenant.tenantId });

    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result).toMatchObject({ stage: 'callback', status: 200 });
    expect(result.html).toContain('Microsoft 365 is connected');

    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ status: 'waiting_for_first_events', reason: null, tenantId: tenant.tenantId, cloud: 'commercial', autoUpgrade: false, pendingUpgrade: null });
    expect(view.body.permissions.missing).toEqual([]);
    expect(view.body.permissions.granted).toEqual(expect.arrayContaining(['ActivityFeed.Read', 'AuditLog.Read.All']));
    expect(view.body.connectedAt).toBeTruthy();

    // What ingest reads: the TenantConnection contract on m365.tenants.
    const value = await h.tenantsValue(orgId);
    expect(value?.connection).toMatchObject({ tenantId: tenant.tenantId, cloud: 'commercial', polling: { enabled: true, paused: [] } });
    expect([...(value?.connection?.polling.sources ?? [])].sort()).toEqual([...SOURCES].sort());

    const history = await h.api('GET', `/organizations/${orgId}/history`);
    const actions = history.body.items.map((i: { action: string }) => i.action);
    expect(actions).toEqual(expect.arrayContaining(['organization.created', 'connection.started', 'consent.granted', 'status.changed']));
    const started = history.body.items.find((i: { action: string }) => i.action === 'connection.started');
    expect(started.actor).toEqual({ role: 'admin', label: 'test-operator' });
    const granted = history.body.items.find((i: { action: string }) => i.action === 'consent.granted');
    expect(granted.actor.role).toBe('microsoft');
    expect(Date.parse(granted.at)).toBeGreaterThan(0);
  });

  it('resolves a domain to the tenant id and builds the consent URL for it; an unknown domain is refused', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    const res = await connect(orgId, { tenant: tenant.domain });
    expect(res.status).toBe(201);
    expect(new URL(res.body.consentUrl).pathname).toBe(`/${tenant.tenantId}/v2.0/adminconsent`);
    const unknown = await connect(orgId, { tenant: 'no-such-tenant.example' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'tenant_not_found', field: 'body.tenant' });
  });

  it('pins the first tenant returned when none was named, and repair then targets it', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    const res = await connect(orgId, {});
    expect(new URL(res.body.consentUrl).pathname).toBe('/organizations/v2.0/adminconsent');
    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result.status).toBe(200);
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body.tenantId).toBe(tenant.tenantId);
    const repair = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/repair`);
    expect(repair.status).toBe(200);
    expect(new URL(repair.body.consentUrl).pathname).toBe(`/${tenant.tenantId}/v2.0/adminconsent`);
  });

  it('refuses a tampered state', async () => {
    const tenant = await h.tenant();
    const victim = await h.createOrg('Victim');
    const attacker = await h.createOrg('Attacker');
    const res = await connect(attacker, { tenant: tenant.tenantId });
    const state = new URL(res.body.consentUrl).searchParams.get('state') ?? '';
    const [body, mac] = state.split('.');
    const payload = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8'));
    payload.org = victim;
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    const cb = await fetch(`${h.cp.url}/oauth/microsoft/callback?admin_consent=True&tenant=${tenant.tenantId}&state=${encodeURIComponent(forged)}`);
    expect(cb.status).toBe(400);
    expect(await cb.text()).toContain('altered');
    const view = await h.api('GET', `/organizations/${victim}/applications/microsoft-manage`);
    expect(view.body.status).toBe('not_connected');
    const missing = await fetch(`${h.cp.url}/oauth/microsoft/callback?admin_consent=True&tenant=${tenant.tenantId}`);
    expect(missing.status).toBe(400);
  });

  it('refuses an expired state and notes it in the organization history', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    await connect(orgId, { tenant: tenant.tenantId });
    // A state signed with the deployment's secret eleven minutes ago.
    const old = new ConsentStateSigner(STATE_SECRET, () => Date.now() - 11 * 60 * 1000).sign(orgId, 'connect').state;
    const cb = await fetch(`${h.cp.url}/oauth/microsoft/callback?admin_consent=True&tenant=${tenant.tenantId}&state=${encodeURIComponent(old)}`);
    expect(cb.status).toBe(410);
    expect(await cb.text()).toContain('expired');
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body.status).toBe('connecting');
    const history = await h.api('GET', `/organizations/${orgId}/history`);
    expect(history.body.items.map((i: { action: string }) => i.action)).toContain('consent.expired_state');
  });

  it('refuses a reused state', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    const res = await connect(orgId, { tenant: tenant.tenantId });
    const first = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(first.status).toBe(200);
    const replay = await fetch(first.callbackUrl ?? '');
    expect(replay.status).toBe(409);
    expect(await replay.text()).toContain('already used');
    const history = await h.api('GET', `/organizations/${orgId}/history`);
    expect(history.body.items.map((i: { action: string }) => i.action)).toContain('consent.reused_state');
  });

  it('shows Microsoft\'s error when the administrator declines, and connects nothing', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    const res = await connect(orgId, { tenant: tenant.tenantId });
    const result = await h.consent(res.body.consentUrl, tenant.adminAccount, 'cancel');
    expect(result.stage).toBe('callback');
    expect(result.status).toBe(400);
    expect(result.html).toContain('consent_required');
    expect(result.html).toContain('AADSTS65004');
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body.status).toBe('connecting');
    expect(view.body.connectedAt).toBeNull();
    const value = await h.tenantsValue(orgId);
    expect(value?.connection?.polling.enabled).toBe(false);
    const history = await h.api('GET', `/organizations/${orgId}/history`);
    const declined = history.body.items.find((i: { action: string }) => i.action === 'consent.declined');
    expect(declined.message).toContain('AADSTS65004');
  });

  it('refuses a consent given in a CSP partner\'s tenant and says what happened', async () => {
    const customer = await h.tenant();
    const partner = await h.tenant({ partner: true });
    const orgId = await h.createOrg('Customer of a partner');
    const res = await connect(orgId, { tenant: customer.tenantId });
    // The partner's administrator opens the multi-tenant (`organizations`) form of the link and signs in with
    // the partner account: consent lands in the partner's own tenant.
    const generic = res.body.consentUrl.replace(`/${customer.tenantId}/v2.0/`, '/organizations/v2.0/');
    const result = await h.consent(generic, partner.adminAccount);
    expect(result.stage).toBe('callback');
    expect(result.status).toBe(403);
    expect(result.html).toContain('CSP partner');
    expect(result.html).toContain(partner.tenantId);
    expect(result.html).toContain(customer.tenantId);
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body).toMatchObject({ status: 'connecting', tenantId: customer.tenantId });
    const value = await h.tenantsValue(orgId);
    expect(value?.connection).toMatchObject({ tenantId: customer.tenantId, polling: { enabled: false } });
    const history = await h.api('GET', `/organizations/${orgId}/history`);
    expect(history.body.items.map((i: { action: string }) => i.action)).toContain('consent.wrong_tenant');

    // Signing in with the customer's own administrator through a new link works.
    const again = await connect(orgId, { tenant: customer.tenantId });
    expect((await h.consent(again.body.consentUrl, customer.adminAccount)).status).toBe(200);
  });

  it('refuses a tenant that is already connected to another organization', async () => {
    const tenant = await h.tenant();
    await h.connectOrg(tenant);
    const second = await h.createOrg('Same tenant again');
    const named = await connect(second, { tenant: tenant.tenantId });
    expect(named.status).toBe(409);
    expect(named.body.error.code).toBe('tenant_in_use');
    const res = await connect(second, {});
    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result.status).toBe(409);
    const view = await h.api('GET', `/organizations/${second}/applications/microsoft-manage`);
    expect(view.body.tenantId).toBeNull();
  });
});
