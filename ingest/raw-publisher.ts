import {
  GroupCommitQueue,
  RAW_HEADERS,
  isProducerFenced,
  RetriableError,
  PermanentError,
  encodedRecordBytes,
  oversizedRecordDeadLetter,
  type KafkaClient,
  type OutgoingMessage,
  type SendLimits,
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

export class FencedError extends PermanentError {
  constructor(message: string) {
    super(message, 'fenced');
  }
}

/**
 * Group commit: units submitted while a transaction is in flight are committed together in the next one.
 */
export class TransactionalWriter {
  private producer: KafkaProducer | null = null;
  private readonly queue: GroupCommitQueue<Unit, undefined>;
  private closed = false;
  private fenced: string | null = null;

  constructor(
    private readonly kafka: KafkaClient,
    readonly transactionalId: string,
    private readonly logger: Logger,
    private readonly metrics: IngestMetrics,
    /** What each topic accepts per send (read at start by the service), and where oversized records go. */
    private readonly limits: SendLimits,
    private readonly deadLetterTopic: string,
    maxUnitsPerTransaction = 500,
  ) {
    this.queue = new GroupCommitQueue((units) => this.commitUnits(units), {
      maxBatch: maxUnitsPerTransaction,
      // After a fencing nothing more is sent: what waits fails with the fencing, never with a retry.
      halted: () => (this.fenced ? new FencedError(this.fenced) : null),
    });
  }

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
    return this.queue.submit(unit);
  }

  /** One transaction for a batch of units; a failure is classified once for all of them (fenced or retriable). */
  private async commitUnits(units: Unit[]): Promise<undefined[]> {
    try {
      await this.commit(units);
    } catch (error) {
      this.metrics.transactions.inc({ outcome: 'failed' });
      const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
      const fenced = isProducerFenced(error);
      if (fenced) {
        this.fenced = `transactional id ${this.transactionalId} was taken over by another instance`;
        this.logger.warn({ transactionalId: this.transactionalId }, 'producer fenced: partition moved to another instance');
      } else {
        this.logger.error({ err: error, transactionalId: this.transactionalId }, 'Kafka transaction failed; units will be retried by their pollers');
      }
      await this.resetProducer();
      throw fenced ? new FencedError(this.fenced ?? 'fenced') : new RetriableError(`Kafka transaction failed: ${text}`, 'kafka_unavailable');
    }
    this.metrics.transactions.inc({ outcome: 'committed' });
    return units.map(() => undefined);
  }

  private async commit(units: Unit[]): Promise<void> {
    const producer = await this.ensureProducer();
    const byTopic = this.byTopic(units);
    const txn = await producer.transaction();
    try {
      // Every topic's messages in sends the broker accepts, all inside the one transaction with the checkpoint.
      for (const [topic, messages] of byTopic) await this.limits.send(txn, topic, messages, { acks: -1 });
      await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The units' messages per topic, in order. A record larger than its topic accepts even alone is dead-lettered in
   * its place (a Microsoft record with huge ModifiedProperties must not fail the blob's transaction for ever); its
   * ledger entry still commits, so it is dead-lettered once.
   */
  private byTopic(units: readonly Unit[]): Map<string, OutgoingMessage[]> {
    const out = new Map<string, OutgoingMessage[]>();
    const add = (topic: string, m: OutgoingMessage) => {
      let list = out.get(topic);
      if (!list) {
        list = [];
        out.set(topic, list);
      }
      list.push(m);
    };
    for (const unit of units) {
      for (const m of unit.messages) {
        const message: OutgoingMessage = { key: m.key, value: m.value, ...(m.headers ? { headers: m.headers } : {}) };
        if (m.topic === this.deadLetterTopic || this.limits.fits(m.topic, message)) {
          add(m.topic, message);
          continue;
        }
        const facts = { bytes: encodedRecordBytes(message), limit: this.limits.maxRecordBytes(m.topic) };
        this.logger.warn({ topic: m.topic, ...facts }, 'record larger than its topic accepts; dead-lettered');
        this.metrics.oversizedRecords.inc();
        add(this.deadLetterTopic, oversizedRecordDeadLetter('ingest', m.topic, message, facts, this.limits.maxRecordBytes(this.deadLetterTopic)));
      }
    }
    return out;
  }

  private async resetProducer(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await p.disconnect().catch(() => undefined);
  }

  /** Waits for queued units (bounded by the caller's timeout), then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.idle();
    this.queue.rejectWaiting(new RetriableError('writer closed', 'writer_closed'));
    await this.resetProducer();
  }
}
