import { GraphError, PageIterator } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { decodeClaims, getJson, rejectionOf, startFixture } from './fixtures/simulator-fixture.ts';

let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('graph');
});
afterAll(async () => {
  await f.close();
});

const GRAPH = 'https://graph.microsoft.com';
type Collection = { '@odata.context': string; '@odata.nextLink'?: string; value: Array<Record<string, unknown>> };
type GraphErr = { error: { code: string; message: string; innerError: Record<string, string> } };

const graphError = (p: Promise<unknown>) => rejectionOf(p, GraphError);

describe('audit logs', () => {
  it('pages sign-ins newest first through the Graph client and PageIterator', async () => {
    const t = await f.tenant();
    await f.control.addRecords(t.tenantId, 'graph:signIns', 25);
    const client = f.graphClient(t.tenantId);
    const first = (await client.api('/auditLogs/signIns').top(10).get()) as Collection;
    expect(first['@odata.context']).toBe(`${f.sim.url}/v1.0/$metadata#auditLogs/signIns`);
    expect(first['@odata.nextLink']).toMatch(new RegExp(`^${f.sim.url}/v1.0/auditLogs/signIns\\?.*%24skiptoken=`));
    const seen: Array<Record<string, unknown>> = [];
    const iterator = new PageIterator(client, first, (item) => {
      seen.push(item as Record<string, unknown>);
      return true;
    });
    await iterator.iterate();
    expect(seen).toHaveLength(25);
    const times = seen.map((s) => s.createdDateTime as string);
    expect([...times].sort().reverse()).toEqual(times);
    const ledger = await f.control.ledger(t.tenantId, 'graph:signIns');
    expect(new Set(seen.map((s) => s.id))).toEqual(new Set(ledger.records.map((r) => r.id)));
  });

  it('filters sign-ins on createdDateTime ge/le with unquoted DateTimeOffset literals', async () => {
    const t = await f.tenant({ graphThrottling: false });
    await f.control.addRecords(t.tenantId, 'graph:signIns', 40);
    const client = f.graphClient(t.tenantId);
    const all = ((await client.api('/auditLogs/signIns').get()) as Collection).value;
    const times = all.map((r) => r.createdDateTime as string).sort();
    const lo = times[10] as string;
    const hi = times[30] as string;
    const some = ((await client.api('/auditLogs/signIns').filter(`createdDateTime ge ${lo} and createdDateTime le ${hi}`).get()) as Collection).value;
    expect(some.length).toBe(times.filter((x) => x >= lo && x <= hi).length);
    expect(some.every((r) => (r.createdDateTime as string) >= lo && (r.createdDateTime as string) <= hi)).toBe(true);
  });

  it('answers 400 Request_UnsupportedQuery for a filter on an unsupported property', async () => {
    const t = await f.tenant();
    const e = await graphError(f.graphClient(t.tenantId).api('/auditLogs/signIns').filter("ipAddress eq '1.2.3.4'").get());
    expect(e.statusCode).toBe(400);
    expect(e.code).toBe('Request_UnsupportedQuery');
  });

  it('answers 400 for $top above the documented maximum (sign-ins 1000)', async () => {
    const t = await f.tenant();
    const e = await graphError(f.graphClient(t.tenantId).api('/auditLogs/signIns').top(1001).get());
    expect(e.statusCode).toBe(400);
  });

  it('serves directory audits with initiatedBy and targetResources modifiedProperties, filtered on activityDateTime', async () => {
    const t = await f.tenant({ licences: { entraP1: false, entraP2: false } });
    await f.control.addRecords(t.tenantId, 'graph:directoryAudits', 5);
    const page = (await f
      .graphClient(t.tenantId)
      .api('/auditLogs/directoryAudits')
      .filter(`activityDateTime ge ${new Date(Date.now() - 3600_000).toISOString()}`)
      .get()) as Collection;
    expect(page.value).toHaveLength(5);
    const r = page.value[0] as Record<string, unknown>;
    expect(r).toHaveProperty('initiatedBy');
    expect((r.targetResources as Array<{ modifiedProperties: unknown[] }>)[0]?.modifiedProperties.length).toBeGreaterThan(0);
  });

  it('answers 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant for sign-ins of a tenant without Entra ID P1/P2', async () => {
    const t = await f.tenant({ licences: { entraP1: false, entraP2: false } });
    const res = await getJson(`${f.sim.url}/v1.0/auditLogs/signIns`, await f.token(t.tenantId, GRAPH));
    expect(res.status).toBe(403);
    const b = res.body as GraphErr;
    expect(b.error.code).toBe('Authentication_RequestFromNonPremiumTenantOrB2CTenant');
    expect(Object.keys(b.error.innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
    expect(b.error.innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  });

  it('answers the licence 403 for the registration details report too', async () => {
    const t = await f.tenant({ licences: { entraP1: false, entraP2: false } });
    const e = await graphError(f.graphClient(t.tenantId).api('/reports/authenticationMethods/userRegistrationDetails').get());
    expect(e.code).toBe('Authentication_RequestFromNonPremiumTenantOrB2CTenant');
  });

  it('hides risk fields of sign-ins without Entra ID P2', async () => {
    const t = await f.tenant({ licences: { entraP1: true, entraP2: false } });
    await f.control.addRecords(t.tenantId, 'graph:signIns', 5);
    const page = (await f.graphClient(t.tenantId).api('/auditLogs/signIns').get()) as Collection;
    for (const r of page.value) {
      expect(r.riskLevelAggregated).toBe('hidden');
      expect(r.riskLevelDuringSignIn).toBe('hidden');
      expect(r.riskState).toBe('hidden');
      expect(r.riskDetail).toBe('hidden');
    }
  });

  it('answers 403 Authentication_MSGraphPermissionMissing without AuditLog.Read.All', async () => {
    const t = await f.tenant({ consent: ['Directory.Read.All'] });
    const e = await graphError(f.graphClient(t.tenantId).api('/auditLogs/signIns').get());
    expect(e.statusCode).toBe(403);
    expect(e.code).toBe('Authentication_MSGraphPermissionMissing');
  });

  it('throttles reports at 5 requests per 10 s per app and tenant with 429 and Retry-After', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, GRAPH);
    for (let i = 0; i < 5; i++) expect((await getJson(`${f.sim.url}/v1.0/auditLogs/directoryAudits`, token)).status).toBe(200);
    const res = await getJson(`${f.sim.url}/v1.0/auditLogs/signIns`, token);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect((res.body as GraphErr).error.code).toBe('TooManyRequests');
  });
});

describe('identity protection', () => {
  it('lists risky users as one latest state per user, filterable on riskLastUpdatedDateTime', async () => {
    // Throttling is not under test here (it has its own tests): off, so the second request needs no wait for a window.
    const t = await f.tenant({ users: 5, graphThrottling: false });
    await f.control.addRecords(t.tenantId, 'graph:riskyUsers', 12);
    const token = await f.token(t.tenantId, GRAPH);
    const res = await getJson(`${f.sim.url}/v1.0/identityProtection/riskyUsers?$top=500`, token);
    const value = (res.body as Collection).value;
    expect(value).toHaveLength(5);
    expect(new Set(value.map((v) => v.id)).size).toBe(5);
    const future = `${new Date(Date.now() + 3600_000).toISOString().slice(0, 19)}Z`;
    const none = await getJson(`${f.sim.url}/v1.0/identityProtection/riskyUsers?$filter=${encodeURIComponent(`riskLastUpdatedDateTime ge ${future}`)}`, token);
    expect((none.body as Collection).value).toHaveLength(0);
  });

  it('pages risk detections 20 at a time by default and rejects $top above 500', async () => {
    const t = await f.tenant({ graphThrottling: false });
    await f.control.addRecords(t.tenantId, 'graph:riskDetections', 25);
    const token = await f.token(t.tenantId, GRAPH);
    const first = (await getJson(`${f.sim.url}/v1.0/identityProtection/riskDetections`, token)).body as Collection;
    expect(first.value).toHaveLength(20);
    const second = (await getJson(first['@odata.nextLink'] ?? '', token)).body as Collection;
    expect(second.value).toHaveLength(5);
    expect(second['@odata.nextLink']).toBeUndefined();
    expect(typeof second.value[0]?.additionalInfo).toBe('string');
    expect((await getJson(`${f.sim.url}/v1.0/identityProtection/riskDetections?$top=501`, token)).status).toBe(400);
  });

  it('throttles identity protection at 1 request per second with 429 and no Retry-After', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, GRAPH);
    expect((await getJson(`${f.sim.url}/v1.0/identityProtection/riskyUsers`, token)).status).toBe(200);
    const res = await getJson(`${f.sim.url}/v1.0/identityProtection/riskDetections`, token);
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBeNull();
  });

  it('answers 403 without IdentityRiskyUser.Read.All', async () => {
    const t = await f.tenant({ consent: ['AuditLog.Read.All'] });
    const e = await graphError(f.graphClient(t.tenantId).api('/identityProtection/riskyUsers').get());
    expect(e.statusCode).toBe(403);
  });
});

