import { backoffDelay, PERMANENT_REFUSALS, sleep, type SourceStatus, type SourceState, type StatusReason } from '../runtime/index.ts';

/** How long a source stays degraded after a data-loss marker was recorded. */
const RECENT_GAP_MS = 24 * 3_600_000;
/** How long a permanently refused source waits if nothing wakes it (a day: the periodic status still reports it). */
const PARKED_MS = 24 * 3_600_000;
import { backfillStatusOf, events24h, refetchStatusOf } from './checkpoint-store.ts';
import { gapMessage, gapView, retentionFor } from './data-loss.ts';
import { LICENCE_REQUIRED } from './licence-refusals.ts';
import { failureOf, type ApiFailure } from './microsoft-http.ts';
import type { CycleReport, Poller, PollerContext } from './poller.ts';
import { FencedError } from './raw-publisher.ts';
import type { StatusReporter } from './status-reporter.ts';
import { hoursUntilDataLoss } from './windows.ts';

/**
 * One (organization, source) loop. Each runs as its own async task, so a throttled or slow tenant only delays
 * itself; what is shared (Microsoft requests in flight, the app-wide Graph budget) is bounded globally and waited
 * for without holding anything. Failures back off exponentially (Retry-After honoured) and are retried from the
 * unchanged cursor — never skipped.
 */
export class SourceRunner {
  private readonly abort = new AbortController();
  /** Aborted by `wake()` to end the current pause early. */
  private pause = new AbortController();
  private loop: Promise<void> | null = null;
  private errors = 0;
  private consecutiveFailures = 0;
  private lastErrorAt: string | null = null;
  private mismatchUntilMs = 0;
  private lastFailure: ApiFailure | null = null;
  private overQuota = false;
  cycles = 0;

