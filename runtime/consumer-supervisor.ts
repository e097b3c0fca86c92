/**
 * A consumer that stops is never left for dead while the service says "ready" (issue 19, docs/decisions/0092).
 * The Kafka client ends a consumer for good on a non-retriable error (a crash with restart=false: MESSAGE_TOO_LARGE from a
 * produce inside eachBatch, an authorization error, an error the handler throws that is not marked retriable) and
 * then nothing consumes while the process lives on. The supervisor notices that, makes readiness say so with the
 * reason, and starts a fresh consumer (same group, same handlers: committed offsets are where work resumes) after a
 * backoff that grows while restarts keep failing. Written once here; normalize, index and ingest use it.
 */
import type { KafkaConsumer } from './kafka/index.ts';
import type { Logger } from './logger.ts';
import { backoffDelay } from './retry.ts';

export interface ConsumerSupervisorOptions {
  /** Names the consumer in logs and readiness, e.g. "m365.raw consumer". */
  name: string;
  logger: Logger;
  /** A new consumer with its event handlers (group join, …) attached; called for the first start and each restart. */
  create: () => KafkaConsumer;
  /** Connects, subscribes and runs the consumer (resolves once the client runs it). */
  run: (consumer: KafkaConsumer) => Promise<void>;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A consumer that ran this long before it stopped starts the backoff from the beginning again. */
  stableAfterMs?: number;
  /** Counted once per restart (a metric `..._consumer_restarts_total`). */
  onRestart?: () => void;
}

interface Down {
  reason: string;
  since: number;
  restartAt: number;
  attempt: number;
}

export class ConsumerSupervisor {
  private consumer: KafkaConsumer | null = null;
  private readonly dead = new WeakSet<KafkaConsumer>();
  private down: Down | null = null;
  private failures = 0;
  private launchedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: ConsumerSupervisorOptions) {}

  /** The running consumer (null before start, after close, or while waiting to restart). */
  get current(): KafkaConsumer | null {
    return this.consumer;
  }

  /** Restarts so far (for tests and status). */
  restarts = 0;

  /** The first start: a failure here is the caller's (a service fails fast at start). */
  async start(): Promise<void> {
    await this.launch();
  }

  /** Null while the consumer runs; otherwise why not and when it is restarted (for /readyz). */
  readiness(): string | null {
    if (this.closed) return `${this.options.name} closed`;
    if (!this.down) return null;
    const inSeconds = Math.max(0, Math.ceil((this.down.restartAt - Date.now()) / 1000));
    const since = new Date(this.down.since).toISOString();
    return `${this.options.name} stopped at ${since}: ${this.down.reason}; restart ${this.down.attempt} in ${inSeconds} s`;
  }

  private async launch(): Promise<void> {
    const consumer = this.options.create();
    this.consumer = consumer;
    this.launchedAt = Date.now();
    consumer.onCrash((event) => {
      // restart=true: the client restarts this consumer itself (a retriable error); only a final stop is ours to handle.
      if (!event.restart) this.stopped(consumer, event.error);
    });
    await this.options.run(consumer);
  }

  private stopped(consumer: KafkaConsumer, error: unknown): void {
    if (this.closed || consumer !== this.consumer || this.dead.has(consumer)) return;
    this.dead.add(consumer);
    this.consumer = null;
    const stable = this.options.stableAfterMs ?? 5 * 60_000;
    if (Date.now() - this.launchedAt >= stable) this.failures = 0;
    const attempt = ++this.failures;
    const delay = backoffDelay(attempt - 1, { initialMs: this.options.initialBackoffMs ?? 1_000, maxMs: this.options.maxBackoffMs ?? 60_000 });
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.down = { reason: reason.slice(0, 500), since: this.down?.since ?? Date.now(), restartAt: Date.now() + delay, attempt };
    this.options.logger.error(
      { err: error, consumer: this.options.name, attempt, delayMs: delay },
      'consumer stopped; not ready, restarting it after a backoff',
    );
    this.timer = setTimeout(() => void this.restart(consumer), delay);
  }

  private async restart(old: KafkaConsumer): Promise<void> {
    this.timer = null;
    await old.disconnect().catch(() => undefined);
    if (this.closed) return;
    this.restarts++;
    this.options.onRestart?.();
    let fresh: KafkaConsumer | null = null;
    try {
      await this.launch();
      fresh = this.consumer;
    } catch (error) {
      if (this.consumer) this.stopped(this.consumer, error);
      return;
    }
    // A crash while starting has already scheduled the next attempt; only a consumer that still runs is recovery.
    if (fresh && !this.dead.has(fresh)) {
      this.options.logger.info({ consumer: this.options.name, attempt: this.failures, downSince: this.down?.since }, 'consumer restarted; ready again');
      this.down = null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const consumer = this.consumer;
    this.consumer = null;
    if (consumer) await consumer.disconnect();
  }
}
