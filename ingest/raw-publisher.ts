import {
  RAW_HEADERS,
  RetriableError,
  PermanentError,
  type KafkaClient,
  type KafkaProducer,
  type Logger,
  type RawEnvelope,
  type SourceName,
} from '../runtime/index.ts';
import type { IngestMetrics } from './metrics.ts';

/**
 * Publishing to m365.raw. Records, dead letters and the checkpoint that accounts for them go out in ONE Kafka
 * transaction (idempotent producer, acks=all): a cursor or ledger entry is committed exactly when the records it
 * stands for are, so a crash can neither lose records nor duplicate them for read-committed consumers
 * (docs/decisions/0050). One transactional producer per assigned m365.tenants partition: its stable
 * transactional id fences a previous owner of that partition after a rebalance.
 */

export interface OutMessage {
  topic: string;
  key: string;
  value: string | null;
  headers?: Record<string, string>;
}

/** A set of messages that must be committed together. */
export interface Unit {
  messages: OutMessage[];
}

export function envelopeMessage(
  topic: string,
  e: { orgId: string; tenantId: string; source: SourceName; contentType?: string; contentId?: string; fetchedAt: string; record: Record<string, unknown> },
): OutMessage {
  const envelope: RawEnvelope = {
    orgId: e.orgId,
    tenantId: e.tenantId,
    source: e.source,
    ...(e.contentType !== undefined ? { contentType: e.contentType } : {}),
    ...(e.contentId !== undefined ? { contentId: e.contentId } : {}),
    fetchedAt: e.fetchedAt,
    record: e.record,
  };
  const headers: Record<string, string> = { [RAW_HEADERS.source]: e.source };
  if (e.contentType !== undefined) headers[RAW_HEADERS.contentType] = e.contentType;
  return { topic, key: e.orgId, value: JSON.stringify(envelope), headers };
}

/** Kafka's default max.message.bytes is ~1 MB per record batch: keep each send well below it. */
const MAX_SEND_BYTES = 700_000;

export class FencedError extends PermanentError {
  constructor(message: string) {
    super(message, 'fenced');
  }
}

interface Pending {
  unit: Unit;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: units submitted while a transaction is in flight are committed together in the next one.
 */
export class TransactionalWriter {
  private producer: KafkaProducer | null = null;
  private queue: Pending[] = [];
  private running = false;
  private closed = false;
  private fenced: string | null = null;

  constructor(
    private readonly kafka: KafkaClient,
    readonly transactionalId: string,
    private readonly logger: Logger,
    private readonly metrics: IngestMetrics,
    private readonly maxUnitsPerTransaction = 500,
  ) {}

  /** Connects and initialises the transactional id, fencing any previous holder. */
  async start(): Promise<void> {
    await this.ensureProducer();
  }

  private async ensureProducer(): Promise<KafkaProducer> {
    if (this.producer) return this.producer;
    const p = this.kafka.transactionalProducer(this.transactionalId, 60_000, { fastRetry: true });
    try {
      await p.connect();
    } catch (error) {
      await p.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = p;
    return p;
  }

  get isFenced(): boolean {
    return this.fenced !== null;
  }

  submit(unit: Unit): Promise<void> {
    if (this.closed) return Promise.reject(new RetriableError('writer closed (partition revoked or shutting down)', 'writer_closed'));
    if (this.fenced) return Promise.reject(new FencedError(this.fenced));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ unit, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.fenced) {
        const batch = this.queue.splice(0, this.maxUnitsPerTransaction);
        try {
          await this.commit(batch.map((p) => p.unit));
          this.metrics.transactions.inc({ outcome: 'committed' });
          for (const p of batch) p.resolve();
        } catch (error) {
          this.metrics.transactions.inc({ outcome: 'failed' });
          const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
          const fenced = /fenc|INVALID_PRODUCER_EPOCH|ProducerFenced|epoch/i.test(text);
          if (fenced) {
            this.fenced = `transactional id ${this.transactionalId} was taken over by another instance`;
            this.logger.warn({ transactionalId: this.transactionalId }, 'producer fenced: partition moved to another instance');
          } else {
            this.logger.error({ err: error, transactionalId: this.transactionalId }, 'Kafka transaction failed; units will be retried by their pollers');
          }
          await this.resetProducer();
          const failure = fenced ? new FencedError(this.fenced ?? 'fenced') : new RetriableError(`Kafka transaction failed: ${text}`, 'kafka_unavailable');
          for (const p of batch) p.reject(failure);
        }
      }
      if (this.fenced) for (const p of this.queue.splice(0)) p.reject(new FencedError(this.fenced));
    } finally {
      this.running = false;
    }
  }

  private async commit(units: Unit[]): Promise<void> {
    const producer = await this.ensureProducer();
    const txn = await producer.transaction();
    try {
      const byTopic = new Map<string, OutMessage[]>();
      let bytes = 0;
      const flush = async () => {
        for (const [topic, messages] of byTopic) {
          await txn.send({
            topic,
            acks: -1,
            messages: messages.map((m) => ({ key: m.key, value: m.value, ...(m.headers ? { headers: m.headers } : {}) })),
          });
        }
        byTopic.clear();
        bytes = 0;
      };
      for (const unit of units) {
        for (const m of unit.messages) {
          const size = (m.value?.length ?? 0) + m.key.length + 64;
          if (bytes + size > MAX_SEND_BYTES && bytes > 0) await flush();
          let list = byTopic.get(m.topic);
          if (!list) {
            list = [];
            byTopic.set(m.topic, list);
          }
          list.push(m);
          bytes += size;
        }
      }
      await flush();
      await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => undefined);
      throw error;
    }
  }

  private async resetProducer(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await p.disconnect().catch(() => undefined);
  }

  /** Waits for queued units (bounded by the caller's timeout), then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    for (const p of this.queue.splice(0)) p.reject(new RetriableError('writer closed', 'writer_closed'));
    await this.resetProducer();
  }
}
