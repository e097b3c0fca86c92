import {
  RetryAbortedError,
  buildDeadLetter,
  ConsumerSupervisor,
  DEAD_LETTER_HEADERS,
  EVENT_HEADERS,
  headerText,
  sleep,
  withRetry,
  type OutgoingMessage,
  type SendLimits,
  type BatchPayload,
  type KafkaClient,
  type ConsumedMessage,
  type KafkaProducer,
  type Logger,
  type Metrics,
  type OpenSearchClient,
  isDeadLetterCode,
  type DeadLetterCode,
} from '../runtime/index.ts';
import { decodeSiemEvent } from '../schemas/index.ts';
import { BulkWriter, WriteAbortedError, createBulkWriterMetrics, type BulkDocument, type DocumentResult } from './bulk-writer.ts';
import { avroToEventDocument, toEventDocument, type SiemEventObject } from './event-document.ts';
import { OrganizationAliases } from './organization-aliases.ts';

export interface IndexerOptions {
  eventsTopic: string;
  deadLetterTopic: string;
  groupId: string;
  prefix: string;
  opType: 'create' | 'index';
  bulkMaxDocs: number;
  bulkMaxBytes: number;
  retryInitialMs: number;
  retryMaxMs: number;
  partitionsConsumedConcurrently: number;
  bulkConcurrency: number;
  /** Most bytes one fetch takes from a partition (the size of a Kafka batch). */
  fetchMaxBytesPerPartition: number;
  /** Batches being written at once while the next is fetched (≥ 1). */
  pipelineDepth: number;
  /** Start from the earliest offset when the group has no committed offset (default true: nothing skipped). */
  fromBeginning?: boolean;
}

/** How the indexer decodes a `siem.events` value; injectable for tests of undecodable input. */
export type EventDecoder = (value: Buffer) => SiemEventObject;

/** Messages decoded between two yields to the event loop (about 5 ms of work). */
const PREPARE_SLICE = 500;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One message's fate before OpenSearch: a document to write, or a dead letter already decided. */
type Prepared =
  | { kind: 'doc'; message: ConsumedMessage; doc: BulkDocument; orgId: string; index: string }
  | { kind: 'dead-letter'; message: ConsumedMessage; orgId: string | null; code: DeadLetterCode; reason: string; input: Buffer | string | null };

/**
 * Consumes `siem.events` (read_committed) in batches and writes each batch to OpenSearch with `_bulk`; a batch's
 * offsets are committed only after every message in it is durable: indexed, already indexed (409 on create), or
 * dead-lettered with the DLQ write acknowledged. While OpenSearch is throttling or unreachable the batch keeps
 * retrying (heartbeating) and the partition consumes nothing more: backpressure, no loss.
 */
