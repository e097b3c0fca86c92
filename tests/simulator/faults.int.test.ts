import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { getJson, startFixture } from './fixtures/simulator-fixture.ts';

let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('faults');
});
afterAll(async () => {
  await f.close();
});

async function tokenRequest(tenantId: string) {
  return getJson(`${f.sim.url}/${tenantId}/oauth2/v2.0/token`, undefined, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: f.sim.clientId,
      client_secret: f.sim.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }).toString(),
  });
}

describe('fault injection', () => {
  it('token throttle answers 429 temporarily_unavailable with Retry-After, then recovers when its count is spent', async () => {
    const t = await f.tenant();
    await f.control.injectFault({ tenantId: t.tenantId, target: 'token', kind: 'throttle', count: 1 });
    const res = await tokenRequest(t.tenantId);
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('5');
    expect((res.body as { error: string }).error).toBe('temporarily_unavailable');
    expect((await tokenRequest(t.tenantId)).status).toBe(200);
  });

  it('token server-error answers 503', async () => {
    const t = await f.tenant();
    await f.control.injectFault({ tenantId: t.tenantId, target: 'token', kind: 'server-error', count: 1 });
    expect((await tokenRequest(t.tenantId)).status).toBe(503);
  });

  it('management throttle answers 403 AF429 and server-error 500 AF50000', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, 'https://manage.office.com');
    const url = `${f.management(t.tenantId)}/subscriptions/list`;
    await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'throttle', count: 1 });
    const throttled = await getJson(url, token);
    expect(throttled.status).toBe(403);
    expect((throttled.body as { error: { code: string } }).error.code).toBe('AF429');
    await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'server-error', count: 1 });
    const failed = await getJson(url, token);
    expect(failed.status).toBe(500);
    expect((failed.body as { error: { code: string } }).error.code).toBe('AF50000');
    expect((await getJson(url, token)).status).toBe(200);
  });

  it('graph throttle answers 429 with Retry-After, which the Graph client retries through', async () => {
    const t = await f.tenant();
    await f.control.injectFault({ tenantId: t.tenantId, target: 'graph', kind: 'throttle', count: 1 });
    const token = await f.token(t.tenantId, 'https://graph.microsoft.com');
    const raw = await getJson(`${f.sim.url}/v1.0/organization`, token);
    expect(raw.status).toBe(429);
    expect(raw.headers.get('Retry-After')).toBe('2');
    await f.control.injectFault({ tenantId: t.tenantId, target: 'graph', kind: 'throttle', count: 1 });
    const org = (await f.graphClient(t.tenantId).api('/organization').get()) as { value: Array<{ id: string }> };
    expect(org.value[0]?.id).toBe(t.tenantId);
  });

  it("the request log holds each of the tenant's API requests with its answer and fault, and no other tenant's", async () => {
    const t = await f.tenant();
    const other = await f.tenant();
    const token = await f.token(t.tenantId, 'https://manage.office.com');
    const url = `${f.management(t.tenantId)}/subscriptions/list`;
    await getJson(`${f.management(other.tenantId)}/subscriptions/list`, await f.token(other.tenantId, 'https://manage.office.com'));
    await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'throttle', count: 1 });
    expect((await getJson(url, token)).status).toBe(403);
    expect((await getJson(`${url}?PublisherIdentifier=${t.tenantId}`, token)).status).toBe(200);
    const graph = await getJson(`${f.sim.url}/v1.0/organization`, await f.token(t.tenantId, 'https://graph.microsoft.com'));
    expect(graph.status).toBe(200);
    const { requests } = await f.control.requestLog(t.tenantId);
    expect(requests.map((r) => [r.api, r.method, r.path, r.status, r.fault])).toEqual([
      ['management', 'GET', `/api/v1.0/${t.tenantId}/activity/feed/subscriptions/list`, 403, 'throttle'],
      ['management', 'GET', `/api/v1.0/${t.tenantId}/activity/feed/subscriptions/list`, 200, null],
      ['graph', 'GET', '/v1.0/organization', 200, null],
    ]);
    for (const [i, r] of requests.entries()) {
      expect(r.answeredAtMs).toBeGreaterThanOrEqual(r.receivedAtMs);
      // In order of arrival, each answered before the next one was sent (the client awaited each).
      const next = requests[i + 1];
      if (next) expect(next.receivedAtMs).toBeGreaterThanOrEqual(r.answeredAtMs as number);
    }
    expect((await f.control.requestLog(other.tenantId)).requests).toHaveLength(1);
  });

  it('graph server-error answers 503 serviceNotAvailable', async () => {
    const t = await f.tenant();
    await f.control.injectFault({ tenantId: t.tenantId, target: 'graph', kind: 'server-error', count: 1 });
    const res = await getJson(`${f.sim.url}/v1.0/organization`, await f.token(t.tenantId, 'https://graph.microsoft.com'));
    expect(res.status).toBe(503);
    expect((res.body as { error: { code: string } }).error.code).toBe('serviceNotAvailable');
  });

  it('malformed answers 200 with a body that is not JSON', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, 'https://manage.office.com');
    await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'malformed', count: 1 });
    const res = await fetch(`${f.management(t.tenantId)}/subscriptions/list`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it('truncated cuts the connection before the announced body length', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, 'https://graph.microsoft.com');
    await f.control.injectFault({ tenantId: t.tenantId, target: 'graph', kind: 'truncated', count: 1 });
    const res = await fetch(`${f.sim.url}/v1.0/organization`, { headers: { Authorization: `Bearer ${token}` } });
    await expect(res.text()).rejects.toThrow();
  });

  it('slow delays the answer by delayMs', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, 'https://manage.office.com');
    await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'slow', delayMs: 300, count: 1 });
    const started = Date.now();
    expect((await getJson(`${f.management(t.tenantId)}/subscriptions/list`, token)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('applies a fault to its tenant only', async () => {
    const a = await f.tenant();
    const b = await f.tenant();
    await f.control.injectFault({ tenantId: a.tenantId, target: 'graph', kind: 'server-error', count: 5 });
    const res = await getJson(`${f.sim.url}/v1.0/organization`, await f.token(b.tenantId, 'https://graph.microsoft.com'));
    expect(res.status).toBe(200);
  });

  it('ends a fault early with DELETE and after durationMs', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, 'https://manage.office.com');
    const url = `${f.management(t.tenantId)}/subscriptions/list`;
    const { id } = await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'server-error' });
    expect((await getJson(url, token)).status).toBe(500);
    await f.control.clearFault(id);
    expect((await getJson(url, token)).status).toBe(200);
    await f.control.injectFault({ tenantId: t.tenantId, target: 'management', kind: 'server-error', durationMs: 60_000 });
    expect((await getJson(url, token)).status).toBe(500);
    await f.control.advanceClock(61_000);
    expect((await getJson(url, await f.token(t.tenantId, 'https://manage.office.com'))).status).toBe(200);
  });

  it('applies a fault to every tenant when tenantId is absent', async () => {
    const own = await startFixture('faults-global');
    try {
      const a = await own.tenant();
      const b = await own.tenant();
      await own.control.injectFault({ target: 'management', kind: 'server-error', count: 2 });
      expect((await getJson(`${own.management(a.tenantId)}/subscriptions/list`, await own.token(a.tenantId, 'https://manage.office.com'))).status).toBe(500);
      expect((await getJson(`${own.management(b.tenantId)}/subscriptions/list`, await own.token(b.tenantId, 'https://manage.office.com'))).status).toBe(500);
    } finally {
      await own.close();
    }
  });
});
