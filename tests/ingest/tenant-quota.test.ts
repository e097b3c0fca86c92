import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, parseSettings, type SourceStatus } from '../../runtime/index.ts';
import { emptyCheckpoint } from '../../ingest/checkpoint-store.ts';
import { ingestSettingsSpec } from '../../ingest/config.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { emptyReport, type PollerContext } from '../../ingest/poller.ts';
import { SourceRunner } from '../../ingest/scheduler.ts';
import type { StatusReporter } from '../../ingest/status-reporter.ts';
import { TenantQuota } from '../../ingest/tenant-quota.ts';

const HOUR = 3_600_000;

describe('tenant record quota', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a tenant burst up to its hourly quota, then asks it to wait in proportion to its excess', () => {
    let now = 0;
    const q = new TenantQuota(3_600, () => now); // one record per second
    q.charge(3_600);
    expect(q.waitMs()).toBe(0);
    q.charge(60);
    expect(q.waitMs()).toBe(60_000);
    now += 30_000;
    expect(q.waitMs()).toBe(30_000);
    now += 30_000;
    expect(q.waitMs()).toBe(0);
    now += 10 * HOUR; // refills to the quota, never beyond
    q.charge(3_601);
    expect(q.waitMs()).toBe(1_000);
    const off = new TenantQuota(0, () => now);
    off.charge(1e9);
    expect(off.waitMs()).toBe(0);
  });

  it('slows every source of a flooding organization and reports it; a tenant within its quota polls on its interval', async () => {
    vi.useFakeTimers();
    const settings = parseSettings(ingestSettingsSpec, {
      INGEST_PUBLISHER_IDENTIFIER: '7d2e4c1a-0b3f-4e5d-9a8b-1c2d3e4f5a6b',
      INGEST_POLL_INTERVAL_MS: '1000',
    });
    const metrics = createIngestMetrics(false);
    const make = (orgId: string, quota: TenantQuota, perCycle: number) => {
      const ctx = {
        orgId,
        tenantId: `tenant-${orgId}`,
        source: 'graph:signIns',
        settings,
        metrics,
        logger: createLogger('test', { level: 'silent' }),
        now: () => Date.now(),
        quota,
        progress: { checkpoint: emptyCheckpoint(orgId, 'graph:signIns', `tenant-${orgId}`), effectiveCursorMs: null, lastSuccessMs: null },
      } as unknown as PollerContext;
      let cycles = 0;
      const statuses: SourceStatus[] = [];
      const runner = new SourceRunner(
        ctx,
        {
          runCycle: async () => {
            cycles++;
            return { ...emptyReport(), published: perCycle };
          },
        },
        { report: (s: SourceStatus) => statuses.push(s) } as unknown as StatusReporter,
        () => undefined,
      );
      return { runner, cycles: () => cycles, statuses };
    };
    // 100 records per hour allowed; the flooding tenant publishes 60 per cycle, the quiet one 1.
    const flood = make('flood', new TenantQuota(100, () => Date.now()), 60);
    const quiet = make('quiet', new TenantQuota(100, () => Date.now()), 1);
    flood.runner.start();
    quiet.runner.start();
    await vi.advanceTimersByTimeAsync(10_000);
    // Two cycles fit the quota (120 > 100 after the second), then the wait is the excess: 20 records = 12 min.
    expect(flood.cycles()).toBe(2);
    expect(flood.statuses.at(-1)).toMatchObject({ state: 'degraded', reason: 'throttled' });
    expect(flood.statuses.at(-1)?.message).toMatch(/INGEST_TENANT_RECORDS_PER_HOUR/);
    expect(quiet.cycles()).toBeGreaterThanOrEqual(9);
    expect(quiet.statuses.at(-1)).toMatchObject({ state: 'ok' });
    await vi.advanceTimersByTimeAsync(12 * 60_000);
    expect(flood.cycles()).toBe(3);
    const waits = (await metrics.registry.getSingleMetric('m365siem_ingest_quota_waits_total')?.get())?.values ?? [];
    expect(waits.reduce((a, v) => a + v.value, 0)).toBeGreaterThanOrEqual(2);
    await flood.runner.stop();
    await quiet.runner.stop();
  });
});
