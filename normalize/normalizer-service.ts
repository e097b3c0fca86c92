/**
 * The normalizer service: m365.raw → siem.events (Avro, Confluent framing) exactly once.
 *
 * Each input partition has its own transactional producer (transactional id `<prefix>-<topic>-<partition>`): the
 * records produced for a chunk of the partition's messages, the dead letters of that chunk and the consumer offsets
 * after it are committed in one Kafka transaction. A new owner of a partition initializes the same transactional
 * id, which aborts whatever a crashed or partitioned previous owner left open and fences it (see
 * docs/decisions/0032). A record that cannot be parsed, mapped or encoded is dead-lettered inside the same
 * transaction; it never stops the partition.
 */
import { hostname } from 'node:os';
import {
  buildDeadLetter,
  ConsumerLagMonitor,
  ConsumerSupervisor,
  createKafkaClient,
  createLogger,
  encodedRecordBytes,
  isSourceName,
  RAW_HEADERS,
  eventHeaders,
  headerText,
  type BatchPayload,
  type ConsumedMessage,
  type KafkaClient,
  type KafkaProducer,
  type Logger,
  type OutgoingMessage,
  type SendLimits,
  type Topics,
  type DeadLetterCode,
} from '../runtime/index.ts';
import { latestSiemEventSchema } from '../schemas/index.ts';
import type { NormalizeConfig } from './config.ts';
import { RecentKeys } from './dedup.ts';
import { encodeEvent, normalizeParsed } from './mapper.ts';
import { createNormalizeMetrics, type NormalizeMetrics } from './metrics.ts';
import { registerSiemEventSchema } from './schema-registration.ts';

export interface NormalizerDeps {
  logger?: Logger;
  kafka?: KafkaClient;
  /** Topic names/specs to use instead of the configured ones (tests use suffixed topics). */
  topics?: Topics;
  metrics?: NormalizeMetrics;
  nowMicros?: () => number;
  fetchImpl?: typeof fetch;
  /** Test seam: runs after a transaction's messages were sent and before it commits (crash tests kill here). */
  beforeCommit?: (info: { partition: number; records: number; transaction: number }) => Promise<void> | void;
}

interface ChunkResult {
  events: OutgoingMessage[];
  deadLetters: OutgoingMessage[];
  keys: string[];
  duplicates: number;
}

export class NormalizerService {
  readonly logger: Logger;
  readonly kafka: KafkaClient;
  readonly topics: Topics;
  readonly metrics: NormalizeMetrics;
  private supervisor: ConsumerSupervisor | null = null;
  private lagMonitor: ConsumerLagMonitor | null = null;
  private readonly producers = new Map<number, Promise<KafkaProducer>>();
  private readonly recent = new Map<number, RecentKeys>();
  private joined = false;
  private transactionCount = 0;
  private schemaId = latestSiemEventSchema.id;
  private limits: SendLimits | null = null;
  private readonly nowMicros: () => number;

  constructor(
    readonly config: NormalizeConfig,
    private readonly deps: NormalizerDeps = {},
  ) {
    this.logger = deps.logger ?? createLogger('normalize', { level: config.settings.logLevel });
    this.kafka = deps.kafka ?? createKafkaClient(config.kafka, this.logger, 'normalize');
    this.topics = deps.topics ?? config.topics;
    this.metrics = deps.metrics ?? createNormalizeMetrics();
    this.nowMicros = deps.nowMicros ?? (() => Date.now() * 1000);
  }

  /** The schema id events are framed with (stable id, or the real registry's). */
  get frameSchemaId(): number {
    return this.schemaId;
  }

  /** What the topics accept per send, read at start (null before). */
  get sendLimits(): SendLimits | null {
    return this.limits;
  }

