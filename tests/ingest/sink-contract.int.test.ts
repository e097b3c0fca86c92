/**
 * Ingest's publishing as a sink (tests/contracts/sink-contract.ts): a source's progress (SourceProgress: its ledger
 * of published ids and its checkpoint) committed through the TransactionalWriter, records and checkpoint in one
 * Kafka transaction on m365.raw and m365.checkpoints. "Committed" is what read_committed readers of the checkpoints
 * topic see: the records the checkpoints account for.
 * - Input: a change with the records, as a poller commits it; a retriable failure is committed again with backoff,
 *   as the pollers do from an unchanged cursor.
 * - Again: the same records fetched a second time (Microsoft re-serving a blob, the overlap listed again): the
 *   progress's ledger drops them inside the same transaction.
 * - Transient failure: the transaction's commit fails after its records were sent (the test's producer aborts the
 *   real transaction and answers a connection error), so read_committed readers never see them.
 * - Bad: a record larger than the test's m365.raw takes (150 kB of 100 kB): dead-lettered in its place, whole.
 * - Huge: a record larger than the dead-letter topic takes too (400 kB of 300 kB): its input cut to fit.
 * The ledger's own cases (horizon, segments, restore) stay in ledger.test.ts; oversized Microsoft records through the
 * real poller in dead-letters-every-stage.e2e.test.ts.
 */
import { afterAll, beforeAll } from 'vitest';
import { checkpointKey, createIngestMetrics, emptyCheckpoint, IdLedger } from '../../ingest/index.ts';
import { TransactionalWriter } from '../../ingest/raw-publisher.ts';
import { SourceProgress } from '../../ingest/source-progress.ts';
import {
  createLogger,
  parseTopicSettings,
  RECORD_BATCH_OVERHEAD_BYTES,
  topicSpecs,
  withRetry,
  type KafkaClient,
  type KafkaProducer,
  type KafkaTransaction,
  type SourceName,
  type Topics,
} from '../../runtime/index.ts';
import { describeSinkContract, InjectedFailure, type SinkHarness, type SinkRecord } from '../contracts/sink-contract.ts';
import { deadLettersOf, idCountsOn, latestByKey } from '../contracts/kafka-readers.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { deleteTestTopics, testTopicEnv, uniqueName } from '../helpers/resources.ts';

const RAW_MAX_BYTES = 100_000;
const DEAD_LETTER_MAX_BYTES = 300_000;
const SOURCE: SourceName = 'management:Audit.General';
const TENANT = '3b6f0c2a-51d4-4e8b-9a7c-2d1e0f9b8a76';

const kafka = testKafkaClient('ingest-sink-contract');
const specs = topicSpecs(parseTopicSettings(testTopicEnv(uniqueName('ingest-contract'))));
const sized = (spec: Topics['raw'], maxBytes: number) => ({ ...spec, partitions: 1, config: { ...spec.config, 'max.message.bytes': String(maxBytes) } });
const topics: Topics = {
  ...specs,
  raw: sized(specs.raw, RAW_MAX_BYTES),
  deadLetter: sized(specs.deadLetter, DEAD_LETTER_MAX_BYTES),
  checkpoints: { ...specs.checkpoints, partitions: 1 },
};
const logger = createLogger('ingest-sink-contract', { level: 'silent' });
const metrics = createIngestMetrics(false);
const injected = new InjectedFailure();
let writer: TransactionalWriter;
const progress = new Map<string, SourceProgress>();