describe('registration details report', () => {
  it('serves one registration record per user with MFA/SSPR fields', async () => {
    const t = await f.tenant({ users: 4 });
    await f.control.addRecords(t.tenantId, 'graph:userRegistrationDetails', 4);
    const page = (await f.graphClient(t.tenantId).api('/reports/authenticationMethods/userRegistrationDetails').get()) as Collection;
    expect(page.value).toHaveLength(4);
    for (const r of page.value) {
      expect(typeof r.isMfaRegistered).toBe('boolean');
      expect(Array.isArray(r.methodsRegistered)).toBe(true);
    }
  });
});

describe('authentication', () => {
  it('answers 401 InvalidAuthenticationToken without a token and for a Management API token', async () => {
    const t = await f.tenant();
    const none = await getJson(`${f.sim.url}/v1.0/auditLogs/signIns`);
    expect(none.status).toBe(401);
    expect((none.body as GraphErr).error.code).toBe('InvalidAuthenticationToken');
    const wrong = await getJson(`${f.sim.url}/v1.0/auditLogs/signIns`, await f.token(t.tenantId, 'https://manage.office.com'));
    expect(wrong.status).toBe(401);
    expect((wrong.body as GraphErr).error.message).toMatch(/Invalid audience/);
  });

  it('accepts a graph.microsoft.us token for a GCC High tenant', async () => {
    const t = await f.tenant({ cloud: 'gcc-high' });
    const res = await getJson(`${f.sim.url}/v1.0/auditLogs/directoryAudits`, await f.token(t.tenantId, 'https://graph.microsoft.us'));
    expect(res.status).toBe(200);
  });
});