  constructor(
    private readonly ctx: PollerContext,
    private readonly poller: Poller,
    private readonly status: StatusReporter,
    private readonly onFenced: () => void,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  get running(): boolean {
    return this.loop !== null;
  }

  /**
   * Retries now instead of at the end of the failure backoff: the organization's connection changed (repaired
   * consent, upgraded permissions, a new secret), which may have removed the cause. The backoff grows to
   * INGEST_MAX_BACKOFF_MS (5 min), so without this a repaired organization could show its old failure for minutes.
   * A throttled source keeps its wait: Microsoft's Retry-After is not ours to cut short.
   */
  wake(): void {
    if (this.consecutiveFailures > 0 && this.lastFailure?.reason !== 'throttled') this.pause.abort();
  }

  /** Stops after the current step: in-flight requests are aborted; the cursor stays where Kafka has it. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const s = this.ctx.settings;
    while (!signal.aborted) {
      let delay = s.pollIntervalMs;
      try {
        const report = await this.poller.runCycle(signal);
        if (signal.aborted) break;
        this.cycles++;
        this.consecutiveFailures = 0;
        this.lastFailure = null;
        this.ctx.metrics.cycles.inc({ kind: this.kind, outcome: 'ok' });
        this.ctx.quota?.charge(report.published);
        this.ctx.licence?.learn(this.ctx.source, 'served');
        const quotaWaitMs = this.ctx.quota?.waitMs() ?? 0;
        this.reportSuccess(report, quotaWaitMs);
        if (report.nextRunInMs !== undefined) delay = Math.max(0, report.nextRunInMs);
        if (quotaWaitMs > delay) {
          delay = quotaWaitMs;
          this.ctx.metrics.quotaWaits.inc({ kind: this.kind });
          if (!this.overQuota)
            this.ctx.logger.warn(
              { orgId: this.ctx.orgId, source: this.ctx.source, waitMs: quotaWaitMs, recordsPerHour: this.ctx.quota?.recordsPerHour },
              'organization past its record quota: source slowed',
            );
        }
        this.overQuota = quotaWaitMs > 0;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof FencedError) {
          this.ctx.logger.warn({ orgId: this.ctx.orgId, source: this.ctx.source }, 'source stopped: its partition moved to another instance');
          this.onFenced();
          break;
        }
        const f = failureOf(error);
        this.errors++;
        this.consecutiveFailures++;
        this.lastFailure = f;
        this.lastErrorAt = new Date(this.ctx.now()).toISOString();
        this.ctx.metrics.cycles.inc({ kind: this.kind, outcome: f.reason });
        if (f.errorId !== undefined) {
          // Nobody classified this error: the whole error under the id the status shows (docs/error-codes.md).
          this.ctx.logger.error({ err: error, errorId: f.errorId, orgId: this.ctx.orgId, source: this.ctx.source }, 'poll cycle failed with an internal error');
        } else if (this.consecutiveFailures === 1 || this.consecutiveFailures % 20 === 0) {
          this.ctx.logger.warn(
            { orgId: this.ctx.orgId, source: this.ctx.source, reason: f.reason, code: f.code, failures: this.consecutiveFailures, detail: f.message },
            'poll cycle failed; retrying from the unchanged cursor',
          );
        }
        this.reportFailure(f);
        const initial = Math.min(s.pollIntervalMs, 1_000);
        delay = backoffDelay(this.consecutiveFailures - 1, { initialMs: initial, maxMs: Math.max(initial, s.maxBackoffMs) }, f.retryAfterMs);
        // A refusal no retry can fix (certificate, disabled app, Conditional Access, wrong cloud, no subscription)
        // waits for a change: a new connection revision (repair, consent) wakes it, a restart re-reads the config.
        if (!f.retriable && PERMANENT_REFUSALS.has(f.reason)) delay = PARKED_MS;
      }
      this.pause = new AbortController();
      await sleep(delay, AbortSignal.any([signal, this.pause.signal]));
    }
  }

  /** The registration report is a periodic snapshot: its cursor is expected to be up to one period old. */
  private get lagLimitSeconds(): number {
    const s = this.ctx.settings;
    return s.lagWarnSeconds + (this.ctx.source === 'graph:userRegistrationDetails' ? Math.ceil(s.registrationIntervalMs / 1000) : 0);
  }

  private get kind(): string {
    return this.ctx.source.startsWith('management:') ? 'management' : 'graph';
  }

  private base(state: SourceState, reason: StatusReason | null, message: string | null): SourceStatus {
    const cp = this.ctx.progress.checkpoint;
    const now = this.ctx.now();
    const cursor = this.ctx.progress.effectiveCursorMs;
    const lastSuccess = this.ctx.progress.lastSuccessMs;
    return {
      schemaVersion: 1,
      orgId: this.ctx.orgId,
      tenantId: this.ctx.tenantId,
      source: this.ctx.source,
      state,
      reason,
      message,
      licenceRequired: null,
      lastSuccessAt: lastSuccess !== null ? new Date(lastSuccess).toISOString() : null,
      lastErrorAt: this.lastErrorAt,
      lastEventAt: cp.lastEventMs !== null ? new Date(cp.lastEventMs).toISOString() : null,
      firstEventAt: cp.firstEventMs !== null ? new Date(cp.firstEventMs).toISOString() : null,
      lagSeconds: cursor !== null ? Math.max(0, Math.round((now - cursor) / 1000)) : null,
      hoursUntilDataLoss: null,
      gaps: cp.gaps.map(gapView),
      counts: { ...cp.counts, errors: this.errors, events24h: events24h(cp.hourly, now) },
      updatedAt: new Date(now).toISOString(),
      ...(cp.backfill ? { backfill: backfillStatusOf(cp.backfill) } : {}),
      ...(cp.refetch ? { refetch: refetchStatusOf(cp.refetch, cursor) } : {}),
    };
  }

  private reportSuccess(report: CycleReport, quotaWaitMs: number): void {
    const now = this.ctx.now();
    if (report.tenantMismatches > 0) this.mismatchUntilMs = now + 3_600_000;
    let status = this.base('ok', null, null);
    // A marker recorded lately (not the first start's: nothing was collected before it) degrades the source for a
    // day, so the loss is seen; the marker itself stays in `gaps` and in the organization's history.
    const recent = this.ctx.progress.checkpoint.gaps.filter((g) => g.cause !== 'subscription_started' && now - g.recordedAtMs < RECENT_GAP_MS).at(-1);
    if (recent !== undefined) {
      status = { ...this.base('degraded', 'data_loss_risk', gapMessage(recent).slice(0, 500)), hoursUntilDataLoss: 0 };
    } else if (quotaWaitMs > 0) {
      const perHour = this.ctx.quota?.recordsPerHour ?? 0;
      status = this.base(
        'degraded',
        'throttled',
        `this organization published more than its quota of ${perHour} records per hour (INGEST_TENANT_RECORDS_PER_HOUR): polling slowed for ${Math.ceil(quotaWaitMs / 1000)} s; content waits at Microsoft`,
      );
    } else if (now < this.mismatchUntilMs) {
      status = this.base('degraded', 'tenant_mismatch', 'records naming another tenant were refused and dead-lettered (alarm raised); check siem.events.dlq');
    } else if (status.lagSeconds !== null && status.lagSeconds > this.lagLimitSeconds) {
      status = this.base('degraded', 'lagging', `${status.lagSeconds} s behind Microsoft`);
    }
    this.status.report(status);
  }

  private reportFailure(f: ApiFailure): void {
    const cursor = this.ctx.progress.effectiveCursorMs;
    const now = this.ctx.now();
    const message = `${f.code}: ${f.message}`.slice(0, 500);
    let status: SourceStatus;
    if (f.reason === 'licence_missing') {
      this.ctx.licence?.learn(this.ctx.source, 'licence_refused');
      const licence = LICENCE_REQUIRED[this.ctx.source] ?? 'Microsoft Entra ID P1 or P2';
      status = { ...this.base('unavailable_licence', 'licence_missing', `${message} — this source needs ${licence}`.slice(0, 500)), licenceRequired: licence };
    } else if (f.reason === 'throttled' || (f.reason === 'kafka_unavailable' && this.consecutiveFailures < 5)) {
      status = this.base('degraded', f.reason, message);
    } else if (f.retriable && this.consecutiveFailures < 3) {
      status = this.base('degraded', f.reason, message);
    } else {
      status = this.base('failing', f.reason, message);
    }
    // One retention clock for every source: Management's 7 days, Graph's by the tenant's licence (decision 0151).
    const { warnMs, note } = retentionFor(this.ctx.source, this.ctx.licence?.known() ?? null);
    if (warnMs !== null && cursor !== null) {
      const hours = hoursUntilDataLoss(cursor, now, warnMs);
      const days = Math.round(warnMs / 86_400_000);
      status = { ...status, hoursUntilDataLoss: hours };
      if (hours <= this.ctx.settings.dataLossWarnHours) {
        status = {
          ...status,
          state: 'failing',
          reason: 'data_loss_risk',
          message:
            `${Math.max(0, hours)} h left before unfetched content passes Microsoft's ${days}-day limit${note ? ` (${note})` : ''}; cause: ${message}`.slice(
              0,
              500,
            ),
        };
      }
    }
    this.status.report(status);
  }

  /** Last failure, for tests and diagnostics. */
  get failure(): ApiFailure | null {
    return this.lastFailure;
  }
}
