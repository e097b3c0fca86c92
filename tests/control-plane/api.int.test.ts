import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerControlPlaneCommands } from '../../control-plane/index.ts';
import { ADMIN_TOKEN, startHarness, VIEWER_TOKEN, type Harness } from './helpers/harness.ts';

/** The REST surface: authentication and roles, request validation, OpenAPI, schema registry, ops, CLI. */
describe('control-plane API', () => {
  let h: Harness;
  let orgId: string;
  beforeAll(async () => {
    h = await startHarness({ env: { CONTROL_PLANE_UI: 'true' } });
    orgId = await h.createOrg('API test');
  });
  afterAll(async () => {
    await h?.close();
  });

  const m365 = () => `/organizations/${orgId}/applications/microsoft-manage`;

  describe('authentication', () => {
    it.each([
      ['GET', '/organizations'],
      ['POST', '/organizations'],
      ['GET', '/openapi.json'],
      ['GET', '/schema-registry/subjects'],
    ])('refuses %s %s without a token or with an unknown one', async (method, path) => {
      const none = await h.api(method, path, method === 'POST' ? { name: 'x' } : undefined, null);
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthenticated');
      const wrong = await h.api(method, path, method === 'POST' ? { name: 'x' } : undefined, 'not-a-configured-token');
      expect(wrong.status).toBe(401);
    });

    it('lets a viewer read and refuses every change with 403', async () => {
      expect((await h.api('GET', '/organizations', undefined, VIEWER_TOKEN)).status).toBe(200);
      expect((await h.api('GET', m365(), undefined, VIEWER_TOKEN)).status).toBe(200);
      expect((await h.api('GET', `/organizations/${orgId}/history`, undefined, VIEWER_TOKEN)).status).toBe(200);
      const writes: Array<[string, string, unknown]> = [
        ['POST', '/organizations', { name: 'viewer org' }],
        ['PATCH', `/organizations/${orgId}`, { name: 'renamed by viewer' }],
        ['DELETE', `/organizations/${orgId}`, undefined],
        ['POST', m365(), { autoUpgrade: false, cloud: 'commercial' }],
        ['PATCH', m365(), { autoUpgrade: true }],
        ['DELETE', m365(), undefined],
        ['POST', `${m365()}/repair`, undefined],
        ['POST', `${m365()}/upgrades/approve`, undefined],
      ];
      for (const [method, path, body] of writes) {
        const res = await h.api(method, path, body, VIEWER_TOKEN);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
      const org = await h.api('GET', `/organizations/${orgId}`);
      expect(org.body.name).toBe('API test');
    });

    it('leaves health and readiness open on the public listener and serves metrics only on the ops listener', async () => {
      expect((await fetch(`${h.cp.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${h.cp.url}/readyz`);
      expect(ready.status).toBe(200);
      const publicMetrics = await fetch(`${h.cp.url}/metrics`);
      expect(publicMetrics.status).toBe(404);
      expect(await publicMetrics.text()).not.toContain('m365siem_');
      expect(h.cp.opsUrl).not.toBe(h.cp.url);
      expect((await fetch(`${h.cp.opsUrl}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${h.cp.opsUrl}/metrics`)).text();
      expect(metrics).toMatch(/m365siem_controlplane_http_requests_total\{route="\/api\/v1\/organizations",method="POST",status="201"\} [1-9]/);
    });

    it('marks API JSON nosniff and no-store, errors and 401s included', async () => {
      for (const [path, token] of [
        ['/organizations', ADMIN_TOKEN],
        ['/organizations', null],
        ['/organizations/org_doesnotexist', ADMIN_TOKEN],
        [`/organizations/${orgId}/events`, VIEWER_TOKEN],
      ] as const) {
        const res = await fetch(`${h.cp.url}/api/v1${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
        expect(res.headers.get('cache-control'), path).toBe('no-store');
        expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      }
    });

    it('serves the consent page with a per-response CSP nonce that its only script and style carry', async () => {
      const nonces = new Set<string>();
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${h.cp.url}/oauth/microsoft/callback?state=bogus`);
        const csp = res.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("default-src 'none'");
        const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
        expect(nonce).toBeTruthy();
        expect(csp).toContain(`style-src 'nonce-${nonce}'`);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('cache-control')).toBe('no-store');
        const html = await res.text();
        const tags = [...html.matchAll(/<(script|style)\b([^>]*)>/g)];
        expect(tags.map((t) => t[1]).sort()).toEqual(['script', 'style']);
        for (const tag of tags) expect(tag[2]).toContain(`nonce="${nonce}"`);
        nonces.add(nonce!);
      }
      expect(nonces.size).toBe(2);
    });
  });

  describe('validation', () => {
    it.each([
      ['POST', '/organizations', {}, 'body.name'],
      ['POST', '/organizations', { name: 5 }, 'body.name'],
      ['POST', '/organizations', { name: '   ' }, 'body.name'],
      ['POST', '/organizations', { name: 'ok', colour: 'red' }, 'body.colour'],
      ['POST', '/organizations', { name: 'Contoso\u202Eusc' }, 'body.name'],
      ['POST', '/organizations', { name: 'Fabrikam\u2066x\u2069' }, 'body.name'],
      ['POST', '/organizations', { name: 'bell\u0007' }, 'body.name'],
      ['POST', '/organizations', { name: 'two\nlines' }, 'body.name'],
      ['POST', '/organizations', { name: 'zero\u200Bwidth' }, 'body.name'],
      ['POST', '/organizations', { name: 'x'.repeat(201) }, 'body.name'],
      ['PATCH', '/organizations/{org}', { name: 'Northwind\u202D' }, 'body.name'],
      ['PATCH', '/organizations/ORG!', { name: 'x' }, 'params.id'],
      ['POST', '/organizations/{org}/applications/microsoft-manage', { cloud: 'commercial' }, 'body.autoUpgrade'],
      ['POST', '/organizations/{org}/applications/microsoft-manage', { autoUpgrade: 'yes', cloud: 'commercial' }, 'body.autoUpgrade'],
      ['POST', '/organizations/{org}/applications/microsoft-manage', { autoUpgrade: true, cloud: 'moon' }, 'body.cloud'],
      ['POST', '/organizations/{org}/applications/microsoft-manage', { autoUpgrade: true, cloud: 'gcc', tenant: 'not a tenant!' }, 'body.tenant'],
      ['PATCH', '/organizations/{org}/applications/microsoft-manage', { autoUpgrade: null }, 'body.autoUpgrade'],
    ])('%s %s %j → 400 naming %s', async (method, path, body, field) => {
      const res = await h.api(method, path.replace('{org}', orgId), body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_request', field });
      expect(res.body.error.message).toContain(field);
    });

    it('answers a body that is not JSON, or missing, with 400', async () => {
      const bad = await h.api('POST', '/organizations', undefined, ADMIN_TOKEN, '{"name": ');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_json', field: 'body' });
      const none = await h.api('POST', '/organizations');
      expect(none.status).toBe(400);
      expect(none.body.error.field).toBe('body');
    });

    it('answers unknown organizations and endpoints with 404 in the error format', async () => {
      const res = await h.api('GET', '/organizations/org_doesnotexist');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect((await h.api('GET', '/nothing-here')).body.error.code).toBe('not_found');
    });

    it('refuses connection operations that the state does not allow with 409', async () => {
      expect((await h.api('POST', `${m365()}/repair`)).status).toBe(409);
      expect((await h.api('POST', `${m365()}/upgrades/approve`)).status).toBe(409);
      expect((await h.api('DELETE', m365())).status).toBe(409);
    });
  });

  it('serializes concurrent writes to one organization: every change lands, revisions increase one by one', async () => {
    const before = (await h.api('GET', `/organizations/${orgId}`)).body.revision as number;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => h.api('PATCH', `/organizations/${orgId}`, { name: `Concurrent ${i}` })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = (await h.api('GET', `/organizations/${orgId}`)).body;
    expect(after.revision).toBe(before + 8);
    const renames = (await h.api('GET', `/organizations/${orgId}/history`)).body.items.filter((i: { action: string }) => i.action === 'organization.renamed');
    expect(renames.length).toBeGreaterThanOrEqual(8);
    const value = await h.tenantsValue(orgId);
    expect(value?.revision).toBe(after.revision);
    expect(value?.orgName).toBe(after.name);
    await h.api('PATCH', `/organizations/${orgId}`, { name: 'API test' });
  });

  it('serves an OpenAPI 3 document describing every endpoint', async () => {
    const res = await h.api('GET', '/openapi.json', undefined, VIEWER_TOKEN);
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(res.body.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/organizations',
        '/organizations/{id}',
        '/organizations/{id}/history',
        '/organizations/{id}/applications/microsoft-manage',
        '/organizations/{id}/applications/microsoft-manage/upgrades/approve',
        '/organizations/{id}/applications/microsoft-manage/repair',
        '/organizations/{id}/events',
      ]),
    );
    const connect = res.body.paths['/organizations/{id}/applications/microsoft-manage'].post;
    expect(connect.requestBody.content['application/json'].schema.properties.cloud.enum).toEqual(['commercial', 'gcc', 'gcc-high', 'dod']);
  });

  it("serves the operator UI at / and the organization's events from OpenSearch", async () => {
    const page = await fetch(`${h.cp.url}/organizations/${orgId}`, { headers: { Accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/ui/app.js');
    expect((await fetch(`${h.cp.url}/ui/app.js`)).status).toBe(200);
    const events = await h.api('GET', `/organizations/${orgId}/events?size=5`, undefined, VIEWER_TOKEN);
    expect(events.status).toBe(200);
    expect(events.body).toEqual({ total: 0, events: [] });
    expect((await h.api('GET', `/organizations/${orgId}/events`, undefined, null)).status).toBe(401);
    expect((await h.api('GET', `/organizations/${orgId}/events?size=9999`, undefined, VIEWER_TOKEN)).status).toBe(400);
    // The consent callback page tells the UI's pop-up opener what happened.
    const callback = await fetch(`${h.cp.url}/oauth/microsoft/callback?state=bogus`);
    expect(callback.status).toBe(400);
    expect(await callback.text()).toContain('m365-consent');
  });

  it('serves the schema registry read API for siem.events consumers', async () => {
    const subjects = await h.api('GET', '/schema-registry/subjects', undefined, VIEWER_TOKEN);
    expect(subjects.status).toBe(200);
    expect(subjects.body).toContain('siem.events-value');
    const latest = await h.api('GET', '/schema-registry/subjects/siem.events-value/versions/latest', undefined, VIEWER_TOKEN);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ subject: 'siem.events-value' });
    const byId = await h.api('GET', `/schema-registry/schemas/ids/${latest.body.id}`, undefined, VIEWER_TOKEN);
    expect(byId.body.schema).toBe(latest.body.schema);
    const unknown = await h.api('GET', '/schema-registry/schemas/ids/999999', undefined, VIEWER_TOKEN);
    expect(unknown.status).toBe(404);
    // Registry clients send Basic auth: the token is the password.
    const basic = await fetch(`${h.cp.url}/api/v1/schema-registry/subjects`, {
      headers: { Authorization: `Basic ${Buffer.from(`sr:${VIEWER_TOKEN}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
  });

  describe('CLI', () => {
    async function cli(args: string[], token = ADMIN_TOKEN): Promise<{ out: string; err: string; code: number }> {
      let out = '';
      let err = '';
      let code = 0;
      const program = new Command().exitOverride();
      registerControlPlaneCommands(program, {
        env: { M365_SIEM_URL: h.cp.url, M365_SIEM_TOKEN: token },
        stdout: (t) => {
          out += t;
        },
        stderr: (t) => {
          err += t;
        },
        setExitCode: (c) => {
          code = c;
        },
        readStdin: async () => 'token-from-stdin',
      });
      await program.parseAsync(['node', 'm365-siem', ...args]);
      return { out, err, code };
    }

    it('adds, lists, connects and shows the status of an organization', async () => {
      const tenant = await h.tenant();
      const added = await cli(['org', 'add', 'CLI Corp']);
      const id = added.out.trim();
      expect(id).toMatch(/^org_/);
      const list = await cli(['org', 'list']);
      expect(list.out).toContain(id);
      expect(list.out).toContain('CLI Corp');
      const connect = await cli(['org', 'connect', id, '--tenant', tenant.domain]);
      expect(new URL(connect.out.trim()).pathname).toBe(`/${tenant.tenantId}/oauth2/v2.0/authorize`);
      expect((await h.consent(connect.out.trim(), tenant.adminAccount)).status).toBe(200);
      const status = await cli(['org', 'status', id], VIEWER_TOKEN);
      expect(status.out).toContain('waiting_for_first_events');
      expect(status.out).toContain(tenant.tenantId);
      const repair = await cli(['org', 'repair', id]);
      expect(repair.out).toContain('/oauth2/v2.0/authorize');
      const json = JSON.parse((await cli(['org', 'status', id, '--json'])).out);
      expect(json.tenantId).toBe(tenant.tenantId);
    });

    it('reports API errors on stderr with a non-zero exit code', async () => {
      const res = await cli(['org', 'add', 'Viewer cannot'], VIEWER_TOKEN);
      expect(res.code).toBe(1);
      expect(res.err).toContain('403 forbidden');
      const approve = await cli(['org', 'approve-upgrade', orgId]);
      expect(approve.code).toBe(1);
      expect(approve.err).toContain('409');
    });

    it('hashes a token for CONTROL_PLANE_TOKENS', async () => {
      expect((await cli(['token', 'hash', 'abc'])).out.trim()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      expect((await cli(['token', 'hash'])).out.trim()).toMatch(/^[0-9a-f]{64}$/);
    });
  });
});