/** The transaction's commit fails while the injected failure is on: the real transaction is aborted first, its records never visible. */
function failingCommits(transaction: KafkaTransaction): KafkaTransaction {
  return new Proxy(transaction, {
    get(target, name) {
      if (name === 'commit') {
        return async () => {
          if (!injected.failing) return target.commit();
          injected.failed();
          await target.abort();
          throw Object.assign(new Error('injected: connection lost before the transaction committed (sink contract)'), { name: 'KafkaJSConnectionError' });
        };
      }
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function withFailingCommits(client: KafkaClient): KafkaClient {
  const wrapped = Object.create(client) as KafkaClient;
  wrapped.transactionalProducer = (...args: Parameters<KafkaClient['transactionalProducer']>) => {
    const producer = client.transactionalProducer(...args);
    return new Proxy(producer, {
      get(target, name) {
        if (name === 'transaction') return async () => failingCommits(await target.transaction());
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as KafkaProducer;
  };
  return wrapped;
}

function progressOf(org: string): SourceProgress {
  let p = progress.get(org);
  if (!p) {
    p = new SourceProgress(org, TENANT, SOURCE, emptyCheckpoint(org, SOURCE, TENANT), new IdLedger(org, SOURCE), {
      topics,
      writer: () => writer,
      metrics,
      logger,
      dedupHorizonMs: 3_600_000,
      now: Date.now,
      limits: sendLimits,
    });
    progress.set(org, p);
  }
  return p;
}
let sendLimits: Awaited<ReturnType<KafkaClient['sendLimits']>>;

const recordOf = (r: SinkRecord) => ({
  Id: r.id,
  CreationTime: '2026-05-04T09:00:00',
  OrganizationId: TENANT,
  Operation: 'FileAccessed',
  Workload: 'General',
  RecordType: 1,
  ...(r.kind === 'bad' ? { Padding: 'x'.repeat(150_000) } : r.kind === 'huge' ? { Padding: 'x'.repeat(400_000) } : {}),
});

/** Commits the records as a poller does: one change per organization, committed again after a retriable failure. */
async function commit(records: readonly SinkRecord[]): Promise<void> {
  for (const org of new Set(records.map((r) => r.org))) {
    const own = records.filter((r) => r.org === org);
    const change = { records: own.map((r) => ({ dedupKey: r.id, record: recordOf(r), eventMs: Date.now() })), success: true };
    await withRetry(() => progressOf(org).commit(change), { attempts: Number.POSITIVE_INFINITY, initialMs: 50, maxMs: 500 });
  }
}

const harness: SinkHarness = {
  stage: 'ingest',
  badCode: 'record_too_large',
  hugeCode: 'record_too_large',
  deadLetterMaxRecordBytes: DEAD_LETTER_MAX_BYTES - RECORD_BATCH_OVERHEAD_BYTES,
  write: commit,
  writeAgain: commit,
  // A commit resolves once its transaction committed: nothing is left in flight when `write` returned.
  settled: async () => undefined,
  delivered: (ids) => idCountsOn(kafka, topics.raw.name, ids, (value) => String((JSON.parse(value.toString('utf8')) as { record: { Id: string } }).record.Id)),
  async committed() {
    const latest = await latestByKey(kafka, topics.checkpoints.name);
    let sum = 0;
    for (const org of progress.keys()) {
      const value = latest.get(checkpointKey(org, SOURCE));
      if (value !== undefined) sum += (JSON.parse(value) as { counts: { recordsPublished: number } }).counts.recordsPublished;
    }
    return sum;
  },
  deadLetters: (org) => deadLettersOf(kafka, topics.deadLetter.name, org),
  failWrites: () => injected.start(),
};

beforeAll(async () => {
  await kafka.ensureTopics([topics.raw, topics.checkpoints, topics.deadLetter]);
  sendLimits = await kafka.sendLimits([topics.raw.name, topics.checkpoints.name, topics.deadLetter.name]);
  writer = new TransactionalWriter(withFailingCommits(kafka), uniqueName('ingest-contract-txn'), logger, metrics, sendLimits, topics.deadLetter.name);
  await writer.start();
});

afterAll(async () => {
  await writer?.close();
  const admin = kafka.admin();
  await admin.connect();
  await deleteTestTopics(admin, [topics.raw.name, topics.checkpoints.name, topics.deadLetter.name]);
  await admin.disconnect();
});

describeSinkContract('ingest → m365.raw (source progress and transactional writer)', () => harness);
