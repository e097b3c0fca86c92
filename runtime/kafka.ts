/**
 * The one module that touches kafkajs. Services get clients, types and helpers from here so the Kafka client can be
 * replaced in one place (fixed choice: hide the Kafka client behind one module of the shared runtime).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  CompressionTypes,
  type ConfigResourceTypes,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type KafkaConfig,
  type LogEntry,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Logger } from './logger.ts';
import { envBoolean, envInt, parseSettings, setting } from './settings.ts';
import type { TopicSpec, Topics } from './topics.ts';
import { PermanentError, withRetry } from './retry.ts';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, SendLimits } from './send-limits.ts';

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

export type {
  Admin as KafkaAdmin,
  Consumer as KafkaConsumer,
  Producer as KafkaProducer,
  Transaction as KafkaTransaction,
  EachBatchPayload,
  EachMessagePayload,
  KafkaMessage,
  Message as OutgoingMessage,
  IHeaders as KafkaHeaders,
  RecordMetadata,
  TopicPartitionOffsetAndMetadata,
  ConsumerCrashEvent,
  Batch as KafkaBatch,
} from 'kafkajs';
export { CompressionTypes };

export const kafkaSettingsSpec = {
  brokers: setting(
    'KAFKA_BROKERS',
    z
      .string()
      .default('127.0.0.1:9092')
      .transform((v) =>
        v
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean),
      )
      .refine((list) => list.length > 0 && list.every((b) => /^[^:\s]+:\d{1,5}$/.test(b)), {
        message: 'expected host:port[,host:port…]',
      }),
    'Kafka bootstrap brokers, comma separated',
  ),
  clientId: setting('KAFKA_CLIENT_ID', z.string().default('m365-siem'), 'client id prefix sent to Kafka'),
  ssl: setting('KAFKA_SSL', envBoolean(false), 'connect to Kafka over TLS'),
  sslCaFile: setting('KAFKA_SSL_CA_FILE', z.string().optional(), "PEM file of the CA that signed the brokers' certificates"),
  sslRejectUnauthorized: setting('KAFKA_SSL_REJECT_UNAUTHORIZED', envBoolean(true), 'verify broker certificates (keep true in production)'),
  saslMechanism: setting(
    'KAFKA_SASL_MECHANISM',
    z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    'SASL mechanism: plain, scram-sha-256 or scram-sha-512; unset = no SASL',
  ),
  saslUsername: setting('KAFKA_SASL_USERNAME', z.string().optional(), 'SASL user name'),
  saslPassword: setting('KAFKA_SASL_PASSWORD', z.string().optional(), 'SASL password (never logged)'),
  connectionTimeoutMs: setting('KAFKA_CONNECTION_TIMEOUT_MS', envInt(10_000, 100, 600_000), 'broker connection timeout'),
  requestTimeoutMs: setting('KAFKA_REQUEST_TIMEOUT_MS', envInt(30_000, 100, 600_000), 'broker request timeout'),
  maxBatchBytes: setting(
    'KAFKA_MAX_BATCH_BYTES',
    envInt(Number.MAX_SAFE_INTEGER, 1_024),
    "most bytes of one send (record batch); the topics' max.message.bytes, read at start, applies when lower (unset = that limit)",
  ),
} as const;

export type KafkaSettings = ReturnType<typeof parseKafkaSettings>;

export function parseKafkaSettings(env: Readonly<Record<string, string | undefined>>) {
  const s = parseSettings(kafkaSettingsSpec, env);
  if (s.saslMechanism && (!s.saslUsername || !s.saslPassword)) {
    throw new Error('invalid configuration:\n  - KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set');
  }
  return s;
}

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

/** Builds the kafkajs config from settings; exported for tests of TLS/SASL wiring. */
export function toKafkaConfig(s: KafkaSettings, logger: Logger, clientIdSuffix?: string): KafkaConfig {
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

export interface ConsumerOptions {
  groupId: string;
  /** Read only committed transactional data (siem.events consumers must). */
  readCommitted?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBytesPerPartition?: number;
  rebalanceTimeoutMs?: number;
}

export class KafkaClient {
  readonly kafka: Kafka;

  constructor(
    readonly settings: KafkaSettings,
    private readonly logger: Logger,
    clientIdSuffix?: string,
  ) {
    this.kafka = new Kafka(toKafkaConfig(settings, logger, clientIdSuffix));
  }

  /** Idempotent producer with acks=all on every send (the caller passes acks: -1 implicitly via idempotence). */
  producer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  /**
   * Transactional producer: exactly-once consume→produce together with `sendOffsets`.
   * `fastRetry` retries broker "concurrent transactions" answers after ~15 ms instead of kafkajs' 300 ms default:
   * back-to-back transactions on one producer otherwise cost ~200 ms each while the previous commit's markers land.
   */
  transactionalProducer(transactionalId: string, transactionTimeoutMs = 60_000, options: { fastRetry?: boolean } = {}): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId,
      transactionTimeout: transactionTimeoutMs,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(options.fastRetry ? { retry: { initialRetryTime: 15, maxRetryTime: 2_000, retries: 30 } } : {}),
    });
  }

  consumer(options: ConsumerOptions): Consumer {
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

  admin(): Admin {
    return this.kafka.admin();
  }

  /**
   * The largest record batch each of `topics` accepts: the topic's `max.message.bytes` (which is the broker's
   * `message.max.bytes` unless the topic overrides it), or the broker's when the topic cannot be described, lowered
   * by KAFKA_MAX_BATCH_BYTES. Read once at start; every producer of the service sends through it.
   */
  async sendLimits(topics: readonly string[]): Promise<SendLimits> {
    const admin = this.admin();
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

  /** Creates missing topics with their partition/cleanup/retention settings; leaves existing ones alone. */
  async ensureTopics(topics: Topics | readonly TopicSpec[]): Promise<void> {
    await retryTransient(() => this.ensureTopicsOnce(topics));
  }

  private async ensureTopicsOnce(topics: Topics | readonly TopicSpec[]): Promise<void> {
    const specs = Array.isArray(topics) ? (topics as readonly TopicSpec[]) : Object.values(topics as Topics);
    const admin = this.admin();
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

  async deleteTopics(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const admin = this.admin();
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
  async readCompactedToEnd(topic: string, groupIdPrefix: string, options: { maxBytesPerPartition?: number } = {}): Promise<Map<string, Buffer | null>> {
    const admin = this.admin();
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
    const consumer = this.consumer({
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
      const cleanup = this.admin();
      await cleanup.connect();
      await cleanup.deleteGroups([groupId]).catch(() => undefined);
      await cleanup.disconnect();
    }
    return state;
  }
}

/** The error and the errors it wraps (kafkajs nests the broker's answer in `cause` / `originalError`). */
function errorChain(error: unknown): Array<{ name?: string; message?: string; type?: string }> {
  const chain: Array<{ name?: string; message?: string; type?: string }> = [];
  let current = error as { name?: string; message?: string; type?: string; cause?: unknown; originalError?: unknown } | undefined;
  while (current && typeof current === 'object' && chain.length < 8) {
    chain.push(current);
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return chain;
}

/**
 * True when a transaction failed because another producer took its transactional id over (this instance was fenced:
 * its partition moved). Classified here, from the client's error types — and, because kafkajs reports some fencing
 * only in its message, from the message — so services never inspect Kafka client errors themselves.
 */
export function isProducerFenced(error: unknown): boolean {
  return errorChain(error).some(
    (e) =>
      e.type === 'INVALID_PRODUCER_EPOCH' ||
      e.type === 'PRODUCER_FENCED' ||
      /fenc|INVALID_PRODUCER_EPOCH|ProducerFenced|epoch/i.test(`${e.name ?? ''} ${e.message ?? ''}`),
  );
}

/** True when an error comes from the Kafka client (cluster unreachable, a request refused or timed out), not from our code. */
export function isKafkaClientError(error: unknown): boolean {
  return errorChain(error).some((e) => typeof e.name === 'string' && e.name.startsWith('KafkaJS'));
}

export function createKafkaClient(settings: KafkaSettings, logger: Logger, clientIdSuffix?: string): KafkaClient {
  return new KafkaClient(settings, logger, clientIdSuffix);
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
