/**
 * The kafkajs adapter: the one file that imports kafkajs (bin/check-boundaries.js enforces it). It implements the
 * project's own client interface (./client.ts) and maps kafkajs' errors, by their class names and the broker's error
 * types, to KafkaError / ProducerFencedError, so nothing outside this file knows which Kafka client runs
 * (docs/decisions/0172). Replacing kafkajs means writing another implementation of ./client.ts in place of this file.
 */
import { readFileSync } from 'node:fs';
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type ConfigResourceTypes,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type EachBatchPayload,
  type KafkaConfig,
  type LogEntry,
  type Producer,
  type SASLOptions,
  type Transaction,
} from 'kafkajs';
import type { Logger } from '../logger.ts';
import type { TopicSpec, Topics } from '../topics.ts';
import { PermanentError, withRetry } from '../retry.ts';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, SendLimits } from '../send-limits.ts';
import {
  KafkaError,
  ProducerFencedError,
  type BatchProcessed,
  type ConsumerCrash,
  type ConsumerOptions,
  type ConsumerRunOptions,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaConsumer,
  type KafkaProducer,
  type KafkaTransaction,
  type PartitionAssignment,
  type ProduceRequest,
  type ProducerOptions,
  type TopicPartitionOffset,
  type Unsubscribe,
} from './client.ts';
import type { KafkaSettings } from './settings.ts';

/**
 * Metadata settles a moment after topics are created: "not the leader" and "does not host this topic-partition"
 * answers are expected then, and on a loaded machine they last seconds. Such steps are retried; errors kafkajs
 * marks non-retriable are not.
 */
async function retryTransient<T>(step: () => Promise<T>): Promise<T> {
  return withRetry(
    async () => {
      try {
        return await step();
      } catch (error) {
        const e = error as { retriable?: boolean; type?: string; message?: string };
        if (e.retriable === false && !/NOT_LEADER|UNKNOWN_TOPIC_OR_PARTITION|LEADER_NOT_AVAILABLE/.test(`${e.type} ${e.message}`)) {
          throw new PermanentError(e.message ?? String(error), e.type ?? 'kafka_error', { cause: error });
        }
        throw error;
      }
    },
    { attempts: 10, initialMs: 200, maxMs: 3_000 },
  );
}

/**
 * kafkajs' ConfigResourceTypes values (Kafka's protocol numbers): its CommonJS build does not expose the enum as a
 * named ESM export under plain Node, so the two values used here are spelled out.
 */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes.TOPIC;
const BROKER_RESOURCE = 4 as ConfigResourceTypes.BROKER;