export class IndexerService {
  private supervisor: ConsumerSupervisor | null = null;
  private readonly consumerRestarts;
  private producer: KafkaProducer | null = null;
  private limits: SendLimits | null = null;
  private readonly abort = new AbortController();
  private readonly writer: BulkWriter;
  private readonly aliases: OrganizationAliases;
  private readonly documents;
  private readonly deadLetters;
  private readonly batches;
  private readonly lastCommit;
  private readonly decode: EventDecoder;
  /** True with the schemas/ decoder: values of the latest schema are transcoded without decoding. */
  private readonly transcode: boolean;
  /** The decoder's last error, to tell undecodable input from a document that cannot be built. */
  private decodeError: unknown = null;
  private readonly trackedDecode = (value: Buffer): SiemEventObject => {
    try {
      return this.decode(value);
    } catch (error) {
      this.decodeError = error;
      throw error;
    }
  };
  private assigned = 0;
  private started = false;
  private firstBatch: number | null = null;
  /** Bumped at every group join: work of an older generation no longer commits. */
  private generation = 0;
  /** Per partition: resolves true when that partition's latest batch (and all before it) were committed. */
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly committedOffsets = new Map<string, bigint>();
  /** Partitions sought back to a failed batch: batches before it arrives again are ignored. */
  private readonly rewinds = new Map<string, bigint>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly kafka: KafkaClient,
    opensearch: OpenSearchClient,
    private readonly options: IndexerOptions,
    private readonly logger: Logger,
    metrics: Metrics,
    decode?: EventDecoder,
  ) {
    this.decode = decode ?? (decodeSiemEvent as unknown as EventDecoder);
    this.transcode = decode === undefined;
    this.writer = new BulkWriter(
      opensearch,
      {
        opType: options.opType,
        maxDocs: options.bulkMaxDocs,
        maxBytes: options.bulkMaxBytes,
        retryInitialMs: options.retryInitialMs,
        retryMaxMs: options.retryMaxMs,
        concurrency: options.bulkConcurrency,
      },
      logger,
      createBulkWriterMetrics(metrics),
    );
    this.aliases = new OrganizationAliases(opensearch, options.prefix, logger);
    this.documents = metrics.counter('documents', 'events by outcome: indexed, duplicate (already indexed), dead_letter', ['outcome']);
    this.deadLetters = metrics.counter('dead_letters', 'events sent to the dead-letter topic, by error code', ['code']);
    this.consumerRestarts = metrics.counter(
      'consumer_restarts',
      'times the siem.events consumer stopped for good (client crash without restart) and was started again',
    );
    this.batches = metrics.counter('batches', 'Kafka batches made durable and committed');
    this.lastCommit = metrics.gauge('last_commit', 'timestamp_seconds', 'time of the last offset commit');
  }

  /** Null when ready; otherwise why not (for /readyz). */
  readiness(): string | null {
    if (!this.started) return 'starting';
    if (this.abort.signal.aborted) return 'stopping';
    const consumer = this.supervisor?.readiness() ?? null;
    if (consumer !== null) return consumer;
    const waiting = this.writer.waitingSinceMs;
    if (waiting !== null && Date.now() - waiting > 10_000)
      return `OpenSearch throttling or unreachable for ${Math.round((Date.now() - waiting) / 1000)} s; consumption waits`;
    return null;
  }

  get assignedPartitions(): number {
    return this.assigned;
  }

  /** `performance.now()` when the first batch arrived (after group join and offset lookup), or null. */
  get firstBatchAt(): number | null {
    return this.firstBatch;
  }

  async start(): Promise<void> {
    this.limits = await this.kafka.sendLimits([this.options.deadLetterTopic]);
    this.producer = this.kafka.producer();
    await this.producer.connect();
    this.supervisor = new ConsumerSupervisor({
      name: `${this.options.eventsTopic} consumer`,
      logger: this.logger,
      create: () => {
        const consumer = this.kafka.consumer({
          groupId: this.options.groupId,
          readCommitted: true,
          // Small fetches keep the pipeline fed: the next batch is fetched and decoded while earlier ones are written.
          maxBytesPerPartition: this.options.fetchMaxBytesPerPartition,
        });
        consumer.onAssigned((assignment) => {
          // A new generation (or a restarted consumer): the consumer fetches from the committed offsets again, so forget
          // in-flight chains; work of the older generation no longer commits.
          this.generation++;
          this.chains.clear();
          this.committedOffsets.clear();
          this.rewinds.clear();
          this.assigned = Object.values(assignment).reduce((n, p) => n + p.length, 0);
          this.logger.info({ assignment }, 'joined consumer group');
        });
        return consumer;
      },
      run: async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topic: this.options.eventsTopic, fromBeginning: this.options.fromBeginning ?? true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
          eachBatch: (payload) => this.handleBatch(payload),
        });
      },
      onRestart: () => this.consumerRestarts.inc(),
    });
    await this.supervisor.start();
    this.started = true;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
    await this.supervisor?.close().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
    await this.producer?.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'producer disconnect failed'));
    this.supervisor = null;
    this.producer = null;
  }

  /**
   * Called by the consumer for each fetched batch. The batch is decoded here and handed to a bounded pipeline of
   * `pipelineDepth` batches being written; this returns as soon as there is room, so the consumer fetches and decodes
   * the next batch while OpenSearch indexes the previous ones (it fetches only after eachBatch returns).
   * Offsets are committed per partition in order, each only when its batch and every batch before it are durable.
   * A full pipeline (OpenSearch slow or away) keeps this waiting: no further fetches, backpressure.
   */
  private async handleBatch(payload: BatchPayload): Promise<void> {
    const { batch, heartbeat, resolveOffset } = payload;
    this.firstBatch ??= performance.now();
    const generation = this.generation;
    if (this.abort.signal.aborted) return;
    const next = BigInt(batch.lastOffset()) + 1n;
    const key = `${batch.topic}\u0000${batch.partition}`;
    let before = this.chains.get(key) ?? Promise.resolve(true);
    const rewind = this.rewinds.get(key);
    if (rewind !== undefined) {
      const first = batch.firstOffset();
      // Fetched before the rewind took effect: it comes again after the rewound batch.
      if (first === null || BigInt(first) > rewind) return;
      this.rewinds.delete(key);
      before = Promise.resolve(true);
    }
    // Decoding a whole fetch at once would block the event loop for tens of milliseconds, leaving finished `_bulk`
    // requests unanswered and their slots idle; slices with a yield in between keep OpenSearch fed.
    const prepared: Prepared[] = new Array(batch.messages.length);
    for (let i = 0; i < batch.messages.length; i++) {
      if (i > 0 && i % PREPARE_SLICE === 0) await yieldToEventLoop();
      prepared[i] = this.prepare(batch.messages[i]!);
    }
    const beat = () => heartbeat().catch(() => undefined);
    const hooks = { shouldAbort: () => this.abort.signal.aborted || this.generation !== generation, onWait: beat };
    const firstOffset = batch.firstOffset();
    const job = this.writeBatch(batch.topic, batch.partition, prepared, hooks).catch((error: unknown) => {
      // Not expected (every step retries or aborts): consume the partition again from this batch, on a new chain;
      // the batches behind it in the pipeline never commit (their chain is broken) and are consumed again too.
      this.logger.error({ err: error, topic: batch.topic, partition: batch.partition }, 'batch failed unexpectedly; consuming it again');
      if (firstOffset !== null && this.generation === generation && !this.abort.signal.aborted) {
        this.rewinds.set(key, BigInt(firstOffset));
        try {
          this.supervisor?.current?.seek({ topic: batch.topic, partition: batch.partition, offset: firstOffset });
        } catch (seekError) {
          this.logger.error({ err: seekError }, 'seek failed; the batch is consumed again after the next rebalance or restart');
        }
      }
      return false;
    });
    const committed = (async () => {
      const [durable, earlierDurable] = await Promise.all([job, before]);
      // A durable batch is committed even while shutting down (fewer re-deliveries); an older generation's is not.
      if (!durable || !earlierDurable || this.generation !== generation) return false;
      return this.commit(batch.topic, batch.partition, next, generation);
    })();
    this.chains.set(key, committed);
    const tracked = committed.then(() => undefined);
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
    // Let the consumer fetch past this batch; nothing is committed until `committed` says so.
    resolveOffset(batch.lastOffset());
    while (this.inflight.size >= this.options.pipelineDepth && !hooks.shouldAbort()) {
      await Promise.race([...this.inflight, sleep(1000)]);
      await beat();
    }
  }

  /** Writes one batch until every message is durable; false when aborted (shutdown, partitions reassigned). */
  private async writeBatch(
    topic: string,
    partition: number,
    prepared: readonly Prepared[],
    hooks: { shouldAbort: () => boolean; onWait: () => Promise<unknown> },
  ): Promise<boolean> {
    if (prepared.length === 0) return true;
    const docs: Array<Extract<Prepared, { kind: 'doc' }>> = [];
    for (const p of prepared) if (p.kind === 'doc') docs.push(p);
    let results: DocumentResult[];
    try {
      results = await this.writer.write(
        docs.map((d) => d.doc),
        { shouldAbort: hooks.shouldAbort, onWait: async () => void (await hooks.onWait()) },
      );
    } catch (error) {
      if (error instanceof WriteAbortedError) return false;
      throw error;
    }

    const deadLetters: OutgoingMessage[] = [];
    const written: Array<{ index: string; orgId: string }> = []; // the prepared docs themselves: no object per document
    let indexed = 0;
    let duplicates = 0;
    for (let i = 0; i < docs.length; i++) {
      const d = docs[i]!;
      const r = results[i]!;
      if (r.kind === 'indexed') indexed++;
      else if (r.kind === 'duplicate') duplicates++;
      if (r.kind === 'dead-letter') deadLetters.push(this.deadLetter(topic, partition, d.message, d.orgId, r.code, r.reason, d.doc.source));
      else written.push(d);
    }
    for (const p of prepared) {
      if (p.kind === 'dead-letter') deadLetters.push(this.deadLetter(topic, partition, p.message, p.orgId, p.code, p.reason, p.input));
    }

    if (!(await this.untilDone(() => this.aliases.ensure(written), 'organization aliases', hooks))) return false;
    if (deadLetters.length > 0 && !(await this.untilDone(() => this.sendDeadLetters(deadLetters), 'dead-letter write', hooks))) return false;

    this.documents.inc({ outcome: 'indexed' }, indexed);
    this.documents.inc({ outcome: 'duplicate' }, duplicates);
    if (deadLetters.length > 0) {
      this.documents.inc({ outcome: 'dead_letter' }, deadLetters.length);
      for (const d of deadLetters) this.deadLetters.inc({ code: String(d.headers?.[DEAD_LETTER_HEADERS.errorCode] ?? 'unknown') });
    }
    return true;
  }

  /** Commits `offset` (the next to read) for a partition unless a later one is committed or the group moved on. */
  private async commit(topic: string, partition: number, offset: bigint, generation: number): Promise<boolean> {
    const key = `${topic}\u0000${partition}`;
    const last = this.committedOffsets.get(key);
    if (last !== undefined && last >= offset) return true;
    const consumer = this.supervisor?.current;
    if (!consumer || this.generation !== generation) return false;
    try {
      await consumer.commitOffsets([{ topic, partition, offset: offset.toString() }]);
    } catch (error) {
      // The partition may have moved to another member: it indexes the batch again, and 409s make that harmless.
      this.logger.warn({ err: error, topic, partition }, 'offset commit failed; the batch will be consumed again');
      return false;
    }
    this.committedOffsets.set(key, offset);
    this.batches.inc();
    this.lastCommit.setToCurrentTime();
    return true;
  }

  private prepare(message: ConsumedMessage): Prepared {
    const key = message.key ? message.key.toString('utf8') : null;
    if (message.value === null || message.value.length === 0) {
      return { kind: 'dead-letter', message, orgId: key, code: 'empty_value', reason: 'message has no value', input: null };
    }
    this.decodeError = null;
    let outcome: ReturnType<typeof toEventDocument>;
    try {
      // The default decoder's schema: transcode Avro straight to JSON; an injected decoder: decode, then serialize.
      outcome = this.transcode
        ? avroToEventDocument(message.value, this.options.prefix, key, this.trackedDecode)
        : toEventDocument(this.trackedDecode(message.value), this.options.prefix, key);
    } catch (error) {
      const decodeError = this.decodeError as unknown;
      if (decodeError !== null) {
        const code = (decodeError as { code?: unknown }).code;
        return {
          kind: 'dead-letter',
          message,
          orgId: key,
          code: isDeadLetterCode(code) ? code : 'avro_invalid',
          reason: `cannot decode Avro: ${decodeError instanceof Error ? decodeError.message : String(decodeError)}`.slice(0, 2000),
          input: message.value,
        };
      }
      const reason = `cannot build the document: ${error instanceof Error ? error.message : String(error)}`.slice(0, 2000);
      return { kind: 'dead-letter', message, orgId: key, code: 'document_invalid', reason, input: message.value };
    }
    if (outcome.kind === 'ok') {
      const d = outcome.value;
      return { kind: 'doc', message, orgId: d.orgId, index: d.index, doc: d };
    }
    const reason = outcome.kind === 'dead-letter' ? outcome.reason : outcome.reason;
    const code = outcome.kind === 'dead-letter' ? outcome.code : 'skipped';
    return { kind: 'dead-letter', message, orgId: key, code, reason, input: message.value };
  }

  /** A dead letter through the runtime's one builder: it fits the dead-letter topic whatever the input's size. */
  private deadLetter(
    topic: string,
    partition: number,
    message: ConsumedMessage,
    orgId: string | null,
    code: DeadLetterCode,
    reason: string,
    input: Buffer | string | null,
  ): OutgoingMessage {
    const source = headerText(message.headers, EVENT_HEADERS.source);
    return buildDeadLetter(
      { stage: 'index', orgId, source, errorCode: code, errorMessage: reason, input, origin: { topic, partition, offset: message.offset } },
      this.requireLimits().maxRecordBytes(this.options.deadLetterTopic),
    );
  }

  private requireLimits(): SendLimits {
    if (!this.limits) throw new Error('indexer not started: send limits unknown');
    return this.limits;
  }

  /** Dead letters in sends the broker accepts (a burst of them never forms a batch it refuses for ever). */
  private async sendDeadLetters(letters: readonly OutgoingMessage[]): Promise<void> {
    if (!this.producer) throw new Error('producer not started');
    await this.requireLimits().send(this.producer, this.options.deadLetterTopic, letters, { acks: -1 });
  }

  /** Retries one idempotent step until it succeeds; false when aborted (then nothing is committed). */
  private async untilDone(step: () => Promise<unknown>, what: string, hooks: { shouldAbort: () => boolean; onWait: () => Promise<unknown> }): Promise<boolean> {
    let warned = false;
    try {
      await withRetry(() => step(), {
        // Offsets wait for this step, so it is retried until done whatever the error: consumption waits (backpressure).
        attempts: Number.POSITIVE_INFINITY,
        retriable: () => true,
        initialMs: this.options.retryInitialMs,
        maxMs: this.options.retryMaxMs,
        shouldAbort: hooks.shouldAbort,
        onWait: () => hooks.onWait().catch(() => undefined),
        onRetry: (error) => {
          if (warned) return;
          this.logger.warn({ err: error, what }, 'step failed; retrying with backoff, offsets wait');
          warned = true;
        },
      });
    } catch (error) {
      if (error instanceof RetryAbortedError) return false;
      throw error;
    }
    if (warned) this.logger.info({ what }, 'recovered');
    return true;
  }
}
