import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { decodeClaims, startFixture } from './fixtures/simulator-fixture.ts';

let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('consent');
});
afterAll(async () => {
  await f.close();
});

const REDIRECT = 'https://siem.example/callback';

function consentUrl(tenant: string, params: Record<string, string>, v2 = false): string {
  const u = new URL(`${f.sim.url}/${tenant}${v2 ? '/v2.0' : ''}/adminconsent`);
  for (const [k, v] of Object.entries({ client_id: f.sim.clientId, redirect_uri: REDIRECT, state: 'st-1', ...params })) u.searchParams.set(k, v);
  return u.toString();
}

/** Submits the page's Accept or Cancel form the way a browser would. */
async function submit(pageUrl: string, html: string, action: 'accept' | 'cancel'): Promise<Response> {
  const forms = [...html.matchAll(/<form method="post" action="([^"]+)"[^>]*>(.*?)<\/form>/gs)];
  const form = forms.find((m) => (m[2] ?? '').includes(`name="action" value="${action}"`));
  if (!form) throw new Error(`no ${action} form`);
  const fields = new URLSearchParams();
  for (const m of (form[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(
      m[1] ?? '',
      (m[2] ?? '')
        .replace(/&amp;/g, '&')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>'),
    );
  }
  return fetch(new URL(form[1] ?? '', pageUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
  });
}

describe('admin consent', () => {
  it('asks which account signs in, listing known accounts', async () => {
    const t = await f.tenant({ consent: false });
    const res = await fetch(consentUrl(t.tenantId, {}));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain(`<option value="${t.adminAccount}">`);
  });

  it('lists the requested permissions and grants all declared roles on Accept (v1), redirecting with admin_consent=True', async () => {
    const t = await f.tenant({ consent: false, consentPropagationMs: [0, 0] });
    const url = consentUrl(t.tenantId, { login_hint: t.adminAccount });
    const html = await (await fetch(url)).text();
    const app = await f.control.getApp();
    for (const role of app.requiredRoles) expect(html).toContain(`data-role="${role}"`);
    const res = await submit(url, html, 'accept');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('admin_consent')).toBe('True');
    expect(location.searchParams.get('tenant')).toBe(t.tenantId);
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.has('scope')).toBe(false);
    const after = await f.control.getTenant(t.tenantId);
    expect(after.servicePrincipal?.roles).toEqual([...app.requiredRoles].sort());
    expect(after.servicePrincipal?.consentedBy).toBe(t.adminAccount);
    expect(decodeClaims(await f.token(t.tenantId, 'https://manage.office.com')).roles).toContain('ActivityFeed.Read');
  });

  it('adds scope to the v2 success redirect', async () => {
    const t = await f.tenant({ consent: false });
    const url = consentUrl(t.tenantId, { login_hint: t.adminAccount, scope: 'https://graph.microsoft.com/.default' }, true);
    const res = await submit(url, await (await fetch(url)).text(), 'accept');
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('admin_consent')).toBe('True');
    expect(location.searchParams.get('scope')).toBe('https://graph.microsoft.com/.default');
  });

  it('redirects with error=permission_denied when the admin cancels (v1)', async () => {
    const t = await f.tenant({ consent: false });
    const url = consentUrl(t.tenantId, { login_hint: t.adminAccount });
    const res = await submit(url, await (await fetch(url)).text(), 'cancel');
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('permission_denied');
    expect(location.searchParams.get('error_description')).toBe('The admin canceled the request');
    expect(location.searchParams.get('state')).toBe('st-1');
    expect((await f.control.getTenant(t.tenantId)).servicePrincipal).toBeNull();
  });

  it('redirects with error=consent_required AADSTS65004 when the admin cancels (v2)', async () => {
    const t = await f.tenant({ consent: false });
    const url = consentUrl(t.tenantId, { login_hint: t.adminAccount, scope: 'https://graph.microsoft.com/.default' }, true);
    const res = await submit(url, await (await fetch(url)).text(), 'cancel');
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('consent_required');
    expect(location.searchParams.get('error_description')).toMatch(/^AADSTS65004/);
  });

  it('resolves /common consent to the signed-in account tenant, including a CSP partner tenant', async () => {
    const partner = await f.tenant({ consent: false, partner: true });
    const url = consentUrl('common', { login_hint: partner.adminAccount });
    const res = await submit(url, await (await fetch(url)).text(), 'accept');
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('tenant')).toBe(partner.tenantId);
    expect((await f.control.getTenant(partner.tenantId)).servicePrincipal).not.toBeNull();
  });

  it('shows AADSTS50020 when an account of another tenant signs in to a specific tenant', async () => {
    const customer = await f.tenant({ consent: false });
    const partner = await f.tenant({ consent: false, partner: true });
    const res = await fetch(consentUrl(customer.tenantId, { login_hint: partner.adminAccount }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('AADSTS50020');
  });

  it('shows AADSTS700016 for an unknown client_id and AADSTS90130 for v2 on /common', async () => {
    const t = await f.tenant({ consent: false });
    expect(await (await fetch(consentUrl(t.tenantId, { client_id: '99999999-9999-4999-8999-999999999999' }))).text()).toContain('AADSTS700016');
    expect(await (await fetch(consentUrl('common', { scope: 'https://graph.microsoft.com/.default' }, true))).text()).toContain('AADSTS90130');
  });

  it('rejects an unregistered redirect URI with AADSTS50011 once redirect URIs are configured', async () => {
    const own = await startFixture('consent-redirect');
    try {
      await own.control.patchApp({ redirectUris: ['https://siem.example/registered'] });
      const t = await own.tenant({ consent: false });
      const u = new URL(`${own.sim.url}/${t.tenantId}/adminconsent`);
      u.searchParams.set('client_id', own.sim.clientId);
      u.searchParams.set('redirect_uri', REDIRECT);
      const res = await fetch(u);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('AADSTS50011');
    } finally {
      await own.close();
    }
  });

  it('requests newly declared roles after the app registration changes', async () => {
    const own = await startFixture('consent-manifest');
    try {
      await own.control.patchApp({ requiredRoles: ['ActivityFeed.Read'] });
      const t = await own.tenant({ consent: false });
      const accept = async () => {
        const u = new URL(`${own.sim.url}/${t.tenantId}/adminconsent`);
        for (const [k, v] of Object.entries({ client_id: own.sim.clientId, redirect_uri: REDIRECT, login_hint: t.adminAccount })) u.searchParams.set(k, v);
        const html = await (await fetch(u)).text();
        await submit(u.toString(), html, 'accept');
        return html;
      };
      await accept();
      expect((await own.control.getTenant(t.tenantId)).servicePrincipal?.roles).toEqual(['ActivityFeed.Read']);
      await own.control.patchApp({ requiredRoles: ['ActivityFeed.Read', 'IdentityRiskEvent.Read.All'] });
      const html = await accept();
      expect(html).toContain('data-role="IdentityRiskEvent.Read.All"');
      expect((await own.control.getTenant(t.tenantId)).servicePrincipal?.roles).toEqual(['ActivityFeed.Read', 'IdentityRiskEvent.Read.All']);
    } finally {
      await own.close();
    }
  });
});

