import { statusKey, type KafkaClient, type KafkaProducer, type Logger, type SourceStatus } from '../runtime/index.ts';

/** What makes a status go out at once when it changes (a new data-loss marker included). */
const fingerprintOf = (s: SourceStatus): string => `${s.state}|${s.reason}|${s.message}|${s.hoursUntilDataLoss}|${s.gaps.length}`;

/**
 * Publishes per-(organization, source) status to the compacted topic m365.status (key `${orgId}|${source}`).
 * A change of state, reason or message goes out at once; an unchanged status is refreshed at most every
 * `intervalMs`. Status is advisory, so it uses a plain idempotent producer outside the data transactions.
 */
export class StatusReporter {
  private producer: KafkaProducer | null = null;
  private readonly latest = new Map<string, SourceStatus>();
  private readonly published = new Map<string, { fingerprint: string; atMs: number }>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topic: string,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  async start(): Promise<void> {
    const p = this.kafka.producer();
    await p.connect();
    this.producer = p;
    this.timer = setInterval(() => void this.flush(), Math.min(1_000, this.intervalMs));
    this.timer.unref();
  }

  /** The last status reported for a key (tests, readiness). */
  get(orgId: string, source: string): SourceStatus | undefined {
    return this.latest.get(statusKey(orgId, source));
  }

  all(): SourceStatus[] {
    return [...this.latest.values()];
  }

  report(status: SourceStatus): void {
    const key = statusKey(status.orgId, status.source);
    this.latest.set(key, status);
    const fingerprint = fingerprintOf(status);
    const prev = this.published.get(key);
    if (!prev || prev.fingerprint !== fingerprint) {
      this.dirty.add(key);
      void this.flush();
    } else if (Date.now() - prev.atMs >= this.intervalMs) {
      this.dirty.add(key);
    }
  }

  /** Removes a key (organization deleted): a tombstone. */
  forget(orgId: string, source: string, tombstone: boolean): void {
    const key = statusKey(orgId, source);
    this.latest.delete(key);
    this.published.delete(key);
    this.dirty.delete(key);
    if (tombstone && this.producer) {
      void this.producer
        .send({ topic: this.topic, acks: -1, messages: [{ key, value: null }] })
        .catch((error: unknown) => this.logger.warn({ err: error }, 'status tombstone failed'));
    }
  }

  async flush(): Promise<void> {
    if (this.flushing !== null) return this.flushing;
    if (!this.producer || this.dirty.size === 0) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    const messages = keys.flatMap((key) => {
      const s = this.latest.get(key);
      return s ? [{ key, value: JSON.stringify(s) }] : [];
    });
    this.flushing = (async () => {
      try {
        await this.producer?.send({ topic: this.topic, acks: -1, messages });
        const now = Date.now();
        for (const key of keys) {
          const s = this.latest.get(key);
          if (s) this.published.set(key, { fingerprint: fingerprintOf(s), atMs: now });
        }
      } catch (error) {
        for (const key of keys) this.dirty.add(key);
        this.logger.warn({ err: error }, 'publishing status failed; will retry');
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.flushing !== null) await this.flushing;
    for (const key of this.latest.keys()) this.dirty.add(key);
    await this.flush().catch(() => undefined);
    const p = this.producer;
    this.producer = null;
    if (p) await p.disconnect().catch(() => undefined);
  }
}
