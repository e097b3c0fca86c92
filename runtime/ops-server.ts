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
  const router = healthRouter(readiness);
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}

/**
 * `/healthz` and `/readyz` only: for a listener the public reaches (the control plane's), where load balancers
 * need health but metrics would tell anyone the organization count and traffic (they stay on the ops listener).
 */
export function healthRouter(readiness: Readiness): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const problem = await Promise.resolve(readiness()).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    if (problem === null) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'not_ready', reason: problem });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections (a scraper's) would otherwise hold the close for seconds.
        server.closeIdleConnections();
      }),
  };
}

/** The ops server of a running service and the service's stop, tied together. */
export interface ServiceOps {
  /** Port of the ops server, or null when it was not started. */
  readonly port: number | null;
  /** Graceful stop: the service first, then the ops server; runs once however often it is called. */
  close(): Promise<void>;
  /** Stops only the ops server, for a stop that already dealt with the service (e.g. a simulated crash). */
  closeOps(): Promise<void>;
}

/** What a service offers its ops server: its metrics, whether it is ready, and its graceful stop. */
export interface OpsServedService {
  readonly metrics: { readonly registry: Registry };
  readiness(): Promise<string | null> | string | null;
  close(): Promise<void>;
}

/**
 * The start/stop wiring shared by services without their own HTTP API: call after the service started; serves
 * /healthz, /readyz and /metrics on `port` unless `enabled` is false (tests running several instances in one
 * process) and returns a close that stops the service before its ops server, once.
 */
export async function startServiceOps(service: OpsServedService, options: { port: number; enabled: boolean }): Promise<ServiceOps> {
  const ops = options.enabled ? await startOpsServer({ port: options.port, registry: service.metrics.registry, readiness: () => service.readiness() }) : null;
  const closeOps = async (): Promise<void> => {
    await ops?.close();
  };
  let closing: Promise<void> | null = null;
  return {
    port: ops?.port ?? null,
    close: () => {
      closing ??= (async () => {
        await service.close();
        await closeOps();
      })();
      return closing;
    },
    closeOps,
  };
}