  async start(): Promise<void> {
    const s = this.config.settings;
    this.limits = await this.kafka.sendLimits([this.topics.events.name, this.topics.deadLetter.name]);
    if (s.schemaRegistryUrl) {
      this.schemaId = await registerSiemEventSchema({
        url: s.schemaRegistryUrl,
        username: s.schemaRegistryUsername,
        password: s.schemaRegistryPassword,
        ...(this.deps.fetchImpl ? { fetchImpl: this.deps.fetchImpl } : {}),
      });
      this.logger.info({ schemaId: this.schemaId }, 'registered the siem.events schema with the schema registry');
    }
    this.supervisor = new ConsumerSupervisor({
      name: `${this.topics.raw.name} consumer`,
      logger: this.logger,
      create: () => {
        const consumer = this.kafka.consumer({
          groupId: s.groupId,
          readCommitted: true,
          sessionTimeoutMs: s.sessionTimeoutMs,
          heartbeatIntervalMs: Math.min(3_000, Math.floor(s.sessionTimeoutMs / 3)),
        });
        consumer.onAssigned((assignment) => {
          const partitions = new Set<number>(assignment[this.topics.raw.name] ?? []);
          this.onAssignment(partitions);
        });
        return consumer;
      },
      run: async (consumer) => {
        await consumer.connect();
        // A new group reads m365.raw from the beginning: nothing fetched is skipped.
        await consumer.subscribe({ topic: this.topics.raw.name, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 3,
          eachBatch: (payload) => this.handleBatch(payload),
        });
      },
      onRestart: () => this.metrics.consumerRestarts.inc(),
    });
    await this.supervisor.start();
    // Sampled on its own timer, not by the consumer: a consumer that stopped still shows its lag growing.
    this.lagMonitor = new ConsumerLagMonitor(this.kafka, {
      groupId: s.groupId,
      topic: this.topics.raw.name,
      intervalMs: s.lagIntervalSeconds * 1000,
      gauges: this.metrics.consumerLag,
      logger: this.logger,
    });
    this.lagMonitor.start();
  }

  /** Samples the group's lag into the gauges now (the monitor does it every NORMALIZE_LAG_INTERVAL_SECONDS). */
  sampleLag(): Promise<void> {
    return this.lagMonitor?.sampleNow() ?? Promise.resolve();
  }

  readiness(): string | null {
    if (!this.supervisor) return 'not started';
    const consumer = this.supervisor.readiness();
    if (consumer !== null) return consumer;
    if (!this.joined) return 'not yet joined the consumer group';
    return null;
  }

  private onAssignment(partitions: Set<number>): void {
    this.joined = true;
    for (const p of [...this.producers.keys()]) {
      if (!partitions.has(p)) void this.dropProducer(p);
    }
    for (const p of [...this.recent.keys()]) if (!partitions.has(p)) this.recent.delete(p);

    this.metrics.assignedPartitions.set(partitions.size);
    this.logger.info({ partitions: [...partitions].sort((a, b) => a - b) }, 'm365.raw partitions assigned');
  }

  transactionalId(partition: number): string {
    return `${this.config.settings.transactionalIdPrefix}-${this.topics.raw.name}-${partition}`;
  }

  private producerFor(partition: number): Promise<KafkaProducer> {
    let p = this.producers.get(partition);
    if (!p) {
      p = (async () => {
        const producer = this.kafka.transactionalProducer(this.transactionalId(partition), this.config.settings.transactionTimeoutMs);
        await producer.connect();
        return producer;
      })();
      this.producers.set(partition, p);
      p.catch(() => this.producers.delete(partition));
    }
    return p;
  }

  private async dropProducer(partition: number): Promise<void> {
    const p = this.producers.get(partition);
    this.producers.delete(partition);
    if (!p) return;
    try {
      await (await p).disconnect();
    } catch {
      // already broken; nothing to release
    }
  }

  private recentFor(partition: number): RecentKeys {
    let r = this.recent.get(partition);
    if (!r) {
      r = new RecentKeys(this.config.settings.dedupCapacity);
      this.recent.set(partition, r);
    }
    return r;
  }

