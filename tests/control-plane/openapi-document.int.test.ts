import type { AddressInfo } from 'node:net';
import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../control-plane/openapi.ts';

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