describe('directory', () => {
  it('pages users with $top and rejects $top 1000 with the documented message', async () => {
    const t = await f.tenant({ users: 7, consent: ['User.Read.All'] });
    const token = await f.token(t.tenantId, GRAPH);
    const first = (await getJson(`${f.sim.url}/v1.0/users?$top=5`, token)).body as Collection;
    expect(first.value).toHaveLength(5);
    expect((await getJson(first['@odata.nextLink'] ?? '', token)).body as Collection).toMatchObject({ value: expect.any(Array) });
    const bad = await getJson(`${f.sim.url}/v1.0/users?$top=1000`, token);
    expect(bad.status).toBe(400);
    expect((bad.body as GraphErr).error.message).toBe("Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.");
  });

  it('answers 403 Authorization_RequestDenied for users without a directory role', async () => {
    const t = await f.tenant({ consent: ['AuditLog.Read.All'] });
    const e = await graphError(f.graphClient(t.tenantId).api('/users').get());
    expect(e.statusCode).toBe(403);
    expect(e.code).toBe('Authorization_RequestDenied');
  });

  it('describes the organization with its Entra ID premium plans', async () => {
    const t = await f.tenant({ licences: { entraP1: true, entraP2: false } });
    const org = (await f.graphClient(t.tenantId).api('/organization').get()) as Collection;
    expect(org.value[0]?.id).toBe(t.tenantId);
    expect(org.value[0]?.assignedPlans as unknown[] | undefined).toHaveLength(1);
  });
});

