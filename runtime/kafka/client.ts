/**
 * The project's own Kafka client interface (docs/decisions/0172). Services, the CLI, benchmarks and tests program
 * against these types only; one adapter (./kafkajs-adapter.ts) implements them with kafkajs, the only file that
 * imports it. Another client replaces kafkajs by implementing this file's interfaces in one new adapter.
 *
 * The shapes are the subset of a Kafka client the project uses, in Kafka's own vocabulary (offsets as decimal
 * strings, partitions as numbers, broker error names such as NOT_LEADER_OR_FOLLOWER as codes): nothing here is
 * specific to one client library.
 */
import type { SendLimits } from '../send-limits.ts';
import type { TopicSpec, Topics } from '../topics.ts';
import type { KafkaSettings } from './settings.ts';

/** Header values: a string or bytes when sent, bytes when read back (a repeated header arrives as a list). */
export type KafkaHeaders = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

/** A record to produce. Without `partition` the key picks it (murmur2, as Java's default partitioner). */
export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: KafkaHeaders;
  /** Milliseconds since the epoch as a decimal string; the broker's time when absent. */
  timestamp?: string;
}

/** A record as consumed. */
export interface ConsumedMessage {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  /** Milliseconds since the epoch as a decimal string. */
  timestamp: string;
  headers?: KafkaHeaders;
}

/** Where one produced batch landed, per partition. */
export interface RecordMetadata {
  topicName: string;
  partition: number;
  /** 0 when the broker accepted the batch. */
  errorCode: number;
  baseOffset?: string;
}

export interface ProduceRequest {
  topic: string;
  messages: OutgoingMessage[];
  /** -1 = all in-sync replicas (the idempotent producers always use it). */
  acks?: number;
  timeout?: number;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read. */
  offset: string;
}

/** A producer's open transaction: records and consumer offsets commit or abort together. */
export interface KafkaTransaction {
  send(request: ProduceRequest): Promise<RecordMetadata[]>;
  /** Commits a consumer group's offsets inside this transaction (exactly-once consume → produce). */
  sendOffsets(offsets: { consumerGroupId: string; topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

export interface KafkaProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(request: ProduceRequest): Promise<RecordMetadata[]>;
  /** Begins a transaction (transactional producers only). */
  transaction(): Promise<KafkaTransaction>;
}

export interface ProducerOptions {
  /**
   * Ask the broker to create a topic a send names that does not exist. Off: topics are created with their settings
   * by `ensureTopics` only (the test of the launcher's broker proves it refuses auto-creation either way).
   */
  allowAutoTopicCreation?: boolean;
  /** Retries of one request before the send fails, at least 1 (the producer is idempotent); the client's default when absent. */
  retries?: number;
}

/** A fetched batch of one partition. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  /** The partition's end offset when the batch was fetched. */
  highWatermark: string;
  messages: ConsumedMessage[];
  isEmpty(): boolean;
  /** Offset of the first message, null for an empty batch. */
  firstOffset(): string | null;
  lastOffset(): string;
}

/** What a batch handler gets: the batch and the consumer's controls while handling it. */
export interface BatchPayload {
  batch: ConsumedBatch;
  /** Marks `offset` processed: the consumer fetches past it (committed only by autoCommit or commitOffsets). */
  resolveOffset(offset: string): void;
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the consumer stops. */
  isRunning(): boolean;
  /** True when a seek made the rest of this batch obsolete. */
  isStale(): boolean;
}

export interface MessagePayload {
  topic: string;
  partition: number;
  message: ConsumedMessage;
  heartbeat(): Promise<void>;
}

export type BatchHandler = (payload: BatchPayload) => Promise<void>;
export type MessageHandler = (payload: MessagePayload) => Promise<void>;

export interface ConsumerRunOptions {
  /** Commit resolved offsets periodically. Off wherever commits follow durable writes (commitOffsets, sendOffsets). */
  autoCommit?: boolean;
  /** Resolve every message of a batch when the handler returns (default true); off when the handler resolves. */
  eachBatchAutoResolve?: boolean;
  /** Partitions whose batches are handled at the same time (default 1). */
  partitionsConsumedConcurrently?: number;
  eachBatch?: BatchHandler;
  eachMessage?: MessageHandler;
}

/** The partitions this member was given, per topic, after it joined (or rejoined) its group. */
export type PartitionAssignment = Readonly<Record<string, readonly number[]>>;

/** A fetched batch was handled. Fired also for fetches holding only transaction markers or aborted records. */
export interface BatchProcessed {
  topic: string;
  partition: number;
  highWatermark: string;
  firstOffset: string;
  lastOffset: string;
}

/** The consumer stopped on an error; with `restart` the client starts it again itself, otherwise it stays down. */
export interface ConsumerCrash {
  error: unknown;
  restart: boolean;
}

/** Removes a listener. */
export type Unsubscribe = () => void;

export interface KafkaConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Stops fetching; the member stays connected. */
  stop(): Promise<void>;
  subscribe(subscription: { topic: string; fromBeginning?: boolean }): Promise<void>;
  /** Starts consuming; resolves once the consumer runs (handlers are called from then on). */
  run(options: ConsumerRunOptions): Promise<void>;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Moves the next fetch of a partition to `offset`. */
  seek(target: TopicPartitionOffset): void;
  pause(topics: Array<{ topic: string; partitions?: number[] }>): void;
  resume(topics: Array<{ topic: string; partitions?: number[] }>): void;
  /** Called after each group join with this member's partitions (a rebalance revokes what is no longer listed). */
  onAssigned(listener: (assignment: PartitionAssignment) => void): Unsubscribe;
  onBatchProcessed(listener: (batch: BatchProcessed) => void): Unsubscribe;
  onCrash(listener: (crash: ConsumerCrash) => void): Unsubscribe;
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

export interface PartitionMetadata {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
  partitionErrorCode: number;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  clientHost: string;
}

export interface GroupDescription {
  groupId: string;
  /** Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead. */
  state: string;
  protocol: string;
  members: GroupMember[];
}

/** Cluster administration: topics, consumer groups and their offsets. */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(request: {
    topics: Array<{ topic: string; numPartitions?: number; replicationFactor?: number; configEntries?: Array<{ name: string; value: string }> }>;
    waitForLeaders?: boolean;
    timeout?: number;
  }): Promise<boolean>;
  deleteTopics(request: { topics: string[]; timeout?: number }): Promise<void>;
  fetchTopicMetadata(request?: { topics: string[] }): Promise<{ topics: Array<{ name: string; partitions: PartitionMetadata[] }> }>;
  /** Per partition: `high` = the end offset, `low` = the first offset still kept. */
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; offset: string; high: string; low: string }>>;
  /** Per partition: the first offset at or after `timestamp` (milliseconds), the end offset when none. */
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<Array<{ partition: number; offset: string }>>;
  /** A group's committed offsets ("-1" where it committed none). */
  fetchOffsets(request: { groupId: string; topics?: string[] }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  setOffsets(request: { groupId: string; topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void>;
  listGroups(): Promise<{ groups: Array<{ groupId: string; protocolType: string }> }>;
  describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }>;
  deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; errorCode?: number }>>;
}

