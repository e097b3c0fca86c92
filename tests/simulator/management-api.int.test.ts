import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimTenant } from '../../simulator/index.ts';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { getJson, startFixture } from './fixtures/simulator-fixture.ts';

let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('management');
});
afterAll(async () => {
  await f.close();
});

const MANAGE = 'https://manage.office.com';
type ContentItem = { contentType: string; contentId: string; contentUri: string; contentCreated: string; contentExpiration: string };
type AfError = { error: { code: string; message: string } };

async function ready(
  overrides: Parameters<SimFixture['tenant']>[0] = {},
  contentType = 'Audit.Exchange',
): Promise<{ t: SimTenant; token: string; base: string }> {
  const t = await f.tenant(overrides);
  const token = await f.token(t.tenantId, MANAGE);
  const base = f.management(t.tenantId);
  const start = await getJson(`${base}/subscriptions/start?contentType=${contentType}`, token, { method: 'POST' });
  expect(start.status).toBe(200);
  return { t, token, base };
}

async function listAll(url: string, token: string): Promise<{ items: ContentItem[]; pages: number }> {
  const items: ContentItem[] = [];
  let next: string | null = url;
  let pages = 0;
  while (next) {
    const res = await getJson(next, token);
    expect(res.status).toBe(200);
    items.push(...(res.body as ContentItem[]));
    next = res.headers.get('NextPageUri');
    pages++;
  }
  return { items, pages };
}

async function blobRecords(items: ContentItem[], token: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const item of items) {
    const res = await getJson(item.contentUri, token);
    expect(res.status).toBe(200);
    out.push(...(res.body as Array<Record<string, unknown>>));
  }
  return out;
}