describe('admin consent in each Entra instance', () => {
  it('a GCC High tenant consents to the Entra ID Government registration, not to the commercial one (AADSTS700016)', async () => {
    const t = await f.tenant({ consent: false, cloud: 'gcc-high', consentPropagationMs: [0, 0] });
    const commercial = await fetch(consentUrl(t.tenantId, { login_hint: t.adminAccount }));
    expect(commercial.status).toBe(400);
    expect(await commercial.text()).toContain(`AADSTS700016: Application with identifier &#39;${f.sim.clientId}&#39; was not found`);

    const url = consentUrl(t.tenantId, { login_hint: t.adminAccount, client_id: f.sim.usGovClientId });
    const res = await submit(url, await (await fetch(url)).text(), 'accept');
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('admin_consent')).toBe('True');
    expect((await f.control.getTenant(t.tenantId)).servicePrincipal).not.toBeNull();
  });

  it('through /organizations the account decides: a Government administrator cannot consent to the commercial registration', async () => {
    const t = await f.tenant({ consent: false, cloud: 'dod' });
    const res = await fetch(consentUrl('organizations', { login_hint: t.adminAccount }));
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('AADSTS700016');
    expect(html).toContain(t.name);
    expect((await f.control.getTenant(t.tenantId)).servicePrincipal).toBeNull();
  });
});
