import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { decodeClaims, getJson, startFixture } from './fixtures/simulator-fixture.ts';

let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('entra');
});
afterAll(async () => {
  await f.close();
});

async function tokenError(p: Promise<unknown>): Promise<{ errorCode: string; errorMessage: string; errorNo?: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as { errorCode: string; errorMessage: string; errorNo?: string; status?: number };
  }
  throw new Error('expected the token request to fail');
}

async function rawToken(tenant: string, form: Record<string, string>) {
  return getJson(`${f.sim.url}/${tenant}/oauth2/v2.0/token`, undefined, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

describe('Entra ID metadata', () => {
  it('serves the v2 OpenID configuration of a tenant with endpoints on the simulator', async () => {
    const t = await f.tenant();
    const { status, body } = await getJson(`${f.sim.url}/${t.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(status).toBe(200);
    const c = body as Record<string, unknown>;
    expect(c.issuer).toBe(`${f.sim.url}/${t.tenantId}/v2.0`);
    expect(c.token_endpoint).toBe(`${f.sim.url}/${t.tenantId}/oauth2/v2.0/token`);
    expect(c.authorization_endpoint).toBe(`${f.sim.url}/${t.tenantId}/oauth2/v2.0/authorize`);
    expect(c.jwks_uri).toBe(`${f.sim.url}/${t.tenantId}/discovery/v2.0/keys`);
    expect(c.cloud_instance_name).toBe('microsoftonline.com');
    expect(c.msgraph_host).toBe('graph.microsoft.com');
  });

  it('resolves a tenant by its domain and reports the US Government cloud for GCC High', async () => {
    const t = await f.tenant({ cloud: 'gcc-high' });
    const { body } = await getJson(`${f.sim.url}/${t.domain}/v2.0/.well-known/openid-configuration`);
    const c = body as Record<string, unknown>;
    expect(c.token_endpoint).toBe(`${f.sim.url}/${t.tenantId}/oauth2/v2.0/token`);
    expect(c.cloud_instance_name).toBe('microsoftonline.us');
    expect(c.tenant_region_scope).toBe('USGov');
    expect(c.msgraph_host).toBe('graph.microsoft.us');
  });

  it('answers 400 invalid_tenant AADSTS90002 for the metadata of an unknown tenant', async () => {
    const { status, body } = await getJson(`${f.sim.url}/00000000-1111-2222-3333-444444444444/v2.0/.well-known/openid-configuration`);
    expect(status).toBe(400);
    const b = body as { error: string; error_codes: number[]; error_description: string };
    expect(b.error).toBe('invalid_tenant');
    expect(b.error_codes).toEqual([90002]);
    expect(b.error_description).toMatch(/^AADSTS90002: Tenant '00000000-1111-2222-3333-444444444444' not found/);
  });

  it('answers instance discovery with tenant_discovery_endpoint and metadata aliases', async () => {
    const authz = `${f.sim.url}/organizations/oauth2/v2.0/authorize`;
    const { status, body } = await getJson(`${f.sim.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(authz)}`);
    expect(status).toBe(200);
    const b = body as { tenant_discovery_endpoint: string; 'api-version': string; metadata: Array<{ preferred_network: string; aliases: string[] }> };
    expect(b.tenant_discovery_endpoint).toBe(`${f.sim.url}/organizations/v2.0/.well-known/openid-configuration`);
    expect(b['api-version']).toBe('1.1');
    expect(b.metadata[0]?.aliases).toContain(`localhost:${f.sim.port}`);
  });

  it('answers invalid_instance for an authorization endpoint on another host', async () => {
    const { status, body } = await getJson(
      `${f.sim.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent('https://evil.example/common/oauth2/v2.0/authorize')}`,
    );
    expect(status).toBe(400);
    expect((body as { error: string }).error).toBe('invalid_instance');
  });
});

describe('client credentials through msal-node', () => {
  it('issues a v1 app-only token for the Management API with the secret', async () => {
    const t = await f.tenant({ consent: ['ActivityFeed.Read', 'AuditLog.Read.All'] });
    const c = decodeClaims(await f.token(t.tenantId, 'https://manage.office.com'));
    expect(c.aud).toBe('https://manage.office.com');
    expect(c.tid).toBe(t.tenantId);
    expect(c.appid).toBe(f.sim.clientId);
    expect(c.oid).toBe(t.servicePrincipal?.id);
    expect(c.iss).toBe(`https://sts.windows.net/${t.tenantId}/`);
    expect(c.ver).toBe('1.0');
    expect(c.appidacr).toBe('1');
    expect(c.roles).toEqual(['ActivityFeed.Read']);
    expect((c.exp as number) - (c.iat as number)).toBe(3599);
  });

  it('issues a token with a certificate assertion (SHA-256 thumbprint, PS256)', async () => {
    const t = await f.tenant();
    const c = decodeClaims(await f.token(t.tenantId, 'https://graph.microsoft.com', 'certificate'));
    expect(c.aud).toBe('https://graph.microsoft.com');
    expect(c.appidacr).toBe('2');
    expect(c.roles).toContain('AuditLog.Read.All');
  });

  it('issues a token with a certificate assertion (SHA-1 thumbprint, RS256)', async () => {
    const t = await f.tenant();
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: f.sim.clientId,
        authority: `${f.sim.url}/${t.tenantId}`,
        knownAuthorities: [`localhost:${f.sim.port}`],
        clientCertificate: { thumbprint: f.sim.clientCertificate.thumbprint, privateKey: f.sim.clientCertificate.privateKeyPem },
      },
    });
    const r = await app.acquireTokenByClientCredential({ scopes: ['https://manage.office.com/.default'] });
    expect(decodeClaims(r?.accessToken ?? '').appidacr).toBe('2');
  });

  it('rejects an assertion signed by a key other than the registered certificate with AADSTS700027', async () => {
    const t = await f.tenant();
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: f.sim.clientId,
        authority: `${f.sim.url}/${t.tenantId}`,
        knownAuthorities: [`localhost:${f.sim.port}`],
        clientCertificate: { thumbprintSha256: f.sim.clientCertificate.thumbprintSha256, privateKey },
      },
    });
    const e = await tokenError(app.acquireTokenByClientCredential({ scopes: ['https://manage.office.com/.default'] }));
    expect(e.errorCode).toBe('invalid_client');
    expect(e.errorMessage).toMatch(/AADSTS700027/);
  });

  it('signs tokens with the key published at jwks_uri', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, 'https://graph.microsoft.com');
    const { body } = await getJson(`${f.sim.url}/${t.tenantId}/discovery/v2.0/keys`);
    const jwk = (body as { keys: Array<Record<string, string>> }).keys[0];
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as { kid: string; alg: string };
    expect(header.alg).toBe('RS256');
    expect(header.kid).toBe(jwk?.kid);
    const key = createPublicKey({ key: { kty: 'RSA', n: jwk?.n ?? '', e: jwk?.e ?? '' }, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s ?? '', 'base64url'))).toBe(true);
  });

  it('omits the roles claim when the service principal has no roles', async () => {
    const t = await f.tenant({ consent: ['AuditLog.Read.All'] });
    const c = decodeClaims(await f.token(t.tenantId, 'https://manage.office.com'));
    expect(c.roles).toBeUndefined();
  });

  it('fails with invalid_request AADSTS90002 for an unknown tenant (msal already fails resolving its metadata)', async () => {
    const unknown = '0badbad0-0000-4000-8000-000000000000';
    const raw = await rawToken(unknown, {
      grant_type: 'client_credentials',
      client_id: f.sim.clientId,
      client_secret: f.sim.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ error: 'invalid_request', error_codes: [90002] });
    const e = await tokenError(f.token(unknown, 'https://manage.office.com'));
    expect(e.errorCode).toBe('endpoints_resolution_error');
  });

  it('fails with unauthorized_client AADSTS700016 when the app was never consented in the tenant', async () => {
    const t = await f.tenant({ consent: false });
    const raw = await rawToken(t.tenantId, {
      grant_type: 'client_credentials',
      client_id: f.sim.clientId,
      client_secret: f.sim.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(raw.status).toBe(400);
    expect((raw.body as { error: string; error_codes: number[] }).error).toBe('unauthorized_client');
    expect((raw.body as { error_codes: number[] }).error_codes).toEqual([700016]);
    const e = await tokenError(f.token(t.tenantId, 'https://graph.microsoft.com'));
    expect(e.errorMessage).toMatch(/AADSTS700016/);
  });

  it('fails with invalid_client AADSTS7000229 after the service principal was removed', async () => {
    const t = await f.tenant();
    await f.control.revokeConsent(t.tenantId);
    const raw = await rawToken(t.tenantId, {
      grant_type: 'client_credentials',
      client_id: f.sim.clientId,
      client_secret: f.sim.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(raw.status).toBe(401);
    expect(raw.body).toMatchObject({ error: 'invalid_client', error_codes: [7000229] });
    expect((raw.body as { error_description: string }).error_description).toMatch(
      /^AADSTS7000229: The client application .* is missing service principal in the tenant/,
    );
  });

  it('fails with 401 invalid_client AADSTS7000215 for a wrong secret, with the documented body fields', async () => {
    const t = await f.tenant();
    const raw = await rawToken(t.tenantId, {
      grant_type: 'client_credentials',
      client_id: f.sim.clientId,
      client_secret: 'wrong',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(raw.status).toBe(401);
    const b = raw.body as Record<string, unknown>;
    expect(b.error).toBe('invalid_client');
    expect(b.error_codes).toEqual([7000215]);
    expect(b.error_description).toMatch(
      /^AADSTS7000215: Invalid client secret provided\..*\r\nTrace ID: .+\r\nCorrelation ID: .+\r\nTimestamp: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/s,
    );
    expect(Object.keys(b).sort()).toEqual(['correlation_id', 'error', 'error_codes', 'error_description', 'error_uri', 'timestamp', 'trace_id']);
    const e = await tokenError(f.msal(t.tenantId, { secret: 'wrong' }).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }));
    expect(e.errorCode).toBe('invalid_client');
    expect(e.errorMessage).toMatch(/AADSTS7000215/);
  });

  it('fails with AADSTS7000222 while the secret is expired and recovers when renewed', async () => {
    const own = await startFixture('entra-secret');
    try {
      const t = await own.tenant();
      await own.control.setSecretExpired(true);
      const e = await tokenError(own.token(t.tenantId, 'https://manage.office.com'));
      expect(e.errorCode).toBe('invalid_client');
      expect(e.errorMessage).toMatch(/AADSTS7000222/);
      await own.control.setSecretExpired(false);
      expect(decodeClaims(await own.token(t.tenantId, 'https://manage.office.com')).tid).toBe(t.tenantId);
    } finally {
      await own.close();
    }
  });

  it('fails with AADSTS7000218 when neither a secret nor an assertion is sent', async () => {
    const t = await f.tenant();
    const raw = await rawToken(t.tenantId, { grant_type: 'client_credentials', client_id: f.sim.clientId, scope: 'https://graph.microsoft.com/.default' });
    expect(raw.status).toBe(401);
    expect(raw.body).toMatchObject({ error: 'invalid_client', error_codes: [7000218] });
  });

  it('fails with invalid_scope when the scope is not <resource>/.default', async () => {
    const t = await f.tenant();
    const raw = await rawToken(t.tenantId, {
      grant_type: 'client_credentials',
      client_id: f.sim.clientId,
      client_secret: f.sim.clientSecret,
      scope: 'https://graph.microsoft.com/AuditLog.Read.All',
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ error: 'invalid_scope' });
  });

  it('accepts the secret in HTTP Basic and ignores unknown form fields', async () => {
    const t = await f.tenant();
    const res = await getJson(`${f.sim.url}/${t.tenantId}/oauth2/v2.0/token`, undefined, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${f.sim.clientId}:${f.sim.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'https://manage.office.com/.default',
        'x-client-SKU': 'test',
        'client-request-id': 'x',
      }).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
  });

  it('serves the v1 token endpoint with resource= and string-typed numbers', async () => {
    const t = await f.tenant();
    const res = await getJson(`${f.sim.url}/${t.tenantId}/oauth2/token`, undefined, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: f.sim.clientId,
        client_secret: f.sim.clientSecret,
        resource: 'https://manage.office.com',
      }).toString(),
    });
    expect(res.status).toBe(200);
    const b = res.body as Record<string, unknown>;
    expect(typeof b.expires_on).toBe('string');
    expect(b.resource).toBe('https://manage.office.com');
  });
});

