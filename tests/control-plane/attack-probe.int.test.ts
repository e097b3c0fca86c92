import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../control-plane/auth.ts';
import { uniqueName } from '../helpers/resources.ts';
import { ADMIN_TOKEN, startHarness, VIEWER_TOKEN, type Harness } from './helpers/harness.ts';
import { badEventQueryFindings, EVIL_NAME_CHARACTERS, evilNameFindings, headerFindings, publicMetricsFindings } from './helpers/probe-checks.ts';

const ANALYST_TOKEN = 'probe-msp-analyst-token-0123456789';

/**
 * The attack run of issue 13 ("hardening"), as a test: the real control plane (startControlPlane with the settings
 * `npm start` gives it, UI and events API on) on real Kafka and OpenSearch and the simulator's Entra. Every item of
 * the list is probed and must find nothing:
 *
 * - replayed, expired or forged consent links: attack-probe-consent-links.int.test.ts (the same run's other half);
 * - oversized history: long renames never make the organization unwritable, the value ingest reads stays small;
 * - control and bidi characters in names;
 * - bad query parameters (impossible dates) and every route walked with bad input: never a 5xx;
 * - missing headers: CSP with a nonce and frame-ancestors on the consent page, nosniff and no-store on API JSON,
 *   a CSP on the UI pages;
 * - anonymous /metrics on the public listener;
 * - cross-scope reads through the API and the events API.
 */