describe('subscriptions', () => {
  it('starts a subscription and answers the subscription object', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, MANAGE);
    const res = await getJson(`${f.management(t.tenantId)}/subscriptions/start?contentType=Audit.SharePoint&PublisherIdentifier=${t.tenantId}`, token, {
      method: 'POST',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ contentType: 'Audit.SharePoint', status: 'enabled', webhook: null });
  });

  it('answers 400 AF20024 when starting an already enabled subscription without changes', async () => {
    const { token, base } = await ready();
    const res = await getJson(`${base}/subscriptions/start?contentType=Audit.Exchange`, token, { method: 'POST' });
    expect(res.status).toBe(400);
    expect((res.body as AfError).error.code).toBe('AF20024');
  });

  it('records a webhook and rejects a non-HTTPS address with AF20021', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, MANAGE);
    const base = f.management(t.tenantId);
    const ok = await getJson(`${base}/subscriptions/start?contentType=Audit.General`, token, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ webhook: { address: 'https://hooks.example/o365', authId: 'abc', expiration: '' } }),
    });
    expect(ok.body).toEqual({
      contentType: 'Audit.General',
      status: 'enabled',
      webhook: { status: 'enabled', address: 'https://hooks.example/o365', authId: 'abc', expiration: null },
    });
    const bad = await getJson(`${base}/subscriptions/start?contentType=DLP.All`, token, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ webhook: { address: 'http://hooks.example/o365' } }),
    });
    expect(bad.status).toBe(400);
    expect((bad.body as AfError).error.code).toBe('AF20021');
  });

  it('lists subscriptions as a JSON array', async () => {
    const { token, base } = await ready();
    const res = await getJson(`${base}/subscriptions/list`, token);
    expect(res.body).toEqual([{ contentType: 'Audit.Exchange', status: 'enabled', webhook: null }]);
  });

  it('stops a subscription with 200 and an empty body; listing content then answers AF20023', async () => {
    const { token, base } = await ready();
    const stop = await fetch(`${base}/subscriptions/stop?contentType=Audit.Exchange`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect(stop.status).toBe(200);
    expect(await stop.text()).toBe('');
    const res = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(res.status).toBe(400);
    expect((res.body as AfError).error.code).toBe('AF20023');
  });

  it('answers AF20023 when a tenant admin disabled the subscription', async () => {
    const { t, token, base } = await ready();
    await f.control.disableSubscription(t.tenantId, 'Audit.Exchange');
    const res = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect((res.body as AfError).error.code).toBe('AF20023');
  });

  it('answers AF20022 when listing content without a subscription', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, MANAGE);
    const res = await getJson(`${f.management(t.tenantId)}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(res.status).toBe(400);
    expect((res.body as AfError).error.code).toBe('AF20022');
  });

  it('answers AF20020 for an unknown content type and AF20001 when it is missing', async () => {
    const { token, base } = await ready();
    expect(((await getJson(`${base}/subscriptions/content?contentType=Audit.Teams`, token)).body as AfError).error.code).toBe('AF20020');
    expect(((await getJson(`${base}/subscriptions/content`, token)).body as AfError).error.code).toBe('AF20001');
  });

  it('answers the DataServiceException text when unified audit logging is off', async () => {
    const t = await f.tenant({ auditLogging: false });
    const token = await f.token(t.tenantId, MANAGE);
    const res = await getJson(`${f.management(t.tenantId)}/subscriptions/start?contentType=Audit.Exchange`, token, { method: 'POST' });
    expect(res.status).toBe(400);
    const e = (res.body as AfError).error;
    expect(e.code).toMatch(
      /^StartSubscription \[CorrId=.*\]\[TenantId=.*,ContentType=Audit.Exchange,ApplicationId=.*,PublisherId=00000000-0000-0000-0000-000000000000\]\[AppId$/,
    );
    expect(e.message).toContain(`Microsoft.Office.Compliance.Audit.DataServiceException: Tenant ${t.tenantId} does not exist.`);
  });
});

describe('authorization', () => {
  it('answers 401 without a bearer token', async () => {
    const t = await f.tenant();
    const res = await getJson(`${f.management(t.tenantId)}/subscriptions/list`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ Message: 'Authorization has been denied for this request.' });
  });

  it('answers 401 for a token of another audience (Graph)', async () => {
    const t = await f.tenant();
    const graphToken = await f.token(t.tenantId, 'https://graph.microsoft.com');
    expect((await getJson(`${f.management(t.tenantId)}/subscriptions/list`, graphToken)).status).toBe(401);
  });

  it('answers AF20010 when the URL tenant differs from the token tenant', async () => {
    const a = await f.tenant();
    const b = await f.tenant();
    const tokenA = await f.token(a.tenantId, MANAGE);
    const res = await getJson(`${f.management(b.tenantId)}/subscriptions/list`, tokenA);
    expect((res.body as AfError).error.code).toBe('AF20010');
  });

  it('answers AF20013 when the URL tenant is not a GUID', async () => {
    const t = await f.tenant();
    const token = await f.token(t.tenantId, MANAGE);
    const res = await getJson(`${f.sim.url}/api/v1.0/contoso.example/activity/feed/subscriptions/list`, token);
    expect((res.body as AfError).error.code).toBe('AF20013');
  });

  it('answers AF10001 naming the permission set when ActivityFeed.Read is not granted', async () => {
    const t = await f.tenant({ consent: ['ServiceHealth.Read'] });
    const token = await f.token(t.tenantId, MANAGE);
    const res = await getJson(`${f.management(t.tenantId)}/subscriptions/list`, token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: { code: 'AF10001', message: 'The permission set (ServiceHealth.Read) sent in the request does not include the expected permission.' },
    });
  });

  it('accepts a GCC token (aud manage-gcc.office.com) for a GCC tenant', async () => {
    const t = await f.tenant({ cloud: 'gcc' });
    const token = await f.token(t.tenantId, 'https://manage-gcc.office.com');
    expect((await getJson(`${f.management(t.tenantId)}/subscriptions/list`, token)).status).toBe(200);
  });

  it('throttles with HTTP 403 AF429 echoing the PublisherId (all zeros when missing)', async () => {
    const { token, base } = await ready({ managementRequestsPerMinute: 3 });
    await getJson(`${base}/subscriptions/list`, token);
    await getJson(`${base}/subscriptions/list`, token);
    const res = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: { code: 'AF429', message: 'Too many requests. Method=ListContent, PublisherId=00000000-0000-0000-0000-000000000000' } });
  });
});

describe('content listing', () => {
  it('lists content items pointing back at the simulator with contentExpiration = created + 7 days', async () => {
    const { t, token, base } = await ready();
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 3);
    const { items } = await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(items).toHaveLength(1);
    const item = items[0] as ContentItem;
    expect(item.contentType).toBe('Audit.Exchange');
    expect(item.contentId).toContain('$');
    expect(item.contentUri).toBe(`${base}/audit/${item.contentId}`);
    expect(Date.parse(item.contentExpiration) - Date.parse(item.contentCreated)).toBe(7 * 24 * 3600_000);
  });

  it('hides content until its publication delay has passed', async () => {
    const { t, token, base } = await ready({ publicationDelayMs: [60_000, 60_000] });
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 2);
    expect((await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token)).items).toHaveLength(0);
    await f.control.advanceClock(61_000);
    const fresh = await f.token(t.tenantId, MANAGE);
    expect((await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, fresh)).items).toHaveLength(1);
  });

  it('filters on contentCreated with an inclusive start and an exclusive end', async () => {
    const { t, token, base } = await ready();
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 1);
    const [item] = (await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token)).items;
    const created = Date.parse(item?.contentCreated ?? '');
    const fmt = (ms: number) => new Date(ms).toISOString().replace('Z', '');
    const incl = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${fmt(created)}&endTime=${fmt(created + 60_000)}`, token);
    expect(incl.body as ContentItem[]).toHaveLength(1);
    const excl = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${fmt(created - 60_000)}&endTime=${fmt(created)}`, token);
    expect(excl.body as ContentItem[]).toHaveLength(0);
  });

  it('accepts YYYY-MM-DD, YYYY-MM-DDTHH:MM and YYYY-MM-DDTHH:MM:SS', async () => {
    const { token, base } = await ready();
    const d = new Date(Date.now() - 3600_000).toISOString();
    const e = new Date(Date.now() + 3600_000).toISOString();
    for (const [s, en] of [
      [d.slice(0, 16), e.slice(0, 16)],
      [d.slice(0, 19), e.slice(0, 19)],
    ] as const) {
      expect((await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${s}&endTime=${en}`, token)).status).toBe(200);
    }
    const day = new Date(Date.now() - 24 * 3600_000).toISOString().slice(0, 10);
    const next = new Date(Date.parse(day) + 24 * 3600_000).toISOString().slice(0, 10);
    expect((await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${day}&endTime=${next}`, token)).status).toBe(200);
  });

  it('answers AF20030 when only one of startTime/endTime is given or start is not before end', async () => {
    const { token, base } = await ready();
    const s = new Date().toISOString().slice(0, 19);
    expect(((await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${s}`, token)).body as AfError).error.code).toBe('AF20030');
    expect(((await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${s}&endTime=${s}`, token)).body as AfError).error.code).toBe(
      'AF20030',
    );
  });

  it('answers AF20055 for a window longer than 24 hours or starting more than 7 days ago', async () => {
    const { token, base } = await ready();
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);
    const now = Date.now();
    const long = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${iso(now - 25 * 3600_000)}&endTime=${iso(now)}`, token);
    expect(long.status).toBe(400);
    expect((long.body as AfError).error.code).toBe('AF20055');
    const old = await getJson(
      `${base}/subscriptions/content?contentType=Audit.Exchange&startTime=${iso(now - 8 * 24 * 3600_000)}&endTime=${iso(now - 7.5 * 24 * 3600_000)}`,
      token,
    );
    expect((old.body as AfError).error.code).toBe('AF20055');
  });

  it('pages with the NextPageUri header until a response comes without it', async () => {
    const { t, token, base } = await ready({ contentPageSize: 2, recordsPerBlob: 1 });
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 5);
    const first = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&PublisherIdentifier=${t.tenantId}`, token);
    const next = first.headers.get('NextPageUri') ?? '';
    expect(next).toMatch(
      new RegExp(
        `^${base.replace(/[.$]/g, '\\$&')}/subscriptions/content\\?contentType=Audit.Exchange&startTime=.+&endTime=.+&PublisherIdentifier=${t.tenantId}&nextPage=`,
      ),
    );
    const { items, pages } = await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(pages).toBe(3);
    expect(new Set(items.map((i) => i.contentId)).size).toBe(5);
  });

  it('answers AF20031 for an invalid nextPage', async () => {
    const { token, base } = await ready();
    const res = await getJson(`${base}/subscriptions/content?contentType=Audit.Exchange&nextPage=garbage`, token);
    expect((res.body as AfError).error.code).toBe('AF20031');
  });
});

describe('content blobs', () => {
  it('serves records of the tenant with zone-less CreationTime and the PublisherIdentifier parameter accepted', async () => {
    const { t, token, base } = await ready({}, 'Audit.AzureActiveDirectory');
    await f.control.addRecords(t.tenantId, 'management:Audit.AzureActiveDirectory', 20);
    const { items } = await listAll(`${base}/subscriptions/content?contentType=Audit.AzureActiveDirectory`, token);
    const res = await getJson(`${items[0]?.contentUri}?PublisherIdentifier=${t.tenantId}`, token);
    expect(res.status).toBe(200);
    const records = res.body as Array<Record<string, unknown>>;
    expect(records).toHaveLength(20);
    for (const r of records) {
      expect(r.OrganizationId).toBe(t.tenantId);
      expect(r.CreationTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      expect(r.Id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('answers AF20052 for a malformed content id and AF20050 for an unknown one', async () => {
    const { token, base } = await ready();
    expect(((await getJson(`${base}/audit/not-a-content-id`, token)).body as AfError).error.code).toBe('AF20052');
    const fake = `1700000000$1700000000$${'a'.repeat(32)}exo2023111400$${'b'.repeat(32)}$00`;
    expect(((await getJson(`${base}/audit/${fake}`, token)).body as AfError).error.code).toBe('AF20050');
  });

  it('refuses a start within 15 minutes of the last (429 AF429 naming the wait), never a stop, and counts both', async () => {
    const own = await startFixture('management-start-interval');
    try {
      const t = await own.tenant();
      const token = await own.token(t.tenantId, MANAGE);
      const base = own.management(t.tenantId);
      const start = () => getJson(`${base}/subscriptions/start?contentType=Audit.General`, token, { method: 'POST' });
      expect((await start()).status).toBe(200);
      const stop = await fetch(`${base}/subscriptions/stop?contentType=Audit.General`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      expect(stop.status).toBe(200);
      await own.control.advanceClock(60_000);
      const early = await start();
      expect(early.status).toBe(429);
      expect((early.body as AfError).error.code).toBe('AF429');
      expect((early.body as AfError).error.message).toMatch(/^Too many frequent subscription start requests\. Please retry again after 14m 0s$/);
      await own.control.advanceClock(14 * 60_000);
      const fresh = await own.token(t.tenantId, MANAGE);
      const later = await getJson(`${base}/subscriptions/start?contentType=Audit.General`, fresh, { method: 'POST' });
      expect(later.status).toBe(200);
      expect((await own.control.getTenant(t.tenantId)).startRequests['Audit.General']).toEqual({ answered: 2, refused: 1 });
    } finally {
      await own.close();
    }
  });

  it('answers AF20051 for content older than 7 days', async () => {
    const own = await startFixture('management-expiry');
    try {
      const t = await own.tenant();
      const token = await own.token(t.tenantId, MANAGE);
      const base = own.management(t.tenantId);
      await getJson(`${base}/subscriptions/start?contentType=Audit.Exchange`, token, { method: 'POST' });
      await own.control.addRecords(t.tenantId, 'management:Audit.Exchange', 1);
      const [item] = (await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token)).items;
      await own.control.advanceClock(7 * 24 * 3600_000 + 1000);
      const fresh = await own.token(t.tenantId, MANAGE);
      const res = await getJson(item?.contentUri ?? '', fresh);
      expect(res.status).toBe(400);
      expect((res.body as AfError).error.code).toBe('AF20051');
    } finally {
      await own.close();
    }
  });

  it('serves duplicates within and across blobs at duplicateRate, all ids in the ledger', async () => {
    const { t, token, base } = await ready({ duplicateRate: 0.5, recordsPerBlob: 10 });
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 50);
    const { items } = await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    const records = await blobRecords(items, token);
    const ids = records.map((r) => r.Id as string);
    expect(ids.length).toBeGreaterThan(50);
    const ledger = await f.control.ledger(t.tenantId, 'management:Audit.Exchange');
    expect(new Set(ids)).toEqual(new Set(ledger.records.map((r) => r.id)));
    expect(ledger.records).toHaveLength(50);
  });

  it('prerender renders the blobs when the records are added: the same records are served, and it is refused for Graph sources', async () => {
    const { t, token, base } = await ready({ recordsPerBlob: 10 });
    const added = await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 30, { prerender: true });
    expect(added.count).toBe(30);
    const { items } = await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(items).toHaveLength(3);
    const ids = (await blobRecords(items, token)).map((r) => r.Id as string);
    const ledger = await f.control.ledger(t.tenantId, 'management:Audit.Exchange');
    expect(ids.sort()).toEqual(ledger.records.map((r) => r.id).sort());
    const graph = await f.control.addRecords(t.tenantId, 'graph:signIns', 3, { prerender: true }).then(
      () => null,
      (e: unknown) => e as { status: number; body: { error: { field: string } } },
    );
    expect(graph?.status).toBe(400);
    expect(graph?.body.error.field).toBe('prerender');
  });

  it('re-serves old records under a new content id at reserveRate', async () => {
    const { t, token, base } = await ready({ reserveRate: 1, recordsPerBlob: 5 });
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 5);
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 5);
    const { items } = await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token);
    expect(items.length).toBe(4);
    const blobs = await Promise.all(items.map(async (i) => (await getJson(i.contentUri, token)).body as Array<Record<string, unknown>>));
    const perBlob = blobs.map((b) =>
      b
        .map((r) => r.Id as string)
        .sort()
        .join(),
    );
    expect(new Set(perBlob).size).toBeLessThan(items.length);
    // The re-delivered copies carry the same Id but not the same JSON field order.
    const keyOrders = new Map<string, Set<string>>();
    for (const r of blobs.flat()) {
      const orders = keyOrders.get(r.Id as string) ?? new Set<string>();
      orders.add(Object.keys(r).join());
      keyOrders.set(r.Id as string, orders);
    }
    expect([...keyOrders.values()].some((o) => o.size > 1)).toBe(true);
  });

  it('keeps blob records in event-time order unless outOfOrder is on', async () => {
    const sorted = (rs: Array<Record<string, unknown>>) => rs.map((r) => r.CreationTime as string).every((c, i, a) => i === 0 || (a[i - 1] as string) <= c);
    const inOrder = await ready({ recordsPerBlob: 100 });
    await f.control.addRecords(inOrder.t.tenantId, 'management:Audit.Exchange', 100);
    const a = await blobRecords((await listAll(`${inOrder.base}/subscriptions/content?contentType=Audit.Exchange`, inOrder.token)).items, inOrder.token);
    expect(sorted(a)).toBe(true);
    const shuffled = await ready({ recordsPerBlob: 100, outOfOrder: true });
    await f.control.addRecords(shuffled.t.tenantId, 'management:Audit.Exchange', 100);
    const b = await blobRecords((await listAll(`${shuffled.base}/subscriptions/content?contentType=Audit.Exchange`, shuffled.token)).items, shuffled.token);
    expect(sorted(b)).toBe(false);
  });

  it('omits DLP sensitive information unless ActivityFeed.ReadDlp is granted', async () => {
    const withDlp = await ready({}, 'DLP.All');
    await f.control.addRecords(withDlp.t.tenantId, 'management:DLP.All', 10);
    const a = await blobRecords((await listAll(`${withDlp.base}/subscriptions/content?contentType=DLP.All`, withDlp.token)).items, withDlp.token);
    expect(JSON.stringify(a)).toContain('SensitiveInformation');
    const without = await ready({ consent: ['ActivityFeed.Read'] }, 'DLP.All');
    await f.control.addRecords(without.t.tenantId, 'management:DLP.All', 10);
    const b = await blobRecords((await listAll(`${without.base}/subscriptions/content?contentType=DLP.All`, without.token)).items, without.token);
    expect(JSON.stringify(b)).not.toContain('SensitiveInformation');
  });

  it('only serves content created while a subscription was collecting', async () => {
    const t = await f.tenant();
    await f.control.addRecords(t.tenantId, 'management:Audit.Exchange', 3);
    const token = await f.token(t.tenantId, MANAGE);
    const base = f.management(t.tenantId);
    await getJson(`${base}/subscriptions/start?contentType=Audit.Exchange`, token, { method: 'POST' });
    expect((await listAll(`${base}/subscriptions/content?contentType=Audit.Exchange`, token)).items).toHaveLength(0);
    const ledger = await f.control.ledger(t.tenantId, 'management:Audit.Exchange');
    expect(ledger.records).toHaveLength(0);
    expect(ledger.notCollected).toBe(3);
  });
});