describe('national clouds', () => {
  const cases = [
    { cloud: 'gcc', management: 'https://manage-gcc.office.com', graph: 'https://graph.microsoft.com' },
    { cloud: 'gcc-high', management: 'https://manage.office365.us', graph: 'https://graph.microsoft.us' },
    { cloud: 'dod', management: 'https://manage.protection.apps.mil', graph: 'https://dod-graph.microsoft.us' },
  ] as const;
  for (const c of cases) {
    it(`issues ${c.cloud} tokens for ${c.management} and ${c.graph}`, async () => {
      const t = await f.tenant({ cloud: c.cloud });
      expect(decodeClaims(await f.token(t.tenantId, c.management)).aud).toBe(c.management);
      expect(decodeClaims(await f.token(t.tenantId, c.graph)).aud).toBe(c.graph);
    });
  }

  it('answers invalid_resource AADSTS500011 for a resource of another cloud', async () => {
    const t = await f.tenant({ cloud: 'commercial' });
    const e = await tokenError(f.token(t.tenantId, 'https://manage.office365.us'));
    expect(e.errorCode).toBe('invalid_resource');
    expect(e.errorMessage).toMatch(/AADSTS500011/);
  });
});

describe('one application registration per Entra instance', () => {
  const credentials = (instance: 'global' | 'usgov') =>
    instance === 'usgov'
      ? { client_id: f.sim.usGovClientId, client_secret: f.sim.usGovClientSecret }
      : { client_id: f.sim.clientId, client_secret: f.sim.clientSecret };

  it('the two registrations are distinct applications with their own secrets', async () => {
    expect(f.sim.usGovClientId).not.toBe(f.sim.clientId);
    expect(f.sim.usGovClientSecret).not.toBe(f.sim.clientSecret);
    expect(await f.control.getApp('usgov')).toMatchObject({ instance: 'usgov', clientId: f.sim.usGovClientId });
    expect(await f.control.getApp()).toMatchObject({ instance: 'global', clientId: f.sim.clientId });
  });

  it('a GCC High or DoD tenant knows only the Entra ID Government registration: the commercial one is AADSTS700016', async () => {
    for (const cloud of ['gcc-high', 'dod'] as const) {
      const t = await f.tenant({ cloud });
      const commercial = await rawToken(t.tenantId, {
        grant_type: 'client_credentials',
        ...credentials('global'),
        scope: 'https://graph.microsoft.us/.default',
      });
      expect(commercial.status).toBe(400);
      expect(commercial.body).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
      expect((commercial.body as { error_description: string }).error_description).toContain(`Application with identifier '${f.sim.clientId}' was not found`);
      const audience = cloud === 'dod' ? 'https://dod-graph.microsoft.us' : 'https://graph.microsoft.us';
      const gov = await rawToken(t.tenantId, { grant_type: 'client_credentials', ...credentials('usgov'), scope: `${audience}/.default` });
      expect(gov.status).toBe(200);
      expect(decodeClaims((gov.body as { access_token: string }).access_token)).toMatchObject({ appid: f.sim.usGovClientId, tid: t.tenantId });
    }
  });

  it('a commercial or GCC tenant does not know the Entra ID Government registration', async () => {
    for (const cloud of ['commercial', 'gcc'] as const) {
      const t = await f.tenant({ cloud });
      const raw = await rawToken(t.tenantId, { grant_type: 'client_credentials', ...credentials('usgov'), scope: 'https://graph.microsoft.com/.default' });
      expect(raw.status).toBe(400);
      expect(raw.body).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
    }
  });

  it('a secret belongs to its registration: the commercial secret with the Government client id is AADSTS7000215', async () => {
    const t = await f.tenant({ cloud: 'gcc-high' });
    const raw = await rawToken(t.tenantId, {
      grant_type: 'client_credentials',
      client_id: f.sim.usGovClientId,
      client_secret: f.sim.clientSecret,
      scope: 'https://graph.microsoft.us/.default',
    });
    expect(raw.status).toBe(401);
    expect(raw.body).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
  });

  it('the control API names an unknown instance as a 400', async () => {
    const res = await getJson(`${f.sim.url}/_sim/app?instance=china`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { field: 'instance' } });
  });
});
