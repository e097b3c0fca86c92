import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { startServiceOps, type OpsServedService } from '../../runtime/index.ts';

function fakeService(close: () => Promise<void>): OpsServedService {
  return { metrics: { registry: new Registry() }, readiness: () => null, close };
}

describe('startServiceOps', () => {
  it('without an ops server: no port, and close stops the service once however often it is called', async () => {
    let closes = 0;
    const ops = await startServiceOps(
      fakeService(async () => {
        closes++;
      }),
      { port: 0, enabled: false },
    );
    expect(ops.port).toBeNull();
    await Promise.all([ops.close(), ops.close()]);
    await ops.close();
    expect(closes).toBe(1);
    await expect(ops.closeOps()).resolves.toBeUndefined();
  });

  it('a failing service stop rejects every close call with the same error', async () => {
    const ops = await startServiceOps(
      fakeService(() => Promise.reject(new Error('broker gone'))),
      { port: 0, enabled: false },
    );
    await expect(ops.close()).rejects.toThrow('broker gone');
    await expect(ops.close()).rejects.toThrow('broker gone');
  });
});
