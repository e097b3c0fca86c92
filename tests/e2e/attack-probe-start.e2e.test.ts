import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafkaClient } from '../helpers/clients.ts';
import { badEventQueryFindings, evilNameFindings, headerFindings, publicMetricsFindings, type ApiCall } from '../control-plane/helpers/probe-checks.ts';
import { startCommandFixture, type StartedCommand } from './start-command.ts';

/**
 * Issue 13's attack run against `npm start` itself (`m365-siem start` as a child process, the embedded default with
 * its own settings, UI on): the checks of the in-process probe (tests/control-plane/attack-probe*.int.test.ts) that
 * need nothing but the public listener must find nothing here too. Scoped operator tokens are not part of the demo's
 * settings; the in-process probe covers them.
 */
describe('attack probe against m365-siem start', () => {
  const fixture = startCommandFixture('probe');
  let run: StartedCommand;
  let api: ApiCall;

  beforeAll(async () => {
    run = await fixture.start();
    api = async (method, path, body, token = fixture.token) => {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(`${run.announced.controlPlane}/api/v1${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { status: res.status, body: parsed };
    };
  }, 240_000);
  afterAll(() => fixture.cleanup(), 120_000);

  /** Messages on the tenants topic so far: any write to an organization moves it. */
  async function tenantsEnd(): Promise<bigint> {
    const admin = testKafkaClient('probe-offsets').admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(fixture.topicEnv.TOPIC_TENANTS)).reduce((n, p) => n + BigInt(p.high), 0n);
    } finally {
      await admin.disconnect();
    }
  }

  it('forged, unsigned and missing consent states are refused and write nothing', async () => {
    const before = await tenantsEnd();
    const orgId = run.announced.organizations[0]!.id;
    const forged = `${Buffer.from(JSON.stringify({ org: orgId, purpose: 'connect', exp: Date.now() + 600_000 })).toString('base64url')}.AAAA`;
    for (const query of [`state=${encodeURIComponent(forged)}&admin_consent=True`, 'state=not-a-state&admin_consent=True', 'admin_consent=True']) {
      const res = await fetch(`${run.announced.controlPlane}/oauth/microsoft/callback?${query}&tenant=00000000-0000-0000-0000-000000000001`);
      expect(res.status, query).toBeGreaterThanOrEqual(400);
      expect(res.status, query).toBeLessThan(500);
      await res.arrayBuffer();
    }
    expect(await tenantsEnd()).toBe(before);
  });

  it('security headers on the consent page and the UI pages', async () => {
    const orgId = run.announced.organizations[0]!.id;
    expect(await headerFindings(run.announced.controlPlane, ['/', '/organizations', `/organizations/${orgId}`])).toEqual([]);
  });

  it('no metrics on the public listener, anonymous API calls are 401, API answers are nosniff and no-store', async () => {
    expect(await publicMetricsFindings(run.announced.controlPlane)).toEqual([]);
    expect((await api('GET', '/organizations', undefined, null)).status).toBe(401);
    const res = await fetch(`${run.announced.controlPlane}/api/v1/organizations`, { headers: { Authorization: `Bearer ${fixture.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    await res.arrayBuffer();
  });

  it('names with control or bidi characters and bad event-API parameters are 400s naming the field', async () => {
    expect(await evilNameFindings(api)).toEqual([]);
    expect(await badEventQueryFindings(api, run.announced.organizations[0]!.id)).toEqual([]);
  });
});
