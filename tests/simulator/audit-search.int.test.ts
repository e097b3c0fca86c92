import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGEMENT_SOURCES } from '../../runtime/sources.ts';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { getJson, sleep, startFixture } from './fixtures/simulator-fixture.ts';

/** The Audit Search API (Graph security/auditLog/queries) as Microsoft documents it, against the simulator. */

let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('audit-search');
});
afterAll(async () => {
  await f.close();
});

const GRAPH = 'https://graph.microsoft.com';
const MANAGE = 'https://manage.office.com';
type Query = { id: string; status: string; approximateReturnedRecordCount: number; filterStartDateTime: string };
type Page = { value: Array<Record<string, unknown>>; '@odata.nextLink'?: string };
const DAY = 24 * 3_600_000;

async function post(base: string, token: string, body: unknown) {
  return getJson(`${base}/security/auditLog/queries`, token, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Polls the query until it leaves notStarted/running (the documented lifecycle), recording each status seen. */
async function untilFinished(base: string, token: string, id: string): Promise<{ query: Query; seen: string[] }> {
  const seen: string[] = [];
  for (let i = 0; i < 200; i++) {
    const res = await getJson(`${base}/security/auditLog/queries/${id}`, token);
    expect(res.status).toBe(200);
    const query = res.body as Query;
    if (seen[seen.length - 1] !== query.status) seen.push(query.status);
    if (query.status !== 'notStarted' && query.status !== 'running') return { query, seen };
    await sleep(100); // polling interval while waiting for the status to change, not a synchronisation
  }
  throw new Error(`query ${id} did not finish`);
}

async function allRecords(url: string, token: string): Promise<{ records: Array<Record<string, unknown>>; pages: number }> {
  const records: Array<Record<string, unknown>> = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    const res = await getJson(next, token);
    expect(res.status).toBe(200);
    const page = res.body as Page;
    records.push(...page.value);
    next = page['@odata.nextLink'];
    pages++;
  }
  return { records, pages };
}

async function subscribed(overrides: Parameters<SimFixture['tenant']>[0] = {}) {
  const t = await f.tenant({ auditSearch: { queuedMs: 300, runningMs: 300, outcome: 'succeeded' }, ...overrides });
  const manage = await f.token(t.tenantId, MANAGE);
  for (const source of MANAGEMENT_SOURCES) {
    const contentType = source.slice('management:'.length);
    const res = await getJson(`${f.management(t.tenantId)}/subscriptions/start?contentType=${contentType}`, manage, { method: 'POST' });
    expect(res.status).toBe(200);
  }
  return t;
}

describe('Audit Search API', () => {
  it('runs a query notStarted → running → succeeded and pages the same records the Management API serves, same Id', async () => {
    const t = await subscribed();
    for (const source of MANAGEMENT_SOURCES) await f.control.addRecords(t.tenantId, source, 70, { eventsSpanMs: DAY });
    const token = await f.token(t.tenantId, GRAPH);
    const base = `${f.sim.url}/v1.0`;
    const created = await post(base, token, {
      '@odata.type': '#microsoft.graph.security.auditLogQuery',
      displayName: 'history',
      filterStartDateTime: new Date(Date.now() - 2 * DAY).toISOString(),
      filterEndDateTime: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(created.status).toBe(201);
    const q = created.body as Query;
    expect(q.status).toBe('notStarted');
    const { query, seen } = await untilFinished(base, token, q.id);
    expect(seen).toEqual(['notStarted', 'running', 'succeeded']);
    expect(query.approximateReturnedRecordCount).toBe(350);

    const { records, pages } = await allRecords(`${base}/security/auditLog/queries/${q.id}/records`, token);
    expect(pages).toBeGreaterThan(1);
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(350);
    const ledgerIds = new Set<unknown>();
    for (const source of MANAGEMENT_SOURCES) for (const r of (await f.control.ledger(t.tenantId, source)).records) ledgerIds.add(r.id);
    expect(new Set(ids)).toEqual(ledgerIds);
    for (const r of records) {
      const data = r.auditData as Record<string, unknown>;
      expect(data.Id).toBe(r.id);
      expect(data.OrganizationId).toBe(t.tenantId);
      expect(r.service).toBe(data.Workload);
    }
    expect(records.some((r) => r.auditLogRecordType === 'azureActiveDirectoryStsLogon')).toBe(true);
  });

  it('serves history from before any subscription, which the Management API never serves', async () => {
    const t = await f.tenant({ auditSearch: { queuedMs: 0, runningMs: 0, outcome: 'succeeded' } });
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 40, { eventsSpanMs: DAY });
    const token = await f.token(t.tenantId, GRAPH);
    const base = `${f.sim.url}/beta`;
    const q = (await post(base, token, { filterStartDateTime: new Date(Date.now() - 2 * DAY).toISOString() })).body as Query;
    await untilFinished(base, token, q.id);
    const { records } = await allRecords(`${base}/security/auditLog/queries/${q.id}/records`, token);
    expect(records).toHaveLength(40);
    expect((await f.control.ledger(t.tenantId, 'management:Audit.Exchange')).records).toHaveLength(0);
  });

  it('keeps to the period asked for', async () => {
    const t = await subscribed({ auditSearch: { queuedMs: 0, runningMs: 0, outcome: 'succeeded' } });
    await f.control.addRecords(t.tenantId, 'management:Audit.SharePoint', 100, { eventsSpanMs: 10 * DAY });
    const token = await f.token(t.tenantId, GRAPH);
    const base = `${f.sim.url}/v1.0`;
    const from = Date.now() - 3 * DAY;
    const q = (await post(base, token, { filterStartDateTime: new Date(from).toISOString() })).body as Query;
    await untilFinished(base, token, q.id);
    const { records } = await allRecords(`${base}/security/auditLog/queries/${q.id}/records`, token);
    const ledger = (await f.control.ledger(t.tenantId, 'management:Audit.SharePoint')).records;
    expect(records.length).toBe(ledger.filter((r) => Date.parse(r.eventTime) >= from).length);
    expect(records.length).toBeLessThan(100);
    expect(records.every((r) => Date.parse(r.createdDateTime as string) >= from - 1000)).toBe(true);
  });

  it('reports a failed query as failed, and its records are not served', async () => {
    const t = await f.tenant({ auditSearch: { queuedMs: 0, runningMs: 200, outcome: 'failed' } });
    const token = await f.token(t.tenantId, GRAPH);
    const base = `${f.sim.url}/v1.0`;
    const q = (await post(base, token, {})).body as Query;
    const { seen } = await untilFinished(base, token, q.id);
    expect(seen[seen.length - 1]).toBe('failed');
    expect((await getJson(`${base}/security/auditLog/queries/${q.id}/records`, token)).status).toBe(400);
  });

  it('needs an AuditLogsQuery permission', async () => {
    const t = await f.tenant({ consent: ['AuditLog.Read.All'] });
    const res = await post(`${f.sim.url}/v1.0`, await f.token(t.tenantId, GRAPH), {});
    expect(res.status).toBe(403);
  });

  for (const [cloud, resource] of [
    ['gcc-high', 'https://graph.microsoft.us'],
    ['dod', 'https://dod-graph.microsoft.us'],
  ] as const) {
    it(`${cloud}: not offered (global service only)`, async () => {
      const t = await f.tenant({ cloud });
      const res = await post(`${f.sim.url}/v1.0`, await f.token(t.tenantId, resource), {});
      expect(res.status).toBe(400);
      expect((res.body as { error: { code: string } }).error.code).toBe('BadRequest');
    });
  }

  it('answers 429 beyond 50 unfinished queries of a tenant (the documented baseline)', async () => {
    const t = await f.tenant({ auditSearch: { queuedMs: 600_000, runningMs: 0, outcome: 'succeeded' } });
    const token = await f.token(t.tenantId, GRAPH);
    const base = `${f.sim.url}/v1.0`;
    for (let i = 0; i < 50; i++) expect((await post(base, token, {})).status).toBe(201);
    const res = await post(base, token, {});
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0);
  });

  it('rejects a malformed period with 400, not 5xx', async () => {
    const t = await f.tenant();
    const res = await post(`${f.sim.url}/v1.0`, await f.token(t.tenantId, GRAPH), { filterStartDateTime: 'yesterday' });
    expect(res.status).toBe(400);
  });
});
