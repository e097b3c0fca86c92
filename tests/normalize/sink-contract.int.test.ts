/**
 * The normalizer as a sink (tests/contracts/sink-contract.ts): m365.raw → siem.events through the running service,
 * one Kafka transaction per chunk with its dead letters and consumed offsets.
 * - Input: raw envelopes produced on the test's own m365.raw topic (one partition); event.id is the record's Id.
 * - Again: the same envelopes produced a second time (ingest re-publishing after a crash between its transaction and
 *   its acknowledgement): the normalizer's dedup keys (organization, event id) drop them inside the horizon.
 * - Transient failure: the service's `beforeCommit` seam throws a retriable error after the transaction's events
 *   were sent: the real transaction is aborted, so read_committed readers never see them, and the chunk is retried.
 * - Bad: a raw value that is not JSON (invalid_json).
 * - Huge: a record whose event (400 kB) is larger than the test's siem.events takes (100 kB), and whose input is
 *   larger than its dead-letter topic takes (300 kB): record_too_large, the input cut to fit.
 * Crash and fencing cases of the same transactions stay in normalizer-exactly-once.int.test.ts.
 */
import { afterAll, beforeAll } from 'vitest';
import { createNormalizeMetrics, startNormalizer, type RunningNormalizer } from '../../normalize/index.ts';
import { EVENT_HEADERS, RECORD_BATCH_OVERHEAD_BYTES, RetriableError, type KafkaProducer } from '../../runtime/index.ts';
import { describeSinkContract, InjectedFailure, type SinkHarness, type SinkRecord } from '../contracts/sink-contract.ts';
import { committedOffsets, deadLettersOf, idCountsOn } from '../contracts/kafka-readers.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { waitForGroupCommitted } from '../helpers/read-topic.ts';
import { cleanupTopics, normalizerEnv, testTopicNames } from './kafka-helpers.ts';
import { simulatedEnvelopes } from './simulated-envelopes.ts';

const EVENTS_MAX_BYTES = 100_000;
const DEAD_LETTER_MAX_BYTES = 300_000;

const kafka = testKafkaClient('normalize-sink-contract');
const t = testTopicNames('norm-contract');
let producer: KafkaProducer;
let normalizer: RunningNormalizer;
const injected = new InjectedFailure();

function rawValue(record: SinkRecord): string {
  if (record.kind === 'bad') return `{"orgId":"${record.org}", not JSON`;
  const envelope = simulatedEnvelopes(1, record.org, record.id)[0]!;
  const padding = record.kind === 'huge' ? { Padding: 'x'.repeat(400_000) } : {};
  return JSON.stringify({ ...envelope, record: { ...envelope.record, Id: record.id, ...padding } });
}

const produce = async (records: readonly SinkRecord[]) => {
  await producer.send({ topic: t.raw, acks: -1, messages: records.map((r) => ({ key: r.org, value: rawValue(r) })) });
};

const harness: SinkHarness = {
  stage: 'normalize',
  badCode: 'invalid_json',
  hugeCode: 'record_too_large',
  deadLetterMaxRecordBytes: DEAD_LETTER_MAX_BYTES - RECORD_BATCH_OVERHEAD_BYTES,
  write: produce,
  writeAgain: produce,
  settled: () => waitForGroupCommitted(kafka, t.group, t.raw, 60_000),
  delivered: (ids) => idCountsOn(kafka, t.events, ids, (_value, headers) => headers[EVENT_HEADERS.eventId] ?? null),
  committed: () => committedOffsets(kafka, t.group, t.raw),
  deadLetters: (org) => deadLettersOf(kafka, t.dlq, org),
  failWrites: () => injected.start(),
};

beforeAll(async () => {
  const topic = (name: string, config: Record<string, string> = {}) => ({ name, partitions: 1, replicationFactor: 1, config });
  await kafka.ensureTopics([
    topic(t.raw),
    topic(t.events, { 'max.message.bytes': String(EVENTS_MAX_BYTES) }),
    topic(t.dlq, { 'max.message.bytes': String(DEAD_LETTER_MAX_BYTES) }),
  ]);
  producer = kafka.producer();
  await producer.connect();
  normalizer = await startNormalizer(normalizerEnv(t, { TOPIC_DATA_PARTITIONS: '1', LOG_LEVEL: 'silent' }), {
    metrics: createNormalizeMetrics(false),
    opsServer: false,
    beforeCommit: () => {
      if (!injected.failing) return;
      injected.failed();
      throw new RetriableError('injected: the transaction failed before its commit (sink contract)', 'kafka_unavailable');
    },
  });
});

afterAll(async () => {
  await normalizer?.close();
  await producer?.disconnect();
  await cleanupTopics(kafka, t);
});

describeSinkContract('normalizer → siem.events', () => harness);