describe('attack probe against the control plane', () => {
  let h: Harness;
  let victim: string;
  let other: string;
  const found: string[] = [];

  beforeAll(async () => {
    h = await startHarness({ env: { CONTROL_PLANE_UI: 'true' } });
    victim = await h.createOrg('Probe victim');
    other = await h.createOrg('Probe other customer');
    await h.restart({ CONTROL_PLANE_TOKENS: `${h.env.CONTROL_PLANE_TOKENS},admin:probe-analyst:${hashToken(ANALYST_TOKEN)}:${victim}` });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  const historyOf = async (orgId: string) => (await h.api('GET', `/organizations/${orgId}/history`)).body.items as Array<{ action: string }>;

  it('oversized history: 250 renames with 190-character names all succeed and the value ingest reads stays small', async () => {
    const orgId = await h.createOrg('Probe renames');
    for (let i = 0; i < 250; i++) {
      const res = await h.api('PATCH', `/organizations/${orgId}`, { name: `${'Renamed again and again '.repeat(8)}${i}` });
      if (res.status !== 200) found.push(`rename ${i}: ${res.status}`);
    }
    expect(found).toEqual([]);
    const value = (await h.kafka.readCompactedToEnd(h.topics.tenants, uniqueName('probe-reader'))).get(orgId);
    expect(value!.length).toBeLessThan(2048);
    expect((await historyOf(orgId)).length).toBe(251);
  });

  it('names with control or bidi characters are refused with a 400 naming the field', async () => {
    expect(await evilNameFindings(h.api)).toEqual([]);
    for (const ch of EVIL_NAME_CHARACTERS) {
      const renamed = await h.api('PATCH', `/organizations/${victim}`, { name: `Contoso${ch}evil` });
      expect(renamed.status, JSON.stringify(ch)).toBe(400);
      expect(renamed.body.error.field).toBe('body.name');
    }
    expect((await h.api('GET', `/organizations/${victim}`)).body.name).toBe('Probe victim');
    // Real names in any script still pass.
    expect((await h.api('POST', '/organizations', { name: 'Zürich AG — 東京 · שלום' })).status).toBe(201);
  });

  it('impossible dates and other bad parameters of the events API are a 400 naming the parameter', async () => {
    expect(await badEventQueryFindings(h.api, victim, VIEWER_TOKEN)).toEqual([]);
  });

  it('walks every route with bad input and never gets a 5xx; every API answer is nosniff and no-store', async () => {
    const doc = (await h.api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const walkOrg = await h.createOrg('Probe walk');
    const ids = [walkOrg, 'ORG!', 'org_doesnotexist', '%E0%A4%A', `..%2F${'x'.repeat(300)}%00`];
    const bodies = [
      undefined,
      '{"name": ',
      '[]',
      'null',
      '"text"',
      '{"zzz":1}',
      JSON.stringify({ name: 'a\u202Eb', autoUpgrade: 'yes', cloud: 'moon', tenant: '../../', from: '2026-02-30' }),
    ];
    const queries = ['', '?from=2026-02-30&size=-1&x=%ZZ'];
    const fails: string[] = [];
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => ['get', 'post', 'patch', 'put', 'delete'].includes(m))
        .map((m) => [m.toUpperCase(), path] as const),
    );
    // Deletions last: the walk's own organization survives the other routes' requests.
    operations.sort(([a], [b]) => Number(a === 'DELETE') - Number(b === 'DELETE'));
    for (const [method, template] of operations) {
      for (const id of ids) {
        const path = template.replace('{id}', id).replace('{subject}', id).replace('{version}', 'x\u0000');
        for (const query of queries) {
          for (const raw of method === 'GET' ? [undefined] : bodies) {
            // Anonymous once per operation: more 401s than CONTROL_PLANE_AUTH_FAILURE_LIMIT (30/min) turn this
            // address's every API request into 429 for a minute — the brute-force limit doing its job.
            const anonymousToo = id === ids[0] && query === '' && raw === (method === 'GET' ? undefined : bodies[0]);
            for (const token of anonymousToo ? [ADMIN_TOKEN, null] : [ADMIN_TOKEN]) {
              const headers: Record<string, string> = raw !== undefined ? { 'Content-Type': 'application/json' } : {};
              if (token) headers.Authorization = `Bearer ${token}`;
              const res = await fetch(`${h.cp.url}/api/v1${path}${query}`, { method, headers, ...(raw !== undefined ? { body: raw } : {}) });
              const what = `${method} ${path}${query} ${raw ?? ''} ${token ? 'admin' : 'anonymous'}`;
              if (res.status >= 500) fails.push(`${what} → ${res.status} ${(await res.text()).slice(0, 120)}`);
              else await res.arrayBuffer();
              if (res.headers.get('x-content-type-options') !== 'nosniff') fails.push(`${what}: no nosniff`);
              if (res.headers.get('cache-control') !== 'no-store') fails.push(`${what}: not no-store`);
              if (!token && res.status !== 401) fails.push(`${what}: anonymous got ${res.status}`);
            }
          }
        }
      }
    }
    expect(fails).toEqual([]);
  }, 180_000);

  it('the consent page carries a per-response nonce CSP, frame-ancestors none and nosniff; UI pages a CSP', async () => {
    expect(await headerFindings(h.cp.url, ['/', '/organizations', `/organizations/${victim}`, '/ui/app.js'])).toEqual([]);
  });

  it('no anonymous /metrics on the public listener (they are on the loopback ops listener)', async () => {
    expect(await publicMetricsFindings(h.cp.url)).toEqual([]);
    expect(new URL(h.cp.opsUrl).hostname).toBe('127.0.0.1');
    expect(await (await fetch(`${h.cp.opsUrl}/metrics`)).text()).toContain('m365siem_controlplane_http_requests_total');
  });

  it('no cross-scope read through the API or the events API', async () => {
    const as = (path: string) => h.api('GET', path, undefined, ANALYST_TOKEN);
    expect((await as('/organizations')).body.items.map((o: { id: string }) => o.id)).toEqual([victim]);
    for (const path of [
      `/organizations/${other}`,
      `/organizations/${other}/history`,
      `/organizations/${other}/applications/microsoft-manage`,
      `/organizations/${other}/events`,
      `/organizations/${other}/events?size=500`,
    ]) {
      const res = await as(path);
      expect(res.status, path).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain('Probe other customer');
    }
    for (const id of ['*', '%2A', `${other}%00`, `${victim}%2F..%2F${other}`, 'org_', encodeURIComponent(`${victim},${other}`)]) {
      const res = await as(`/organizations/${id}/events`);
      expect(res.status, id).toBe(404);
    }
    expect((await as(`/organizations/${victim}/events`)).status).toBe(200);
  });
});