/** The Kafka client every service gets from `createKafkaClient` (runtime/kafka/kafkajs-adapter.ts). */
export interface KafkaClient {
  /** The settings it connects with (tests hand the same brokers to the services they start). */
  readonly settings: KafkaSettings;
  /** Idempotent producer, acks=all on every send. */
  producer(options?: ProducerOptions): KafkaProducer;
  /**
   * Transactional producer: exactly-once consume→produce together with `sendOffsets`. Its stable id fences an earlier
   * holder (a send of the fenced one fails with ProducerFencedError). `fastRetry` retries the broker's "concurrent
   * transactions" answer quickly: back-to-back transactions otherwise wait while the previous commit's markers land.
   */
  transactionalProducer(transactionalId: string, transactionTimeoutMs?: number, options?: { fastRetry?: boolean }): KafkaProducer;
  consumer(options: ConsumerOptions): KafkaConsumer;
  admin(): KafkaAdmin;
  /**
   * The largest record batch each of `topics` accepts (its `max.message.bytes`, else the broker's), lowered by
   * KAFKA_MAX_BATCH_BYTES. Read once at start.
   */
  sendLimits(topics: readonly string[]): Promise<SendLimits>;
  /** Creates missing topics with their partition/cleanup/retention settings; leaves existing ones alone. */
  ensureTopics(topics: Topics | readonly TopicSpec[]): Promise<void>;
  deleteTopics(names: readonly string[]): Promise<void>;
  /**
   * Reads a compacted topic from the beginning to the end offsets observed at call time and returns the latest value
   * per key (null = tombstone). Used to rebuild state on start (control plane, checkpoints, status).
   */
  readCompactedToEnd(topic: string, groupIdPrefix: string, options?: { maxBytesPerPartition?: number }): Promise<Map<string, Buffer | null>>;
}

/**
 * An error of the Kafka client (cluster unreachable, a request refused or timed out), as the adapter maps it: `code`
 * is the broker's error name (e.g. NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE) or the client's failure kind
 * (connection, request_timeout, timeout, authentication, retries_exhausted, client_error). `retriable` is the
 * client's own view once its retries are spent; it is deliberately not a `ClassifiedError` of ours (runtime/retry.ts
 * treats it as unclassified). The client's original error is the `cause`.
 */
export class KafkaError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KafkaError';
  }
}

/** A transactional producer lost its transactional id to another producer (this instance's partition moved). */
export class ProducerFencedError extends KafkaError {
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, code, false, options);
    this.name = 'ProducerFencedError';
  }
}

/** The error and the errors it wraps, outermost first. */
function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** True when a transaction failed because another producer took its transactional id over (also when wrapped). */
export function isProducerFenced(error: unknown): boolean {
  return errorChain(error).some((e) => e instanceof ProducerFencedError);
}

/** True when an error comes from the Kafka client (cluster unreachable, a request refused or timed out), not from our code. */
export function isKafkaClientError(error: unknown): boolean {
  return errorChain(error).some((e) => e instanceof KafkaError);
}
