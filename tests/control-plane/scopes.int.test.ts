import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../control-plane/auth.ts';
import { registerControlPlaneCommands } from '../../control-plane/index.ts';
import { testOpenSearchClient } from '../helpers/clients.ts';
import { deleteTestIndices } from '../helpers/resources.ts';
import { ADMIN_TOKEN, startHarness, VIEWER_TOKEN, type Harness } from './helpers/harness.ts';

const ANALYST_TOKEN = 'msp-analyst-token-0123456789';

/**
 * Operator scopes against the real control plane on real Kafka and OpenSearch: an MSP analyst whose token names
 * three customers (admin on one, viewer on two) sees those three in the REST API, the events API and the CLI, and
 * nothing of the others — not even that they exist.
 */
describe('operator scopes', () => {
  let h: Harness;
  let orgs: string[];
  const openSearch = testOpenSearchClient();
  let index: string;

  beforeAll(async () => {
    h = await startHarness();
    orgs = [];
    for (const name of ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo']) orgs.push(await h.createOrg(name));
    const [a, b, c] = orgs;
    // Organization ids exist only once created: the operator then gives the analyst a token naming them and restarts.
    await h.restart({
      CONTROL_PLANE_TOKENS: `${h.env.CONTROL_PLANE_TOKENS},admin:msp-analyst:${hashToken(ANALYST_TOKEN)}:${a},viewer:msp-analyst:${hashToken(ANALYST_TOKEN)}:${b}+${c}`,
    });
    index = h.env.INDEX_PREFIX!;
    for (const orgId of orgs) {
      await openSearch.index({
        index,
        id: `${orgId}-e1`,
        refresh: true,
        body: { '@timestamp': '2026-11-26T07:00:00Z', organization: { id: orgId }, event: { dataset: 'azure.signinlogs', action: 'sign-in' } },
      });
    }
  });
  afterAll(async () => {
    await h?.close();
    if (index) await deleteTestIndices(openSearch, [index]).catch(() => undefined);
    await openSearch.close();
  });

  const as = <T = any>(method: string, path: string, body?: unknown) => h.api<T>(method, path, body, ANALYST_TOKEN);

  it('lists exactly the three organizations of the scope and says so on /me', async () => {
    const list = await as('GET', '/organizations');
    expect(list.status).toBe(200);
    expect(list.body.items.map((o: { id: string }) => o.id).sort()).toEqual(orgs.slice(0, 3).sort());
    const me = await as('GET', '/me');
    expect(me.body).toMatchObject({ label: 'msp-analyst', allOrganizations: null, canCreateOrganizations: false });
    expect(me.body.organizations).toHaveLength(3);
    // The unscoped tokens still see all five.
    expect((await h.api('GET', '/organizations', undefined, VIEWER_TOKEN)).body.items).toHaveLength(5);
  });

  it('answers every read and write of an organization outside the scope exactly like a missing one (404)', async () => {
    const outside = orgs[3]!;
    const missing = 'org_doesnotexist';
    const routes: Array<[string, (id: string) => string, unknown]> = [
      ['GET', (id) => `/organizations/${id}`, undefined],
      ['GET', (id) => `/organizations/${id}/history`, undefined],
      ['GET', (id) => `/organizations/${id}/events`, undefined],
      ['GET', (id) => `/organizations/${id}/applications/microsoft-manage`, undefined],
      ['PATCH', (id) => `/organizations/${id}`, { name: 'taken over' }],
      ['DELETE', (id) => `/organizations/${id}`, undefined],
      ['POST', (id) => `/organizations/${id}/applications/microsoft-manage`, { autoUpgrade: false, cloud: 'commercial' }],
      ['POST', (id) => `/organizations/${id}/applications/microsoft-manage/repair`, undefined],
      ['POST', (id) => `/organizations/${id}/applications/microsoft-manage/verify`, undefined],
      ['POST', (id) => `/organizations/${id}/applications/microsoft-manage/refetch`, {}],
      ['POST', (id) => `/organizations/${id}/applications/microsoft-manage/backfill`, { from: new Date(Date.now() - 86_400_000).toISOString() }],
    ];
    for (const [method, path, body] of routes) {
      const denied = await as(method, path(outside), body);
      const absent = await as(method, path(missing), body);
      expect(denied.status, `${method} ${path(outside)}`).toBe(404);
      expect(denied.body.error.code).toBe('not_found');
      expect(denied.body.error.message.replace(outside, 'ID')).toBe(absent.body.error.message.replace(missing, 'ID'));
    }
    // Nothing changed in Delta.
    expect((await h.api('GET', `/organizations/${outside}`)).body.name).toBe('Delta');
  });

  it('searches only its own organizations in the events API', async () => {
    for (const orgId of orgs.slice(0, 3)) {
      const res = await as('GET', `/organizations/${orgId}/events`);
      expect(res.status).toBe(200);
      expect(res.body.events.map((e: { id: string }) => e.id)).toEqual([`${orgId}-e1`]);
    }
    for (const id of [orgs[4]!, 'org-e', '*', '%2A']) expect((await as('GET', `/organizations/${id}/events`)).status, id).toBe(404);
  });

  it('is admin where its scope says admin and viewer where it says viewer; never adds organizations', async () => {
    const [a, b] = orgs;
    const renamed = await as('PATCH', `/organizations/${a}`, { name: 'Alpha (renamed by analyst)' });
    expect(renamed.status).toBe(200);
    const history = await as('GET', `/organizations/${a}/history`);
    expect(history.body.items.at(-1)).toMatchObject({ action: 'organization.renamed', actor: { role: 'admin', label: 'msp-analyst' } });
    const refused = await as('PATCH', `/organizations/${b}`, { name: 'Bravo?' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('viewer role');
    expect((await as('GET', `/organizations/${b}/applications/microsoft-manage`)).status).toBe(200);
    const created = await as('POST', '/organizations', { name: 'Foxtrot' });
    expect(created.status).toBe(403);
    expect(created.body.error.message).toContain('scope *');
    expect((await h.api('GET', '/organizations', undefined, ADMIN_TOKEN)).body.items).toHaveLength(5);
  });

  it('shows the same scope through the CLI', async () => {
    const cli = async (args: string[]) => {
      let out = '';
      const program = new Command().exitOverride();
      registerControlPlaneCommands(program, {
        env: { M365_SIEM_URL: h.cp.url, M365_SIEM_TOKEN: ANALYST_TOKEN },
        stdout: (t) => {
          out += t;
        },
        stderr: () => undefined,
        setExitCode: () => undefined,
      });
      await program.parseAsync(['node', 'm365-siem', ...args]);
      return out;
    };
    const listed = JSON.parse(await cli(['org', 'list', '--json'])) as Array<{ id: string }>;
    expect(listed.map((o) => o.id).sort()).toEqual(orgs.slice(0, 3).sort());
    const who = await cli(['whoami']);
    expect(who).toContain('msp-analyst');
    for (const id of orgs.slice(0, 3)) expect(who).toContain(id);
    expect(who).not.toContain(orgs[3]!);
    expect(who).toContain('can add organizations: no');
    expect(who).not.toContain(ANALYST_TOKEN);
  });
});