describe('permission auto-upgrade through appRoleAssignedTo', () => {
  it('finds the service principals, assigns a missing role, and the next token carries it', async () => {
    const t = await f.tenant({ consent: ['AppRoleAssignment.ReadWrite.All', 'Application.Read.All', 'AuditLog.Read.All'] });
    const client = f.graphClient(t.tenantId);
    const ours = (await client.api(`/servicePrincipals(appId='${f.sim.clientId}')`).select('id').get()) as { id: string };
    expect(ours.id).toBe(t.servicePrincipal?.id);
    const graphSp = (await client.api(`/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')`).select('id,appRoles').get()) as {
      id: string;
      appRoles: Array<{ id: string; value: string; allowedMemberTypes: string[] }>;
    };
    const role = graphSp.appRoles.find((r) => r.value === 'IdentityRiskyUser.Read.All');
    expect(role?.allowedMemberTypes).toContain('Application');
    const created = (await client
      .api(`/servicePrincipals/${graphSp.id}/appRoleAssignedTo`)
      .post({ principalId: ours.id, resourceId: graphSp.id, appRoleId: role?.id })) as Record<string, unknown>;
    expect(created).toMatchObject({
      appRoleId: role?.id,
      principalId: ours.id,
      resourceId: graphSp.id,
      principalType: 'ServicePrincipal',
      resourceDisplayName: 'Microsoft Graph',
    });
    expect(decodeClaims(await f.token(t.tenantId, GRAPH)).roles).toContain('IdentityRiskyUser.Read.All');
    const again = await graphError(
      client.api(`/servicePrincipals/${graphSp.id}/appRoleAssignedTo`).post({ principalId: ours.id, resourceId: graphSp.id, appRoleId: role?.id }),
    );
    expect(again.statusCode).toBe(400);
    expect(again.code).toBe('Request_BadRequest');
    expect(again.message).toBe('Permission being assigned already exists on the object.');
  });

  it('assigns a Management API role through the servicePrincipals(appId=...) form', async () => {
    const t = await f.tenant({ consent: ['AppRoleAssignment.ReadWrite.All', 'Application.Read.All'] });
    const client = f.graphClient(t.tenantId);
    const ours = (await client.api(`/servicePrincipals(appId='${f.sim.clientId}')`).get()) as { id: string };
    const mgmt = (await client.api(`/servicePrincipals(appId='c5393580-f805-4401-95e8-94b7a6ef2fc2')`).get()) as {
      id: string;
      appRoles: Array<{ id: string; value: string }>;
    };
    const role = mgmt.appRoles.find((r) => r.value === 'ActivityFeed.Read');
    const res = await client
      .api(`/servicePrincipals(appId='c5393580-f805-4401-95e8-94b7a6ef2fc2')/appRoleAssignedTo`)
      .post({ principalId: ours.id, resourceId: mgmt.id, appRoleId: role?.id });
    expect(res).toMatchObject({ resourceId: mgmt.id });
    expect(decodeClaims(await f.token(t.tenantId, 'https://manage.office.com')).roles).toEqual(['ActivityFeed.Read']);
  });

  it('answers 403 Authorization_RequestDenied to an assignment without AppRoleAssignment.ReadWrite.All', async () => {
    const t = await f.tenant({ consent: ['Application.Read.All'] });
    const client = f.graphClient(t.tenantId);
    const graphSp = (await client.api(`/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')`).get()) as {
      id: string;
      appRoles: Array<{ id: string }>;
    };
    const e = await graphError(
      client
        .api(`/servicePrincipals/${graphSp.id}/appRoleAssignedTo`)
        .post({ principalId: t.servicePrincipal?.id, resourceId: graphSp.id, appRoleId: graphSp.appRoles[0]?.id }),
    );
    expect(e.statusCode).toBe(403);
    expect(e.code).toBe('Authorization_RequestDenied');
  });

  it('answers 404 Request_ResourceNotFound for an unknown appId', async () => {
    const t = await f.tenant();
    const e = await graphError(f.graphClient(t.tenantId).api(`/servicePrincipals(appId='11111111-2222-3333-4444-555555555555')`).get());
    expect(e.statusCode).toBe(404);
    expect(e.code).toBe('Request_ResourceNotFound');
  });
});