function toSasl(s: KafkaSettings): SASLOptions | undefined {
  if (!s.saslMechanism) return undefined;
  const username = s.saslUsername ?? '';
  const password = s.saslPassword ?? '';
  switch (s.saslMechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

/** Builds the kafkajs config from settings. */
function toKafkaConfig(s: KafkaSettings, logger: Logger, clientIdSuffix?: string): KafkaConfig {
  const ssl = s.ssl
    ? {
        rejectUnauthorized: s.sslRejectUnauthorized,
        ...(s.sslCaFile ? { ca: [readFileSync(s.sslCaFile, 'utf8')] } : {}),
      }
    : undefined;
  const sasl = toSasl(s);
  return {
    clientId: clientIdSuffix ? `${s.clientId}-${clientIdSuffix}` : s.clientId,
    brokers: s.brokers,
    connectionTimeout: s.connectionTimeoutMs,
    requestTimeout: s.requestTimeoutMs,
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      const fields = { kafka: { namespace: entry.namespace, ...rest } };
      // The broker answers CONCURRENT_TRANSACTIONS while the previous commit completes; kafkajs retries it. Not an error.
      if (/concurrent operation on the same transaction/.test(`${String(rest.error ?? '')} ${message}`)) logger.debug(fields, message);
      else if (entry.level === KafkaLogLevel.ERROR) logger.error(fields, message);
      else if (entry.level === KafkaLogLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    },
  };
}

/** The client's failure kind for kafkajs' own error classes (broker answers carry the broker's error type instead). */
const CLIENT_ERROR_CODES: Record<string, string> = {
  KafkaJSConnectionError: 'connection',
  KafkaJSConnectionClosedError: 'connection',
  KafkaJSNoBrokerAvailableError: 'connection',
  KafkaJSBrokerNotFound: 'connection',
  KafkaJSRequestTimeoutError: 'request_timeout',
  KafkaJSTimeout: 'timeout',
  KafkaJSLockTimeout: 'timeout',
  KafkaJSSASLAuthenticationError: 'authentication',
  KafkaJSNumberOfRetriesExceeded: 'retries_exhausted',
};

/** The broker's answers that mean another producer now holds this transactional id (a newer epoch fenced ours). */
const FENCING_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

interface KafkajsErrorFields {
  name: string;
  message: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
}

/** kafkajs' errors are the classes named KafkaJS… (its CommonJS build exposes them only through a spread, not as ESM names). */
function isKafkajsError(error: unknown): error is KafkajsErrorFields {
  return error instanceof Error && error.name.startsWith('KafkaJS');
}

/** kafkajs' error and the errors it wraps (its retrier keeps the broker's answer as `cause`). */
function kafkajsChain(error: KafkajsErrorFields): KafkajsErrorFields[] {
  const chain: KafkajsErrorFields[] = [];
  let current: unknown = error;
  while (isKafkajsError(current) && chain.length < 8) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

/**
 * A kafkajs error as the project's KafkaError (ProducerFencedError when the broker fenced the producer), the original
 * kept as `cause`; any other error is returned unchanged (errors of our own code pass through the client untouched).
 * Exported for the classification's unit test.
 */
export function toKafkaError(error: unknown): unknown {
  if (!isKafkajsError(error)) return error;
  const chain = kafkajsChain(error);
  const fencing = chain.find((e) => e.type !== undefined && FENCING_TYPES.has(e.type));
  if (fencing?.type) return new ProducerFencedError(error.message, fencing.type, { cause: error });
  const brokerType = chain.find((e) => e.type !== undefined && e.type !== 'UNKNOWN')?.type;
  // What failed in the end, not that retries ran out: the innermost class the table knows, retries_exhausted last.
  const kinds = chain.map((e) => CLIENT_ERROR_CODES[e.name]).filter((k): k is string => k !== undefined);
  const kind = kinds.reverse().find((k) => k !== 'retries_exhausted') ?? kinds[0];
  const code = brokerType ?? kind ?? 'client_error';
  return new KafkaError(error.message, code, error.retriable !== false, { cause: error });
}

/**
 * Back to kafkajs' own error when a handler rethrows one we mapped: kafkajs decides from its own error classes whether
 * to log, retry or restart the consumer, and must decide exactly as it did before the mapping.
 */
function toKafkajsError(error: unknown): unknown {
  return error instanceof KafkaError && isKafkajsError(error.cause) ? error.cause : error;
}

async function mapped<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw toKafkaError(error);
  }
}

function mappedSync<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    throw toKafkaError(error);
  }
}

class KafkajsTransaction implements KafkaTransaction {
  constructor(private readonly transaction: Transaction) {}
  send(request: ProduceRequest) {
    return mapped(() => this.transaction.send(request));
  }
  sendOffsets(offsets: Parameters<KafkaTransaction['sendOffsets']>[0]) {
    return mapped(() => this.transaction.sendOffsets(offsets));
  }
  commit() {
    return mapped(() => this.transaction.commit());
  }
  abort() {
    return mapped(() => this.transaction.abort());
  }
  isActive() {
    return this.transaction.isActive();
  }
}

class KafkajsProducer implements KafkaProducer {
  constructor(private readonly producer: Producer) {}
  connect() {
    return mapped(() => this.producer.connect());
  }
  disconnect() {
    return mapped(() => this.producer.disconnect());
  }
  send(request: ProduceRequest) {
    return mapped(() => this.producer.send(request));
  }
  async transaction(): Promise<KafkaTransaction> {
    return new KafkajsTransaction(await mapped(() => this.producer.transaction()));
  }
}

