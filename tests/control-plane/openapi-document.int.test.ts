import type { AddressInfo } from 'node:net';
import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../control-plane/openapi.ts';
import { ADMIN_TOKEN, startHarness, VIEWER_TOKEN, type Harness } from './helpers/harness.ts';

/**
 * The served document is generated from the zod schemas that validate requests; here an independent OpenAPI
 * implementation checks that it is a valid OpenAPI 3 document and enforces the same request rules.
 */
describe('OpenAPI document', () => {
  it('is valid OpenAPI 3 and an independent validator enforces the same request rules', async () => {
    const doc = openApiDocument('http://localhost:8080');
    const app = express();
    app.use(express.json());
    app.use(
      OpenApiValidator.middleware({
        apiSpec: doc as never,
        validateApiSpec: true,
        validateRequests: true,
        validateResponses: false,
        validateSecurity: false,
        ignoreUndocumented: true,
      }),
    );
    app.post('/api/v1/organizations/:id/applications/microsoft-manage', (_req, res) => {
      res.status(201).json({ consentUrl: 'x' });
    });
    app.use((err: { status?: number; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ message: err.message });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/organizations/org_abc123/applications/microsoft-manage`;
    const post = (body: unknown) => fetch(base, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    try {
      const good = await post({ autoUpgrade: true, cloud: 'gcc-high', tenant: 'contoso.onmicrosoft.com' });
      expect(good.status).toBe(201);
      const badCloud = await post({ autoUpgrade: true, cloud: 'moon' });
      expect(badCloud.status).toBe(400);
      expect((await badCloud.json()).message).toContain('cloud');
      const extra = await post({ autoUpgrade: true, cloud: 'gcc', colour: 'red' });
      expect(extra.status).toBe(400);
    } finally {
      server.close();
    }
  });
});

/**
 * The real control plane's responses, checked against the document by the same independent implementation: a
 * validating front forwards each request to the control plane and validates what comes back (status and body).
 */
describe('OpenAPI document and the real responses', () => {
  let h: Harness;
  let front: ReturnType<express.Express['listen']>;
  let frontUrl: string;
  const mismatches: string[] = [];

  beforeAll(async () => {
    h = await startHarness();
    const app = express();
    app.use(express.json());
    app.use(
      OpenApiValidator.middleware({
        apiSpec: openApiDocument('http://localhost:8080') as never,
        validateRequests: false,
        validateResponses: true,
        validateSecurity: false,
        ignoreUndocumented: false,
      }),
    );
    app.use(async (req, res) => {
      const headers: Record<string, string> = {};
      if (req.headers.authorization) headers.Authorization = req.headers.authorization;
      if (req.body !== undefined && req.method !== 'GET') headers['Content-Type'] = 'application/json';
      const answer = await fetch(`${h.cp.url}${req.originalUrl}`, {
        method: req.method,
        headers,
        ...(headers['Content-Type'] ? { body: JSON.stringify(req.body) } : {}),
      });
      const text = await answer.text();
      res.status(answer.status);
      if (text === '') res.end();
      else res.json(JSON.parse(text));
    });
    app.use((err: { status?: number; message?: string }, req: express.Request, res: express.Response, _next: express.NextFunction) => {
      mismatches.push(`${req.method} ${req.originalUrl}: ${err.message}`);
      res.status(599).json({ mismatch: err.message });
    });
    front = app.listen(0, '127.0.0.1');
    await new Promise((r) => front.once('listening', r));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}/api/v1`;
  }, 120_000);

  afterAll(async () => {
    front?.close();
    await h?.close();
  });

  const call = async (method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN) => {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${frontUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
  };

  it('every answer of every documented operation matches its response schema, errors included', async () => {
    const statuses: number[] = [];
    const expectStatus = async (request: Promise<{ status: number; body: unknown }>, status: number) => {
      const res = await request;
      statuses.push(res.status);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      return res.body as Record<string, unknown>;
    };
    await expectStatus(call('GET', '/me'), 200);
    await expectStatus(call('GET', '/me', undefined, null), 401);
    const created = await expectStatus(call('POST', '/organizations', { name: 'Contoso' }), 201);
    const id = String(created.id);
    await expectStatus(call('POST', '/organizations', { name: 'Fabrikam' }, VIEWER_TOKEN), 403);
    await expectStatus(call('POST', '/organizations', { colour: 'red' }), 400);
    await expectStatus(call('GET', '/organizations'), 200);
    await expectStatus(call('GET', `/organizations/${id}`), 200);
    await expectStatus(call('GET', '/organizations/org_doesnotexist0'), 404);
    await expectStatus(call('PATCH', `/organizations/${id}`, { name: 'Contoso Ltd' }), 200);
    await expectStatus(call('GET', `/organizations/${id}/history`), 200);
    await expectStatus(call('GET', `/organizations/${id}/applications/microsoft-manage`), 200);
    await expectStatus(call('POST', `/organizations/${id}/applications/microsoft-manage/repair`), 409);

    const tenant = await h.tenant();
    const connected = await h.connectOrg(tenant);
    await expectStatus(call('GET', `/organizations/${connected}/applications/microsoft-manage`), 200);
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage/verify`), 200);
    await expectStatus(call('PATCH', `/organizations/${connected}/applications/microsoft-manage`, { autoUpgrade: true }), 200);
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage`, { autoUpgrade: false, cloud: 'commercial' }), 409);
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage/upgrades/approve`), 409);
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage/repair`), 200);
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage/refetch`, {}), 200);
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage/refetch`, { from: '2001-01-01T00:00:00Z' }), 400);
    await expectStatus(call('GET', `/organizations/${connected}/events?size=5`), 200);
    await expectStatus(call('GET', `/organizations/${connected}/events?colour=red`), 400);
    await expectStatus(call('GET', `/organizations/${connected}/events/hourly?days=2`), 200);
    await expectStatus(call('GET', `/organizations/${connected}/events/hourly?days=8`), 400);
    await expectStatus(call('GET', '/organizations/org_doesnotexist0/events/hourly'), 404);
    await expectStatus(call('GET', `/organizations/${connected}/events/hourly`, undefined, null), 401);
    const fleet = await expectStatus(call('GET', '/fleet/activity'), 200);
    expect((fleet.items as Array<{ orgId: string }>).map((i) => i.orgId)).toContain(connected);
    await expectStatus(call('GET', '/fleet/activity?colour=red'), 400);
    await expectStatus(call('GET', '/fleet/activity', undefined, null), 401);
    await expectStatus(
      call('POST', `/organizations/${connected}/applications/microsoft-manage/backfill`, { from: new Date(Date.now() - 86_400_000).toISOString() }),
      200,
    );
    await expectStatus(call('POST', `/organizations/${connected}/applications/microsoft-manage/backfill`, { from: '2001-01-01T00:00:00Z' }), 400);
    await expectStatus(call('DELETE', `/organizations/${connected}/applications/microsoft-manage`), 200);
    await expectStatus(call('DELETE', `/organizations/${id}`), 204);

    expect(mismatches).toEqual([]);
    expect(statuses).not.toContain(599);
  }, 120_000);
});
