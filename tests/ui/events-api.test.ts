import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEventsSearch, eventsQuerySchema, eventsRouter, summarizeHit } from '../../control-plane/events-api.ts';
import type { OpenSearchClient } from '../../runtime/index.ts';

describe('buildEventsSearch', () => {
  it('always filters by the organization, newest first', () => {
    const body = buildEventsSearch('org-a', eventsQuerySchema.parse({})) as { query: { bool: { filter: unknown[] } }; sort: unknown; size: number };
    expect(body.query.bool.filter).toEqual([{ term: { 'organization.id': 'org-a' } }]);
    expect(body.size).toBe(50);
    expect(JSON.stringify(body.sort)).toContain('desc');
  });

  it('adds each filter, the user one case-insensitive over name and e-mail, wildcards escaped', () => {
    const q = eventsQuerySchema.parse({
      dataset: 'azure.signinlogs',
      action: 'FileAccessed',
      outcome: 'failure',
      user: 'Al*ce',
      from: '2026-11-26T00:00:00Z',
      to: '2026-11-26T08:00:00Z',
      size: '10',
    });
    const body = buildEventsSearch('org-a', q) as { query: { bool: { filter: Array<Record<string, unknown>> } }; size: number };
    const text = JSON.stringify(body.query.bool.filter);
    expect(body.query.bool.filter[0]).toEqual({ term: { 'organization.id': 'org-a' } });
    expect(text).toContain('"event.dataset":"azure.signinlogs"');
    expect(text).toContain('"event.action":{"value":"FileAccessed","case_insensitive":true}');
    expect(text).toContain('"event.outcome":"failure"');
    // OpenSearch gets the normalized instant, never the caller's text.
    expect(text).toContain('"gte":"2026-11-26T00:00:00.000Z"');
    expect(text).toContain('"lte":"2026-11-26T08:00:00.000Z"');
    expect(text).toContain('*Al\\\\*ce*');
    expect(body.size).toBe(10);
  });

  it('refuses bad filters', () => {
    expect(eventsQuerySchema.safeParse({ size: '0' }).success).toBe(false);
    expect(eventsQuerySchema.safeParse({ size: '501' }).success).toBe(false);
    expect(eventsQuerySchema.safeParse({ outcome: 'maybe' }).success).toBe(false);
    expect(eventsQuerySchema.safeParse({ from: 'yesterday' }).success).toBe(false);
    expect(eventsQuerySchema.safeParse({ from: '2026-11-27T00:00:00Z', to: '2026-11-26T00:00:00Z' }).success).toBe(false);
  });

  it.each([
    '2026-02-30',
    '2026-02-29',
    '2026-13-01',
    '2026-00-10',
    '2026-04-31T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T10:60Z',
    '2026-01-01 10:00',
    '2026-01-01T10:00:00+15:00',
    '2026-01-01garbage',
    '+275760-09-13',
  ])('refuses the impossible or ambiguous date %s', (from) => {
    const parsed = eventsQuerySchema.safeParse({ from });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['from']);
  });

  it('reads a date alone as the whole UTC day and an offset as the instant it names', () => {
    expect(eventsQuerySchema.parse({ from: '2028-02-29', to: '2028-02-29' })).toMatchObject({
      from: '2028-02-29T00:00:00.000Z',
      to: '2028-02-29T23:59:59.999Z',
    });
    expect(eventsQuerySchema.parse({ from: '2026-11-26T09:30:00.25+02:00' }).from).toBe('2026-11-26T07:30:00.250Z');
    expect(eventsQuerySchema.parse({ from: '2026-11-26T07:00' }).from).toBe('2026-11-26T07:00:00.000Z');
  });

  it('refuses an unknown parameter instead of silently widening the search', () => {
    const parsed = eventsQuerySchema.safeParse({ usr: 'alice' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.code).toBe('unrecognized_keys');
  });
});

describe('summarizeHit', () => {
  it('pulls the columns from a nested document', () => {
    const s = summarizeHit({
      _id: 'x1',
      _source: {
        '@timestamp': '2026-11-26T07:00:00Z',
        event: { dataset: 'o365.audit', action: 'FileAccessed', outcome: 'success', category: ['file'] },
        user: { name: 'alice' },
        source: { ip: '10.0.0.1' },
      },
    });
    expect(s).toMatchObject({
      id: 'x1',
      dataset: 'o365.audit',
      action: 'FileAccessed',
      outcome: 'success',
      category: ['file'],
      user: 'alice',
      sourceIp: '10.0.0.1',
    });
  });
});

describe('eventsRouter', () => {
  const calls: Array<Record<string, unknown>> = [];
  let fail: Error | null = null;
  const fakeClient = {
    search: async (params: Record<string, unknown>) => {
      calls.push(params);
      if (fail) throw fail;
      return {
        body: { hits: { total: { value: 1 }, hits: [{ _id: 'e1', _source: { event: { dataset: 'azure.signinlogs' }, organization: { id: 'org-a' } } }] } },
      };
    },
  } as unknown as OpenSearchClient;
  let base = '';
  let server: ReturnType<express.Express['listen']>;

  beforeAll(async () => {
    const app = express();
    const requireViewer: express.RequestHandler = (req, res, next) => {
      if (req.headers.authorization !== 'Bearer viewer') {
        res.status(401).json({ error: { code: 'unauthorized', message: 'missing token' } });
        return;
      }
      next();
    };
    app.use(eventsRouter({ openSearch: fakeClient, indexAlias: 'siem-events-test', requireViewer }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const get = (path: string, token = 'viewer') => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('requires the viewer check', async () => {
    expect((await get('/api/v1/organizations/org-a/events', 'nope')).status).toBe(401);
  });

  it('queries the alias filtered by the organization and answers the summary', async () => {
    calls.length = 0;
    const res = await get('/api/v1/organizations/org-a/events?dataset=azure.signinlogs&user=');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { total: number; events: Array<{ id: string; dataset: string }> };
    expect(body).toMatchObject({ total: 1, events: [{ id: 'e1', dataset: 'azure.signinlogs' }] });
    expect(calls[0]?.index).toBe('siem-events-test');
    expect(JSON.stringify(calls[0]?.body)).toContain('"organization.id":"org-a"');
  });

  it('answers a bad filter with 400 naming the field', async () => {
    const res = await get('/api/v1/organizations/org-a/events?size=9999');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', field: 'size' } });
  });

  it('answers 503 with words when OpenSearch is down', async () => {
    fail = Object.assign(new Error('connect ECONNREFUSED'), { name: 'ConnectionError' });
    const res = await get('/api/v1/organizations/org-a/events');
    fail = null;
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'opensearch_unavailable' } });
  });
});
