import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from './helpers/harness.ts';

/**
 * The per-address limits on what anyone can reach without a token: the consent callback and failed
 * authentications. The test talks from 127.0.0.1; with CONTROL_PLANE_TRUST_PROXY=loopback the address comes from
 * X-Forwarded-For instead, which is how a deployment behind a reverse proxy tells its clients apart.
 */
describe('control-plane rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CONTROL_PLANE_CALLBACK_RATE_LIMIT: '5', CONTROL_PLANE_AUTH_FAILURE_LIMIT: '3' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${h.cp.url}${path}`, { headers });
  const bearer = (token: string, extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...extra });

  it('answers 429 with Retry-After after too many failed authentications from one address; successes do not count', async () => {
    for (let i = 0; i < 10; i++) expect((await get('/api/v1/organizations', bearer(ADMIN_TOKEN))).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get('/api/v1/organizations', bearer(`guess-${i}`))).status).toBe(401);
    const limited = await get('/api/v1/organizations', bearer('guess-4'));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limited.json()) as unknown).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining('failed authentications') } });
    // The address is blocked for the rest of its window, whatever it presents: guessing gains nothing more.
    expect((await get('/api/v1/organizations', bearer(ADMIN_TOKEN))).status).toBe(429);
    // The events API (mounted beside /api/v1) is behind the same limit.
    expect((await get('/api/v1/organizations/x/events', bearer('guess-5'))).status).toBe(429);
    // X-Forwarded-For is ignored while no proxy is trusted: a client cannot pick a fresh address.
    expect((await get('/api/v1/organizations', bearer('guess-6', { 'X-Forwarded-For': '198.51.100.7' }))).status).toBe(429);
  });

  it('answers the consent callback with a 429 page after too many callbacks from one address', async () => {
    for (let i = 0; i < 5; i++) expect((await get(`/oauth/microsoft/callback?state=bogus-${i}`)).status).toBe(400);
    const limited = await get('/oauth/microsoft/callback?state=bogus-6');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('Too many consent callbacks');
  });

  it('tells clients apart by X-Forwarded-For when the proxy in front is trusted', async () => {
    await h.restart({ CONTROL_PLANE_TRUST_PROXY: 'loopback' });
    const from = (ip: string, token: string) => get('/api/v1/organizations', bearer(token, { 'X-Forwarded-For': ip }));
    for (let i = 0; i < 3; i++) expect((await from('203.0.113.10', `guess-${i}`)).status).toBe(401);
    expect((await from('203.0.113.10', 'guess-4')).status).toBe(429);
    // Another client behind the same proxy is not affected.
    expect((await from('203.0.113.11', 'guess-0')).status).toBe(401);
    expect((await from('203.0.113.11', ADMIN_TOKEN)).status).toBe(200);
  });
});
