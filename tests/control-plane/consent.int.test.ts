import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCES } from '../../runtime/index.ts';
import { ConsentStateSigner } from '../../control-plane/consent-state.ts';
import { startHarness, STATE_SECRET, type Harness } from './helpers/harness.ts';

/** Signs in through the link and returns the signed consent state the control plane hands on to admin consent. */
async function consentStateAfterSignIn(_h: Harness, consentUrl: string, account: string): Promise<string> {
  const url = new URL(consentUrl);
  url.searchParams.set('login_hint', account);
  const authorize = await fetch(url, { redirect: 'manual' });
  const signInCallback = await fetch(authorize.headers.get('location') ?? '', { redirect: 'manual' });
  expect(signInCallback.status).toBe(302);
  const adminConsent = new URL(signInCallback.headers.get('location') ?? '');
  expect(adminConsent.pathname).toMatch(/\/v2\.0\/adminconsent$/);
  return adminConsent.searchParams.get('state') ?? '';
}

/** The consent-links-refused counter by problem, read from the control plane's /metrics. */
async function refusedLinks(h: Harness): Promise<Record<string, number>>;
async function refusedLinks(h: Harness, problem: string): Promise<number>;
async function refusedLinks(h: Harness, problem?: string): Promise<Record<string, number> | number> {
  const text = await (await fetch(`${h.cp.opsUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^m365siem_controlplane_consent_links_refused_total\{problem="([a-z_]+)"\} (\d+)/gm)) counts[m[1] ?? ''] = Number(m[2]);
  return problem === undefined ? counts : (counts[problem] ?? 0);
}

/**
 * The consent round trip (the administrator's OpenID Connect sign-in, then admin consent) against the simulator's
 * pages and real Kafka: state binding (tampered, expired, reused — refused without writing anything), declined
 * consent, tenant pinning from the signed id_token (named tenant, domain, first signed-in, a forged `tenant=`),
 * partner and foreign accounts, a tenant already used by another organization.
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
    // The link starts with the administrator's OpenID Connect sign-in (authorization code, nonce bound to the state).
    const consentUrl = new URL(res.body.consentUrl);
    expect(consentUrl.origin).toBe(h.sim.url);
    expect(consentUrl.pathname).toBe(`/${tenant.tenantId}/oauth2/v2.0/authorize`);
    expect(consentUrl.searchParams.get('client_id')).toBe(h.sim.clientId);
    expect(consentUrl.searchParams.get('response_type')).toBe('code');
    expect(consentUrl.searchParams.get('scope')).toBe('openid profile https://graph.microsoft.com/User.Read');
    expect(consentUrl.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(consentUrl.searchParams.get('redirect_uri')).toBe(`${h.env.CONTROL_PLANE_PUBLIC_URL}/oauth/microsoft/callback`);

    const before = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(before.body).toMatchObject({ status: 'connecting', tenantId: tenant.tenantId });

    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result).toMatchObject({ stage: 'callback', status: 200 });
    expect(result.html).toContain('Microsoft 365 is connected');
    // Two visits to the callback: the sign-in (sent on to admin consent in the signed-in tenant), then the consent.
    expect(result.callbackUrls).toHaveLength(2);

    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      status: 'waiting_for_first_events',
      reason: null,
      tenantId: tenant.tenantId,
      cloud: 'commercial',
      autoUpgrade: false,
      pendingUpgrade: null,
    });
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
    expect(new URL(res.body.consentUrl).pathname).toBe(`/${tenant.tenantId}/oauth2/v2.0/authorize`);
    const unknown = await connect(orgId, { tenant: 'no-such-tenant.example' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'tenant_not_found', field: 'body.tenant' });
  });

  it('pins the tenant of the signed-in administrator when none was named, and repair then targets it', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    const res = await connect(orgId, {});
    expect(new URL(res.body.consentUrl).pathname).toBe('/organizations/oauth2/v2.0/authorize');
    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result.status).toBe(200);
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body.tenantId).toBe(tenant.tenantId);
    const repair = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/repair`);
    expect(repair.status).toBe(200);
    expect(new URL(repair.body.consentUrl).pathname).toBe(`/${tenant.tenantId}/oauth2/v2.0/authorize`);
  });

  it('rides out Graph throttling and a 5xx while it reads the signed-in tenant, instead of refusing the sign-in', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg('Throttled at sign-in');
    const res = await connect(orgId, {});
    // The next Graph answers for this tenant: a 429 (Retry-After 2 s), then a 503; the sign-in reads `organization`.
    await h.control.injectFault({ tenantId: tenant.tenantId, target: 'graph', kind: 'throttle', count: 1 });
    await h.control.injectFault({ tenantId: tenant.tenantId, target: 'graph', kind: 'server-error', count: 1 });
    const pending = async () => (await h.control.listFaults()).filter((f) => f.tenantId === tenant.tenantId && (f.remaining ?? 1) > 0).length;
    expect(await pending()).toBe(2);
    const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(result.status, result.html.slice(0, 600)).toBe(200);
    // Both were served (the first Graph call of the flow is the sign-in's), and the flow still went through.
    expect(await pending()).toBe(0);
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body.tenantId).toBe(tenant.tenantId);
  });

  it('refuses a forged tenant= with a valid state and writes nothing', async () => {
    const victimTenant = await h.tenant();
    const attacker = await h.tenant();
    // Another tenant once consented to the application, so tokens for it can be had: the old attack pinned it.
    await h.connectOrg(victimTenant, { name: 'Earlier customer' });
    const orgId = await h.createOrg('Optional tenant left empty');
    const res = await connect(orgId, {});
    // The attacker signs in with their own account (a real, verified sign-in) and stops before the consent page...
    const state = await consentStateAfterSignIn(h, res.body.consentUrl, attacker.adminAccount);
    // ...then calls the callback with the valid consent state but the tenant of another customer.
    const before = await h.tenantsValue(orgId);
    const refusedBefore = await refusedLinks(h);
    const forged = await fetch(`${h.cp.url}/oauth/microsoft/callback?admin_consent=True&tenant=${victimTenant.tenantId}&state=${encodeURIComponent(state)}`);
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('not signed by Microsoft');
    const after = await h.tenantsValue(orgId);
    expect(after?.revision).toBe(before?.revision);
    expect(after?.connection?.tenantId).toBeNull();
    const history = await h.api('GET', `/organizations/${orgId}/history`);
    expect(history.body.items.map((i: { action: string }) => i.action)).not.toContain('consent.granted');
    expect(await refusedLinks(h, 'forged_tenant')).toBe((refusedBefore.forged_tenant ?? 0) + 1);
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

  it('refuses an expired state without writing anything', async () => {
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
    expect(history.body.items.map((i: { action: string }) => i.action)).toEqual(['organization.created', 'connection.started']);
  });

  it('refuses replays of a used link: one counter, no history entry, no rewrite of m365.tenants', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg();
    const res = await connect(orgId, { tenant: tenant.tenantId });
    const first = await h.consent(res.body.consentUrl, tenant.adminAccount, 'cancel');
    expect(first.status).toBe(400);
    const historyBefore = (await h.api('GET', `/organizations/${orgId}/history`)).body.items.length;
    const valueBefore = await h.tenantsValue(orgId);
    const refusedBefore = (await refusedLinks(h)).reused ?? 0;
    for (let i = 0; i < 5; i++) {
      const replay = await fetch(first.callbackUrl ?? '');
      expect(replay.status).toBe(409);
      expect(await replay.text()).toContain('already used');
    }
    expect((await h.api('GET', `/organizations/${orgId}/history`)).body.items.length).toBe(historyBefore);
    expect((await h.tenantsValue(orgId))?.revision).toBe(valueBefore?.revision);
    expect(await refusedLinks(h, 'reused')).toBe(refusedBefore + 5);
  });

  it("shows Microsoft's error when the administrator declines, and connects nothing", async () => {
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

  it('refuses a CSP partner administrator through an organizations link, whether or not the tenant was named', async () => {
    const customer = await h.tenant();
    const partner = await h.tenant({ partner: true });
    // No tenant named: the link is the multi-tenant `organizations` one, and the partner signs in there.
    const open = await h.createOrg('Customer of a partner, tenant not named');
    const openLink = await connect(open, {});
    const viaOrganizations = await h.consent(openLink.body.consentUrl, partner.adminAccount);
    expect(viaOrganizations).toMatchObject({ stage: 'callback', status: 403 });
    expect(viaOrganizations.html).toContain('do not use a master CSP partner account');
    expect(viaOrganizations.html).toContain(partner.tenantId);
    expect((await h.tenantsValue(open))?.connection).toMatchObject({ tenantId: null, polling: { enabled: false } });
    // The partner never reached the consent page: nothing was consented in the partner's tenant.
    expect((await h.control.getTenant(partner.tenantId)).servicePrincipal).toBeNull();

    // Tenant named, but someone turned the link into an `organizations` one: the same refusal.
    const orgId = await h.createOrg('Customer of a partner');
    const res = await connect(orgId, { tenant: customer.tenantId });
    const generic = res.body.consentUrl.replace(`/${customer.tenantId}/oauth2/`, '/organizations/oauth2/');
    const result = await h.consent(generic, partner.adminAccount);
    expect(result).toMatchObject({ stage: 'callback', status: 403 });
    expect(result.html).toContain('do not use a master CSP partner account');
    // Through the customer's own link, the partner signs in as a delegated (foreign) administrator: refused too.
    const delegated = await h.consent(res.body.consentUrl, partner.adminAccount);
    expect(delegated).toMatchObject({ stage: 'callback', status: 403 });
    expect(delegated.html).toContain('do not use a master CSP partner account');
    const view = await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(view.body).toMatchObject({ status: 'connecting', tenantId: customer.tenantId });
    const value = await h.tenantsValue(orgId);
    expect(value?.connection).toMatchObject({ tenantId: customer.tenantId, polling: { enabled: false } });
    const history = await h.api('GET', `/organizations/${orgId}/history`);
    expect(history.body.items.map((i: { action: string }) => i.action)).toEqual(['organization.created', 'connection.started']);

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
