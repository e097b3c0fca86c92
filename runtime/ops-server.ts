import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import express, { type Router } from 'express';

export interface Readiness {
  /** Returns null when ready, otherwise why not (shown on /readyz). */
  (): Promise<string | null> | string | null;
}

/**
 * `/healthz` (process alive), `/readyz` (dependencies reachable, work assigned) and Prometheus `/metrics`,
 * mountable into any express app.
 */
export function opsRouter(registry: Registry, readiness: Readiness): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const problem = await Promise.resolve(readiness()).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    if (problem === null) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'not_ready', reason: problem });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}

/** A standalone ops server for services without their own HTTP API (ingest, normalize, index). */
export async function startOpsServer(options: {
  port: number;
  host?: string;
  registry: Registry;
  readiness: Readiness;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const app = express();
  app.disable('x-powered-by');
  app.use(opsRouter(options.registry, options.readiness));
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
