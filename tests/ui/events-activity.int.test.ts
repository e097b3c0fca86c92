import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityOf, activityRouter, hourlyWindow } from '../../control-plane/events-activity.ts';
import type { FleetActivity, HourlyActivity } from '../../control-plane/openapi.ts';
import { indexProperties } from '../../schemas/opensearch/index.ts';
import { testOpenSearchClient } from '../helpers/clients.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-30T12:30:00Z');

describe('activityOf (decision 0181)', () => {
  it('is quiet past max(4 usual gaps, 2 h), never without events', () => {
    // 168 events in 7 days: a usual gap of one hour, quiet after 4 h.
    expect(activityOf('a', NOW - 3 * HOUR, 168, NOW)).toMatchObject({ usualGapMs: HOUR, quiet: false });
    expect(activityOf('a', NOW - 5 * HOUR, 168, NOW).quiet).toBe(true);
    // Busy organizations still get the 2 h floor.
    expect(activityOf('a', NOW - 90 * 60_000, 100_000, NOW).quiet).toBe(false);
    expect(activityOf('a', null, 0, NOW)).toMatchObject({ lastEventAt: null, usualGapMs: null, quiet: false });
    // Events long ago and none in the window.
    expect(activityOf('a', NOW - 10 * 24 * HOUR, 0, NOW).quiet).toBe(true);
  });

  it('ends the hourly window with the current hour', () => {
    const { from, hours } = hourlyWindow(NOW, 7);
    expect(hours).toBe(168);
    expect(new Date(from + (hours - 1) * HOUR).toISOString()).toBe('2026-11-30T12:00:00.000Z');
  });
});

describe('activityRouter on real OpenSearch', () => {
  const client = testOpenSearchClient();
  const index = `siem-events-activity-${randomUUID().slice(0, 8)}`;
  let base = '';
  let server: ReturnType<express.Express['listen']>;
  const doc = (org: string, dataset: string, at: number) => ({ '@timestamp': new Date(at).toISOString(), organization: { id: org }, event: { dataset } });

  beforeAll(async () => {
    await client.indices.create({ index, body: { mappings: { properties: indexProperties() } } as never });
    const docs = [
      doc('org-a', 'azure.signinlogs', NOW - 10 * 60_000),
      doc('org-a', 'azure.signinlogs', NOW - 70 * 60_000),
      doc('org-a', 'o365.audit', NOW - 70 * 60_000),
      doc('org-a', 'o365.audit', NOW - 8 * 24 * HOUR),
      doc('org-b', 'o365.audit', NOW - 30 * HOUR),
      doc('org-b', 'o365.audit', NOW - 31 * HOUR),
      doc('org-c', 'o365.audit', NOW - HOUR),
    ];
    await client.bulk({ refresh: true, body: docs.flatMap((d) => [{ index: { _index: index } }, d]) as never });
    const app = express();
    const auth: express.RequestHandler = (req, res, next) => {
      if (!req.headers.authorization) {
        res.status(401).json({ error: { code: 'unauthenticated', message: 'no token' } });
        return;
      }
      next();
    };
    const scopeOf = (req: express.Request) => (req.headers.authorization === 'Bearer scoped' ? ['org-a', 'org-b'] : ['org-a', 'org-b', 'org-c', 'org-d']);
    const requireViewer: express.RequestHandler = (req, res, next) =>
      auth(req, res, () => (scopeOf(req).includes(String(req.params.id)) ? next() : res.status(404).json({ error: { code: 'not_found', message: 'no' } })));
    app.use(activityRouter({ openSearch: client, indexAlias: index, requireViewer, requireToken: auth, visibleOrganizationIds: scopeOf, now: () => NOW }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await client.indices.delete({ index }).catch(() => undefined);
  });

  const get = (path: string, token = 'all') => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('counts events per hour per source of the one organization', async () => {
    const res = await get('/api/v1/organizations/org-a/events/hourly');
    expect(res.status).toBe(200);
    const body = (await res.json()) as HourlyActivity;
    expect(body.hours).toBe(168);
    const signins = body.sources.find((s) => s.dataset === 'azure.signinlogs');
    const audit = body.sources.find((s) => s.dataset === 'o365.audit');
    // 12:20 is in the last bucket, 11:20 in the one before; the 8-day-old event is outside the window.
    expect(signins?.counts.slice(-2)).toEqual([1, 1]);
    expect(audit).toMatchObject({ total: 1 });
    expect(audit?.counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(body.sources.every((s) => s.counts.length === 168)).toBe(true);
  });

  it('answers 400 for a bad or unknown parameter and 404 outside the scope', async () => {
    expect((await get('/api/v1/organizations/org-a/events/hourly?days=8')).status).toBe(400);
    const unknown = await get('/api/v1/organizations/org-a/events/hourly?dayz=2');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'invalid_request', field: 'dayz' } });
    expect((await get('/api/v1/organizations/org-c/events/hourly', 'scoped')).status).toBe(404);
    expect((await get('/api/v1/fleet/activity?x=1')).status).toBe(400);
  });

  it('gives the fleet activity in one answer, limited to the scope', async () => {
    const all = (await (await get('/api/v1/fleet/activity')).json()) as FleetActivity;
    const byId = Object.fromEntries(all.items.map((i) => [i.orgId, i]));
    expect(byId['org-a']).toMatchObject({ events7d: 3, quiet: false, lastEventAt: new Date(NOW - 10 * 60_000).toISOString() });
    // Two events in 7 days: a usual gap of 3.5 days; 30 h of silence is not yet quiet.
    expect(byId['org-b']).toMatchObject({ events7d: 2, quiet: false });
    // One event in 7 days is a gap of 7 days: not quiet after an hour.
    expect(byId['org-c']).toMatchObject({ events7d: 1, quiet: false });
    expect(byId['org-d']).toMatchObject({ events7d: 0, lastEventAt: null, quiet: false });
    const scoped = (await (await get('/api/v1/fleet/activity', 'scoped')).json()) as FleetActivity;
    expect(scoped.items.map((i) => i.orgId)).toEqual(['org-a', 'org-b']);
  });
});
