import { GraphError } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceName } from '../../runtime/sources.ts';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { rejectionOf, startFixture } from './fixtures/simulator-fixture.ts';

/**
 * The four sign-in types as Microsoft documents them: v1.0 List signIns returns interactive user sign-ins only and is
 * not offered in US Government L4/L5; beta serves every type with `$filter=signInEventTypes/any(t: t eq '…')`.
 */
let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('sign-in-types');
});
afterAll(async () => {
  await f.close();
});

type Collection = { '@odata.context': string; '@odata.nextLink'?: string; value: Array<Record<string, unknown>> };
const byType = (type: string) => `signInEventTypes/any(t: t eq '${type}')`;
const TYPES: Array<[string, SourceName]> = [
  ['interactiveUser', 'graph:signIns'],
  ['nonInteractiveUser', 'graph:nonInteractiveSignIns'],
  ['servicePrincipal', 'graph:servicePrincipalSignIns'],
  ['managedIdentity', 'graph:managedIdentitySignIns'],
];

async function tenantWithEveryType(overrides: Parameters<SimFixture['tenant']>[0] = {}) {
  const t = await f.tenant({ graphThrottling: false, ...overrides });
  for (const [i, [, source]] of TYPES.entries()) await f.control.addRecords(t.tenantId, source, 5 + i);
  return t;
}

describe('sign-in types', () => {
  it('v1.0 serves interactive user sign-ins only, without the beta properties', async () => {
    const t = await tenantWithEveryType();
    const all = ((await f.graphClient(t.tenantId).api('/auditLogs/signIns').get()) as Collection).value;
    const interactive = await f.control.ledger(t.tenantId, 'graph:signIns');
    expect(new Set(all.map((r) => r.id))).toEqual(new Set(interactive.records.map((r) => r.id)));
    expect(all.every((r) => r.isInteractive === true && !('signInEventTypes' in r))).toBe(true);
  });

  it('v1.0 has no signInEventTypes property to filter on', async () => {
    const t = await f.tenant();
    const e = await rejectionOf(f.graphClient(t.tenantId).api('/auditLogs/signIns').filter(byType('servicePrincipal')).get(), GraphError);
    expect(e.statusCode).toBe(400);
    expect(e.message).toMatch(/signInEventTypes/);
  });

  it('beta serves each type under its filter, records carrying their type, paged with beta next links', async () => {
    const t = await tenantWithEveryType();
    const client = f.graphClient(t.tenantId);
    for (const [type, source] of TYPES) {
      const first = (await client.api('/auditLogs/signIns').version('beta').filter(byType(type)).top(2).get()) as Collection;
      expect(first['@odata.context']).toBe(`${f.sim.url}/beta/$metadata#auditLogs/signIns`);
      expect(first['@odata.nextLink']).toMatch(new RegExp(`^${f.sim.url}/beta/auditLogs/signIns\\?`));
      const records = [...first.value];
      let next = first['@odata.nextLink'];
      while (next) {
        const page = (await client.api(next).get()) as Collection;
        records.push(...page.value);
        next = page['@odata.nextLink'];
      }
      const ledger = await f.control.ledger(t.tenantId, source);
      expect(records.map((r) => r.id).sort(), type).toEqual(ledger.records.map((r) => r.id).sort());
      expect(
        records.every((r) => JSON.stringify(r.signInEventTypes) === JSON.stringify([type])),
        type,
      ).toBe(true);
      expect(
        records.every((r) => r.isInteractive === (type === 'interactiveUser')),
        type,
      ).toBe(true);
    }
  });

  it('beta without a type filter serves interactive sign-ins, and a date filter combines with the type filter', async () => {
    const t = await tenantWithEveryType();
    const client = f.graphClient(t.tenantId);
    const plain = ((await client.api('/auditLogs/signIns').version('beta').get()) as Collection).value;
    expect(plain.every((r) => JSON.stringify(r.signInEventTypes) === '["interactiveUser"]')).toBe(true);
    const sp = ((await client.api('/auditLogs/signIns').version('beta').filter(byType('servicePrincipal')).get()) as Collection).value;
    const times = sp.map((r) => r.createdDateTime as string).sort();
    const from = times[3] as string;
    const later = (
      (await client
        .api('/auditLogs/signIns')
        .version('beta')
        .filter(`createdDateTime ge ${from} and ${byType('servicePrincipal')}`)
        .get()) as Collection
    ).value;
    expect(later.length).toBe(times.filter((x) => x >= from).length);
  });

  it('workload sign-ins name their service principal and carry no user; managed identities their msiType', async () => {
    const t = await tenantWithEveryType();
    const client = f.graphClient(t.tenantId);
    const sp = ((await client.api('/auditLogs/signIns').version('beta').filter(byType('servicePrincipal')).get()) as Collection).value;
    const mi = ((await client.api('/auditLogs/signIns').version('beta').filter(byType('managedIdentity')).get()) as Collection).value;
    for (const r of [...sp, ...mi]) {
      expect(r.servicePrincipalId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.userId).toBe('');
      expect(r.userPrincipalName).toBeNull();
    }
    expect(sp.every((r) => ['clientSecret', 'certificate', 'clientAssertion'].includes(r.clientCredentialType as string))).toBe(true);
    expect(mi.every((r) => ['systemAssigned', 'userAssigned'].includes((r.managedServiceIdentity as { msiType: string }).msiType))).toBe(true);
  });

  it('rejects an unknown sign-in type', async () => {
    const t = await f.tenant();
    const e = await rejectionOf(f.graphClient(t.tenantId).api('/auditLogs/signIns').version('beta').filter(byType('robot')).get(), GraphError);
    expect(e.statusCode).toBe(400);
  });

  for (const cloud of ['gcc-high', 'dod'] as const) {
    it(`${cloud}: v1.0 List signIns is not offered; beta serves all four types`, async () => {
      const t = await tenantWithEveryType({ cloud });
      const resource = cloud === 'dod' ? 'https://dod-graph.microsoft.us' : 'https://graph.microsoft.us';
      const client = f.graphClient(t.tenantId, resource);
      const e = await rejectionOf(client.api('/auditLogs/signIns').get(), GraphError);
      expect(e.statusCode).toBe(400);
      for (const [type, source] of TYPES) {
        const got = ((await client.api('/auditLogs/signIns').version('beta').filter(byType(type)).get()) as Collection).value;
        expect(got.length, type).toBe((await f.control.ledger(t.tenantId, source)).records.length);
      }
      // Other collections stay on v1.0 there.
      await expect(client.api('/auditLogs/directoryAudits').get()).resolves.toBeDefined();
    });
  }
});