class KafkajsConsumer implements KafkaConsumer {
  constructor(private readonly consumer: Consumer) {}
  connect() {
    return mapped(() => this.consumer.connect());
  }
  disconnect() {
    return mapped(() => this.consumer.disconnect());
  }
  stop() {
    return mapped(() => this.consumer.stop());
  }
  subscribe(subscription: { topic: string; fromBeginning?: boolean }) {
    return mapped(() => this.consumer.subscribe(subscription));
  }
  run(options: ConsumerRunOptions) {
    const { eachBatch, eachMessage, ...rest } = options;
    return mapped(() =>
      this.consumer.run({
        ...rest,
        ...(eachBatch
          ? {
              eachBatch: async (payload: EachBatchPayload) => {
                try {
                  await eachBatch({
                    batch: payload.batch,
                    resolveOffset: payload.resolveOffset,
                    heartbeat: payload.heartbeat,
                    isRunning: payload.isRunning,
                    isStale: payload.isStale,
                  });
                } catch (error) {
                  throw toKafkajsError(error);
                }
              },
            }
          : {}),
        ...(eachMessage
          ? {
              eachMessage: async ({ topic, partition, message, heartbeat }) => {
                try {
                  await eachMessage({ topic, partition, message, heartbeat });
                } catch (error) {
                  throw toKafkajsError(error);
                }
              },
            }
          : {}),
      }),
    );
  }
  commitOffsets(offsets: TopicPartitionOffset[]) {
    return mapped(() => this.consumer.commitOffsets(offsets));
  }
  seek(target: TopicPartitionOffset) {
    mappedSync(() => this.consumer.seek(target));
  }
  pause(topics: Array<{ topic: string; partitions?: number[] }>) {
    mappedSync(() => this.consumer.pause(topics));
  }
  resume(topics: Array<{ topic: string; partitions?: number[] }>) {
    mappedSync(() => this.consumer.resume(topics));
  }
  onAssigned(listener: (assignment: PartitionAssignment) => void): Unsubscribe {
    return this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => listener(event.payload.memberAssignment));
  }
  onBatchProcessed(listener: (batch: BatchProcessed) => void): Unsubscribe {
    return this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      listener({
        topic: payload.topic,
        partition: payload.partition,
        highWatermark: payload.highWatermark,
        firstOffset: payload.firstOffset,
        lastOffset: payload.lastOffset,
      }),
    );
  }
  onCrash(listener: (crash: ConsumerCrash) => void): Unsubscribe {
    return this.consumer.on(this.consumer.events.CRASH, ({ payload }) => listener({ error: toKafkaError(payload.error), restart: payload.restart }));
  }
}

class KafkajsAdmin implements KafkaAdmin {
  constructor(private readonly admin: Admin) {}
  connect() {
    return mapped(() => this.admin.connect());
  }
  disconnect() {
    return mapped(() => this.admin.disconnect());
  }
  listTopics() {
    return mapped(() => this.admin.listTopics());
  }
  createTopics(request: Parameters<KafkaAdmin['createTopics']>[0]) {
    return mapped(() => this.admin.createTopics(request));
  }
  deleteTopics(request: { topics: string[]; timeout?: number }) {
    return mapped(() => this.admin.deleteTopics(request));
  }
  fetchTopicMetadata(request?: { topics: string[] }) {
    return mapped(() => this.admin.fetchTopicMetadata(request));
  }
  fetchTopicOffsets(topic: string) {
    return mapped(() => this.admin.fetchTopicOffsets(topic));
  }
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number) {
    return mapped(() => this.admin.fetchTopicOffsetsByTimestamp(topic, timestamp));
  }
  fetchOffsets(request: { groupId: string; topics?: string[] }) {
    return mapped(() => this.admin.fetchOffsets(request));
  }
  setOffsets(request: Parameters<KafkaAdmin['setOffsets']>[0]) {
    return mapped(() => this.admin.setOffsets(request));
  }
  listGroups() {
    return mapped(() => this.admin.listGroups());
  }
  describeGroups(groupIds: string[]) {
    return mapped(() => this.admin.describeGroups(groupIds));
  }
  deleteGroups(groupIds: string[]) {
    return mapped(() => this.admin.deleteGroups(groupIds));
  }
}

