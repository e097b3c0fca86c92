import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, parseSettings, type SourceStatus } from '../../runtime/index.ts';
import { emptyCheckpoint } from '../../ingest/checkpoint-store.ts';
import { ingestSettingsSpec } from '../../ingest/config.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { ApiPermanentError, ApiRetriableError } from '../../ingest/microsoft-http.ts';
import { emptyReport, type PollerContext } from '../../ingest/poller.ts';
import { SourceRunner } from '../../ingest/scheduler.ts';
import type { StatusReporter } from '../../ingest/status-reporter.ts';

/**
 * Pure scheduling logic with fake timers: a source failing for a while waits minutes between attempts; a newer
 * connection (the operator repaired consent) makes it try again at once, unless Microsoft asked it to wait.
 */
describe('SourceRunner.wake', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function runner(failure: () => Error | null) {
    vi.useFakeTimers();
    const settings = parseSettings(ingestSettingsSpec, {
      INGEST_PUBLISHER_IDENTIFIER: '7d2e4c1a-0b3f-4e5d-9a8b-1c2d3e4f5a6b',
      INGEST_POLL_INTERVAL_MS: '1000',
      INGEST_MAX_BACKOFF_MS: '600000',
    });
    const checkpoint = emptyCheckpoint('org-a', 'graph:directoryAudits', 'tenant-a');
    const ctx = {
      orgId: 'org-a',
      tenantId: 'tenant-a',
      source: 'graph:directoryAudits',
      settings,
      metrics: createIngestMetrics(false),
      logger: createLogger('test', { level: 'silent' }),
      now: () => Date.now(),
      progress: { checkpoint, effectiveCursorMs: null, lastSuccessMs: null },
    } as unknown as PollerContext;
    let cycles = 0;
    const poller = {
      runCycle: async () => {
        cycles++;
        const error = failure();
        if (error) throw error;
        return emptyReport();
      },
    };
    const statuses: SourceStatus[] = [];
    const status = { report: (s: SourceStatus) => statuses.push(s) } as unknown as StatusReporter;
    const r = new SourceRunner(ctx, poller, status, () => undefined);
    return { r, cycles: () => cycles, statuses };
  }

  const revoked = () =>
    new ApiPermanentError({
      reason: 'consent_revoked',
      code: 'AADSTS700016',
      httpStatus: 400,
      retriable: false,
      message: 'application not found in the directory',
    });

  it('retries at once after a wake instead of waiting out a backoff of minutes', async () => {
    let repaired = false;
    const { r, cycles, statuses } = runner(() => (repaired ? null : revoked()));
    r.start();
    // Ten failures: the pause before the next attempt has grown to minutes (exponential, capped at 10 min).
    while (cycles() < 10) await vi.advanceTimersByTimeAsync(1_000);
    expect(statuses.at(-1)).toMatchObject({ state: 'failing', reason: 'consent_revoked' });
    const before = cycles();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(cycles()).toBe(before); // still waiting

    repaired = true;
    r.wake();
    await vi.advanceTimersByTimeAsync(10);
    expect(cycles()).toBe(before + 1);
    expect(statuses.at(-1)).toMatchObject({ state: 'ok', reason: null });

    // A healthy source is not woken early: it polls on its interval.
    r.wake();
    await vi.advanceTimersByTimeAsync(10);
    expect(cycles()).toBe(before + 1);
    await r.stop();
  });

  it('keeps the wait Microsoft asked for when throttled', async () => {
    const throttled = () =>
      new ApiRetriableError({ reason: 'throttled', code: 'TooManyRequests', httpStatus: 429, retriable: true, retryAfterMs: 120_000, message: 'throttled' });
    const { r, cycles } = runner(throttled);
    r.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(cycles()).toBe(1);
    r.wake();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(cycles()).toBe(1);
    await vi.advanceTimersByTimeAsync(61_000);
    expect(cycles()).toBe(2);
    await r.stop();
  });
});
