import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { startServiceOps } from '../../runtime/index.ts';

describe('startServiceOps with its ops server', () => {
  it('serves /healthz and /readyz from the service, and close stops the service before the server', async () => {
    let problem: string | null = 'no partitions assigned';
    const order: string[] = [];
    const ops = await startServiceOps(
      {
        metrics: { registry: new Registry() },
        readiness: () => problem,
        close: async () => {
          order.push('service');
        },
      },
      { port: 0, enabled: true },
    );
    expect(ops.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${ops.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', reason: 'no partitions assigned' });
    problem = null;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await ops.close();
    expect(order).toEqual(['service']);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
