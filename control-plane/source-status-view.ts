/**
 * The pollers' reports: a live view of the compacted topic `m365.status` (key `${orgId}|${source}`), read from the
 * beginning by a throwaway consumer group on every start.
 */
import { randomBytes } from 'node:crypto';
import { sourceStatusSchema, type DataLossGap, type KafkaClient, type KafkaConsumer, type Logger, type SourceStatus } from '../runtime/index.ts';

const gapKey = (g: DataLossGap) => `${g.from}|${g.to}|${g.cause}`;

export class SourceStatusView {
  private readonly byOrg = new Map<string, Map<string, SourceStatus>>();
  private consumer: KafkaConsumer | null = null;
  private groupId = '';
  private running = false;
  invalidMessages = 0;
  /**
   * Called with the data-loss markers a report carries that the previous report of its source did not (issue 18:
   * the organization's history shows each marker once; the listener dedupes against the history across restarts).
   */
  onNewGaps: ((orgId: string, source: string, gaps: DataLossGap[]) => void) | null = null;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  forOrg(orgId: string): ReadonlyMap<string, SourceStatus> {
    return this.byOrg.get(orgId) ?? new Map();
  }

  /** Applies one message; exported for unit tests through the class. */
  apply(key: string | null, value: Buffer | null): void {
    if (!key) return;
    const bar = key.indexOf('|');
    if (bar <= 0) {
      this.invalidMessages++;
      return;
    }
    const orgId = key.slice(0, bar);
    const source = key.slice(bar + 1);
    if (value === null) {
      this.byOrg.get(orgId)?.delete(source);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(value.toString('utf8'));
    } catch {
      this.invalidMessages++;
      return;
    }
    const result = sourceStatusSchema.safeParse(parsed);
    if (!result.success || result.data.orgId !== orgId || result.data.source !== source) {
      this.invalidMessages++;
      return;
    }
    let map = this.byOrg.get(orgId);
    if (!map) {
      map = new Map();
      this.byOrg.set(orgId, map);
    }
    const previous = map.get(source);
    if (!previous || previous.updatedAt <= result.data.updatedAt) {
      map.set(source, result.data);
      const before = new Set((previous?.gaps ?? []).map(gapKey));
      const added = result.data.gaps.filter((g) => !before.has(gapKey(g)));
      if (added.length > 0) this.onNewGaps?.(orgId, source, added);
    }
  }

  async start(): Promise<void> {
    this.groupId = `m365siem-controlplane-status-${process.pid}-${randomBytes(4).toString('hex')}`;
    const consumer = this.kafka.consumer({ groupId: this.groupId, readCommitted: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 });
    this.consumer = consumer;
    try {
      await this.run(consumer);
    } catch (error) {
      // Leave nothing behind so the caller can retry the start.
      await this.close().catch(() => undefined);
      throw error;
    }
  }

  private async run(consumer: KafkaConsumer): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new Error(`status consumer did not join its group on ${this.topic} within 60 s`));
      }, 60_000);
      const remove = consumer.onAssigned(() => {
        clearTimeout(timer);
        remove();
        resolve();
      });
    });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        this.apply(message.key?.toString('utf8') ?? null, message.value);
      },
    });
    await joined;
    this.running = true;
    // The client restarts the consumer after a retriable crash; readiness follows it.
    consumer.onCrash((event) => {
      this.running = false;
      this.logger.error({ err: event.error, restart: event.restart }, 'status consumer crashed');
    });
    consumer.onAssigned(() => {
      this.running = true;
    });
  }

  async close(): Promise<void> {
    if (!this.consumer) return;
    this.running = false;
    await this.consumer.disconnect().catch(() => undefined);
    this.consumer = null;
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([this.groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