  /** Maps one chunk of messages into siem.events and dead-letter messages (pure apart from metrics). */
  private mapChunk(topic: string, partition: number, messages: readonly ConsumedMessage[]): ChunkResult {
    const out: ChunkResult = { events: [], deadLetters: [], keys: [], duplicates: 0 };
    const recent = this.recentFor(partition);
    const seen = new Set<string>();
    for (const m of messages) {
      const parsed = normalizeParsed(m.value, { nowMicros: this.nowMicros, vendorFields: this.config.settings.vendorFields });
      let failure: { code: DeadLetterCode; reason: string } | null = null;
      if (parsed.envelope) {
        const env = parsed.envelope;
        const mapped = parsed.event;
        if (mapped.kind === 'ok') {
          const event = mapped.value;
          const key = `${env.orgId}|${event.event.id}`;
          if (seen.has(key) || recent.has(key)) {
            out.duplicates++;
            this.metrics.records.inc({ outcome: 'duplicate', source: env.source });
            continue;
          }
          const encoded = encodeEvent(event, this.schemaId);
          if (encoded.kind === 'ok') {
            const message: OutgoingMessage = {
              key: env.orgId,
              value: encoded.value,
              headers: eventHeaders({ source: env.source, eventId: event.event.id, schemaId: this.schemaId }),
            };
            const limits = this.requireLimits();
            if (limits.fits(this.topics.events.name, message)) {
              seen.add(key);
              out.keys.push(key);
              out.events.push(message);
              this.metrics.records.inc({ outcome: 'ok', source: env.source });
              continue;
            }
            // Larger than siem.events accepts even alone: dead-lettered (the raw input, at its offset), never a stall.
            const limit = limits.maxRecordBytes(this.topics.events.name);
            failure = {
              code: 'record_too_large',
              reason: `the event is ${encodedRecordBytes(message)} bytes; topic ${this.topics.events.name} accepts records of at most ${limit} bytes`,
            };
          }
          if (encoded.kind === 'dead-letter') failure = { code: encoded.code, reason: encoded.reason };
        } else if (mapped.kind === 'dead-letter') failure = { code: mapped.code, reason: mapped.reason };
        if (failure) out.deadLetters.push(this.deadLetterMessage(env.orgId, env.source, failure, m, topic, partition));
        continue;
      }
      if (parsed.event.kind === 'dead-letter') failure = { code: parsed.event.code, reason: parsed.event.reason };
      const orgId = m.key && m.key.length > 0 ? m.key.toString('utf8') : null;
      const source = headerText(m.headers, RAW_HEADERS.source);
      out.deadLetters.push(this.deadLetterMessage(orgId, source, failure ?? { code: 'invalid_envelope', reason: 'unreadable' }, m, topic, partition));
    }
    return out;
  }

  private requireLimits(): SendLimits {
    if (!this.limits) throw new Error('normalizer not started: send limits unknown');
    return this.limits;
  }

  private deadLetterMessage(
    orgId: string | null,
    source: string | null,
    failure: { code: DeadLetterCode; reason: string },
    m: ConsumedMessage,
    topic: string,
    partition: number,
  ): OutgoingMessage {
    // Only known source names become label values (bounded labels).
    this.metrics.records.inc({ outcome: 'dead_letter', source: source !== null && isSourceName(source) ? source : 'unknown' });
    this.metrics.deadLetters.inc({ code: failure.code });
    return buildDeadLetter(
      {
        stage: 'normalize',
        orgId,
        source,
        errorCode: failure.code,
        errorMessage: failure.reason,
        input: m.value,
        origin: { topic, partition, offset: m.offset },
      },
      this.requireLimits().maxRecordBytes(this.topics.deadLetter.name),
    );
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: BatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const max = this.config.settings.maxTransactionRecords;
    for (let start = 0; start < batch.messages.length; start += max) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + max);
      const last = chunk[chunk.length - 1];
      if (!last) continue;
      const result = this.mapChunk(topic, partition, chunk);
      const producer = await this.producerFor(partition);
      const started = process.hrtime.bigint();
      const transaction = await producer.transaction();
      const number = ++this.transactionCount;
      try {
        // Bounded sends inside the one transaction: a backlog's events (about twice the raw bytes) never form a record
        // batch the broker refuses, and the offsets below still commit with them.
        const limits = this.requireLimits();
        await limits.send(transaction, this.topics.events.name, result.events);
        await limits.send(transaction, this.topics.deadLetter.name, result.deadLetters);
        await transaction.sendOffsets({
          consumerGroupId: this.config.settings.groupId,
          topics: [{ topic, partitions: [{ partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
        });
        await this.deps.beforeCommit?.({ partition, records: chunk.length, transaction: number });
        await transaction.commit();
      } catch (error) {
        this.metrics.transactions.inc({ result: 'aborted' });
        await transaction.abort().catch(() => undefined);
        // A fenced or broken producer is replaced on the next attempt; the offsets did not move, so the chunk is
        // processed again from the last committed offset.
        await this.dropProducer(partition);
        this.logger.error({ err: error, partition }, 'transaction failed; the chunk will be retried');
        throw error;
      }
      this.metrics.transactions.inc({ result: 'committed' });
      this.metrics.transactionSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.recentFor(partition).addAll(result.keys);
      resolveOffset(last.offset);
      await heartbeat();
    }
  }

  async close(): Promise<void> {
    await this.lagMonitor?.stop();
    this.lagMonitor = null;
    const supervisor = this.supervisor;
    this.supervisor = null;
    if (supervisor) await supervisor.close().catch((error: unknown) => this.logger.warn({ err: error }, 'error while leaving the consumer group'));
    await Promise.all([...this.producers.keys()].map((p) => this.dropProducer(p)));
  }
}

/** A default instance id for logs: host name and pid. */
export function instanceName(): string {
  return `${hostname()}-${process.pid}`;
}
