import { describe, expect, it } from 'vitest';
import { assignMissingRoles, type FetchLike } from '../../control-plane/upgrades.ts';

const GRAPH = 'https://graph.example';
const OUR_APP = '00000000-aaaa-bbbb-cccc-000000000001';

/** A scripted Graph: our service principal, the two resource service principals, and appRoleAssignedTo. */
function graph(options: { existing?: string[]; forbid?: boolean; throttleOnce?: boolean } = {}) {
  const calls: string[] = [];
  let throttled = false;
  const roles = {
    graph: [
      { id: 'r-uam', value: 'UserAuthenticationMethod.Read.All', allowedMemberTypes: ['Application'] },
      { id: 'r-dir', value: 'Directory.Read.All', allowedMemberTypes: ['Application'] },
    ],
    management: [{ id: 'r-dlp', value: 'ActivityFeed.ReadDlp', allowedMemberTypes: ['Application'] }],
  };
  const fetchImpl: FetchLike = async (url, init) => {
    calls.push(`${init?.method ?? 'GET'} ${url.replace(GRAPH, '')}`);
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (url.includes(`appId='${OUR_APP}'`)) return json(200, { id: 'sp-ours' });
    if (url.includes("appId='00000003-0000-0000-c000-000000000000'")) return json(200, { id: 'sp-graph', appRoles: roles.graph });
    if (url.includes("appId='c5393580-f805-4401-95e8-94b7a6ef2fc2'")) return json(200, { id: 'sp-mgmt', appRoles: roles.management });
    if (url.endsWith('/appRoleAssignedTo')) {
      if (options.throttleOnce && !throttled) {
        throttled = true;
        return new Response(JSON.stringify({ error: { code: 'TooManyRequests', message: 'slow down' } }), { status: 429, headers: { 'retry-after': '0' } });
      }
      if (options.forbid) return json(403, { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } });
      const body = JSON.parse(String(init?.body)) as { appRoleId: string; principalId: string };
      expect(body.principalId).toBe('sp-ours');
      const role = [...roles.graph, ...roles.management].find((r) => r.id === body.appRoleId);
      if (role && options.existing?.includes(role.value))
        return json(400, { error: { code: 'Request_BadRequest', message: 'Permission being assigned already exists on the object.' } });
      return json(201, { id: 'assignment', appRoleId: body.appRoleId });
    }
    return json(404, { error: { code: 'Request_ResourceNotFound', message: url } });
  };
  return { fetchImpl, calls };
}

describe('auto-upgrade role assignment', () => {
  it('assigns roles of both resources to our service principal; an existing assignment counts as success', async () => {
    const g = graph({ existing: ['Directory.Read.All'] });
    const result = await assignMissingRoles({
      graphHost: GRAPH,
      accessToken: 't',
      clientId: OUR_APP,
      roles: ['UserAuthenticationMethod.Read.All', 'Directory.Read.All', 'ActivityFeed.ReadDlp'],
      fetchImpl: g.fetchImpl,
    });
    expect(result).toEqual({ assigned: ['UserAuthenticationMethod.Read.All', 'ActivityFeed.ReadDlp'], alreadyAssigned: ['Directory.Read.All'], failed: [] });
    expect(g.calls).toContain('POST /v1.0/servicePrincipals/sp-graph/appRoleAssignedTo');
    expect(g.calls).toContain('POST /v1.0/servicePrincipals/sp-mgmt/appRoleAssignedTo');
  });

  it('reports refused assignments as failures instead of throwing', async () => {
    const g = graph({ forbid: true });
    const result = await assignMissingRoles({
      graphHost: GRAPH,
      accessToken: 't',
      clientId: OUR_APP,
      roles: ['UserAuthenticationMethod.Read.All'],
      fetchImpl: g.fetchImpl,
    });
    expect(result.assigned).toEqual([]);
    expect(result.failed[0]?.error).toContain('Authorization_RequestDenied');
  });

  it('retries a throttled assignment', async () => {
    const g = graph({ throttleOnce: true });
    const result = await assignMissingRoles({
      graphHost: GRAPH,
      accessToken: 't',
      clientId: OUR_APP,
      roles: ['UserAuthenticationMethod.Read.All'],
      fetchImpl: g.fetchImpl,
    });
    expect(result.assigned).toEqual(['UserAuthenticationMethod.Read.All']);
    expect(g.calls.filter((c) => c.endsWith('appRoleAssignedTo'))).toHaveLength(2);
  });
});