class KafkajsClient implements KafkaClient {
  private readonly kafka: Kafka;

  constructor(
    readonly settings: KafkaSettings,
    private readonly logger: Logger,
    clientIdSuffix?: string,
  ) {
    this.kafka = new Kafka(toKafkaConfig(settings, logger, clientIdSuffix));
  }

  /** Idempotent producer with acks=all on every send (the caller passes acks: -1 implicitly via idempotence). */
  producer(options: ProducerOptions = {}): KafkaProducer {
    return new KafkajsProducer(
      mappedSync(() =>
        this.kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
          createPartitioner: Partitioners.DefaultPartitioner,
          ...(options.retries !== undefined ? { retry: { retries: options.retries } } : {}),
        }),
      ),
    );
  }

  /**
   * `fastRetry` retries broker "concurrent transactions" answers after ~15 ms instead of kafkajs' 300 ms default:
   * back-to-back transactions on one producer otherwise cost ~200 ms each while the previous commit's markers land.
   */
  transactionalProducer(transactionalId: string, transactionTimeoutMs = 60_000, options: { fastRetry?: boolean } = {}): KafkaProducer {
    return new KafkajsProducer(
      this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        transactionalId,
        transactionTimeout: transactionTimeoutMs,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        ...(options.fastRetry ? { retry: { initialRetryTime: 15, maxRetryTime: 2_000, retries: 30 } } : {}),
      }),
    );
  }

  consumer(options: ConsumerOptions): KafkaConsumer {
    return new KafkajsConsumer(this.rawConsumer(options));
  }

  private rawConsumer(options: ConsumerOptions): Consumer {
    const config: ConsumerConfig = {
      groupId: options.groupId,
      readUncommitted: !(options.readCommitted ?? true),
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      allowAutoTopicCreation: false,
    };
    return this.kafka.consumer(config);
  }

  admin(): KafkaAdmin {
    return new KafkajsAdmin(this.kafka.admin());
  }

  sendLimits(topics: readonly string[]): Promise<SendLimits> {
    return mapped(() => this.readSendLimits(topics));
  }

  ensureTopics(topics: Topics | readonly TopicSpec[]): Promise<void> {
    return mapped(() => retryTransient(() => this.ensureTopicsOnce(topics)));
  }

  deleteTopics(names: readonly string[]): Promise<void> {
    return mapped(() => this.deleteTopicsOnce(names));
  }

  readCompactedToEnd(topic: string, groupIdPrefix: string, options: { maxBytesPerPartition?: number } = {}): Promise<Map<string, Buffer | null>> {
    return mapped(() => this.readCompacted(topic, groupIdPrefix, options));
  }

  /**
   * The largest record batch each of `topics` accepts: the topic's `max.message.bytes` (which is the broker's
   * `message.max.bytes` unless the topic overrides it), or the broker's when the topic cannot be described, lowered
   * by KAFKA_MAX_BATCH_BYTES. Read once at start; every producer of the service sends through it.
   */
  private async readSendLimits(topics: readonly string[]): Promise<SendLimits> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const brokerLimit = await retryTransient(() => this.brokerMessageMaxBytes(admin));
      const described = await retryTransient(() =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: [...new Set(topics)].map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['max.message.bytes'] })),
        }),
      );
      const cap = this.settings.maxBatchBytes;
      const byTopic = new Map<string, number>();
      for (const r of described.resources) {
        const value = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
        const limit = r.errorCode === 0 && Number.isInteger(value) && value > 0 ? value : brokerLimit;
        byTopic.set(r.resourceName, Math.min(limit, cap));
      }
      this.logger.info({ limits: Object.fromEntries(byTopic), brokerMessageMaxBytes: brokerLimit }, 'send limits read from the topics');
      return new SendLimits(byTopic, Math.min(brokerLimit, cap));
    } finally {
      await admin.disconnect();
    }
  }

  private async brokerMessageMaxBytes(admin: Admin): Promise<number> {
    const cluster = await admin.describeCluster();
    const broker = cluster.brokers[0];
    if (!broker) return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: BROKER_RESOURCE, name: String(broker.nodeId), configNames: ['message.max.bytes'] }],
    });
    const value = Number(described.resources[0]?.configEntries.find((e) => e.configName === 'message.max.bytes')?.configValue);
    return Number.isInteger(value) && value > 0 ? value : KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  }

  private async ensureTopicsOnce(topics: Topics | readonly TopicSpec[]): Promise<void> {
    const specs = Array.isArray(topics) ? (topics as readonly TopicSpec[]) : Object.values(topics as Topics);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((t) => !existing.has(t.name));
      if (missing.length === 0) return;
      // createTopics answers false (not an error) when another instance created a topic first.
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
        })),
      });
      this.logger.info({ topics: missing.map((t) => t.name) }, 'created topics');
    } finally {
      await admin.disconnect();
    }
  }

  private async deleteTopicsOnce(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const present = names.filter((n) => existing.has(n));
      if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Reads a compacted topic from the beginning to the end offsets observed at call time and returns the latest
   * value per key (null = tombstone). Used to rebuild state on start (control plane, checkpoints, status).
   */
  private async readCompacted(topic: string, groupIdPrefix: string, options: { maxBytesPerPartition?: number }): Promise<Map<string, Buffer | null>> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; offset: string; low: string }>;
    try {
      const offsets = await retryTransient(() => admin.fetchTopicOffsets(topic));
      ends = offsets.map((o) => ({ partition: o.partition, offset: o.high, low: o.low }));
    } finally {
      await admin.disconnect();
    }
    const pending = new Set(ends.filter((e) => BigInt(e.offset) > BigInt(e.low)).map((e) => e.partition));
    const state = new Map<string, Buffer | null>();
    if (pending.size === 0) return state;
    const groupId = `${groupIdPrefix}-replay-${process.pid}-${Date.now()}`;
    const consumer = this.rawConsumer({
      groupId,
      readCommitted: true,
      ...(options.maxBytesPerPartition ? { maxBytesPerPartition: options.maxBytesPerPartition } : {}),
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const endOf = new Map(ends.map((e) => [e.partition, BigInt(e.offset)]));
        // The end is detected on END_BATCH_PROCESS, not inside eachBatch: kafkajs does not call eachBatch for a
        // fetch holding only transaction markers or aborted records, which is what ends a partition written
        // transactionally (checkpoints) whenever such a fetch comes last.
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          const end = endOf.get(payload.partition) ?? 0n;
          if (BigInt(payload.highWatermark) >= end && BigInt(payload.lastOffset) + 1n >= end && pending.delete(payload.partition)) {
            if (pending.size === 0) resolve();
          }
        });
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                if (m.key) state.set(m.key.toString(), m.value);
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
      // The throwaway group must not accumulate on the broker.
      const cleanup = this.kafka.admin();
      await cleanup.connect();
      await cleanup.deleteGroups([groupId]).catch(() => undefined);
      await cleanup.disconnect();
    }
    return state;
  }
}

export function createKafkaClient(settings: KafkaSettings, logger: Logger, clientIdSuffix?: string): KafkaClient {
  return new KafkajsClient(settings, logger, clientIdSuffix);
}

/**
 * The partition the producers' default partitioner (murmur2 of the key, as Java's DefaultPartitioner) puts a key on,
 * for a topic with `partitions` partitions: where one organization's records are (replay reads only that one).
 */
export function partitionForKey(key: string | Buffer, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`partitions must be a positive integer, got ${partitions}`);
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return Partitioners.DefaultPartitioner()({ topic: '', partitionMetadata, message: { key, value: null } });
}
