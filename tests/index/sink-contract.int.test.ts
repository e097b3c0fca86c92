/**
 * The indexer as a sink (tests/contracts/sink-contract.ts): siem.events → OpenSearch through the running service.
 * - Input: Avro events produced on the test's own siem.events topic, one partition, all on one day.
 * - Again: the same events produced a second time (a replay, or a normalizer re-send past its dedup horizon): the
 *   document id comes from organization and event id, so `create` answers 409 and nothing is doubled.
 * - Transient failure: the day's index gets `index.blocks.read_only_allow_delete` (what OpenSearch sets itself at the
 *   flood-stage disk watermark): real 429s for every item, counted by the bulk writer's item_retries metric.
 * - Bad: an event whose source.ip is not an IP: OpenSearch refuses it (mapper_parsing_exception, mapping_error).
 * - Huge: the same refusal for an event carrying 400 kB, larger than the 300 kB the test's dead-letter topic takes.
 * BulkWriter's own cases (only the failed items retried, 409 as duplicate, a 400 never retried) stay in
 * bulk-writer.int.test.ts.
 */
import { afterAll, beforeAll } from 'vitest';
import { EVENT_HEADERS, Metrics, RECORD_BATCH_OVERHEAD_BYTES, type KafkaProducer, type Topics } from '../../runtime/index.ts';
import type { SiemEvent } from '../../schemas/index.ts';
import { dailyIndexName, dailyIndexPattern } from '../../schemas/opensearch/index.ts';
import { installIndexTemplate, startIndexer, type RunningIndexer } from '../../index/index.ts';
import { describeSinkContract, type SinkHarness, type SinkRecord } from '../contracts/sink-contract.ts';
import { committedOffsets, deadLettersOf } from '../contracts/kafka-readers.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { waitForGroupCommitted } from '../helpers/read-topic.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, indexerEnv, openSearchAt, opensearchUrl, quietLogger, testTopics } from './helpers/fixture.ts';
import { encode, signIn } from './helpers/siem-events.ts';

const DEAD_LETTER_MAX_BYTES = 300_000;
const DAY_MS = Date.parse('2026-05-04T09:00:00Z');

const prefix = uniqueName('siem-events');
const groupId = uniqueName('index-contract');
const oneEach = testTopics(1);
const topics: Topics = {
  ...oneEach,
  deadLetter: { ...oneEach.deadLetter, config: { ...oneEach.deadLetter.config, 'max.message.bytes': String(DEAD_LETTER_MAX_BYTES) } },
};
const kafka = testKafkaClient('index-sink-contract');
const os = openSearchAt(opensearchUrl());
const index = dailyIndexName(prefix, new Date(DAY_MS));
let producer: KafkaProducer;
let indexer: RunningIndexer;

function eventOf(record: SinkRecord, n: number): SiemEvent {
  const e = signIn({
    orgId: record.org,
    atMs: DAY_MS + n,
    id: record.id,
    user: `user${n}@contract.example`,
    outcome: 'success',
    country: 'DE',
    ip: '10.1.2.3',
  });
  if (record.kind === 'good') return e;
  // OpenSearch maps source.ip as ip: this value is refused for good, whatever the retries.
  const refused = { ...e, source: { ...e.source, ip: 'not-an-ip' } };
  if (record.kind === 'bad') return refused;
  return { ...refused, m365: { ...refused.m365, fields: { ...refused.m365?.fields, padding: 'x'.repeat(400_000) } } } as SiemEvent;
}

const produce = async (records: readonly SinkRecord[]) => {
  const messages = records.map((r, n) => ({ key: r.org, value: encode(eventOf(r, n)), headers: { [EVENT_HEADERS.eventId]: r.id } }));
  await producer.send({ topic: topics.events.name, acks: -1, messages });
};

const itemRetries = async (): Promise<number> =>
  ((await indexer.metrics.registry.getSingleMetric('m365siem_index_item_retries_total')?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);

const block = (on: boolean) => os.indices.putSettings({ index, body: { 'index.blocks.read_only_allow_delete': on ? true : null } });

const harness: SinkHarness = {
  stage: 'index',
  badCode: 'mapping_error',
  hugeCode: 'mapping_error',
  deadLetterMaxRecordBytes: DEAD_LETTER_MAX_BYTES - RECORD_BATCH_OVERHEAD_BYTES,
  write: produce,
  writeAgain: produce,
  settled: () => waitForGroupCommitted(kafka, groupId, topics.events.name, 60_000),
  async delivered(ids) {
    const pattern = dailyIndexPattern(prefix);
    await os.indices.refresh({ index: pattern, allow_no_indices: true, ignore_unavailable: true } as never);
    const response = await os.search({
      index: pattern,
      allow_no_indices: true,
      ignore_unavailable: true,
      body: { size: 0, query: { terms: { 'event.id': [...ids] } }, aggs: { ids: { terms: { field: 'event.id', size: ids.length } } } },
    } as never);
    const buckets = (response.body as { aggregations?: { ids: { buckets: Array<{ key: string; doc_count: number }> } } }).aggregations?.ids.buckets ?? [];
    return new Map(buckets.map((b) => [b.key, b.doc_count]));
  },
  committed: () => committedOffsets(kafka, groupId, topics.events.name),
  deadLetters: (org) => deadLettersOf(kafka, topics.deadLetter.name, org),
  async failWrites() {
    const before = await itemRetries();
    await block(true);
    return { failures: async () => (await itemRetries()) - before, heal: () => block(false).then(() => undefined) };
  },
};

beforeAll(async () => {
  await installIndexTemplate(os, { prefix, shards: 1, replicas: 0, refreshInterval: '1s' });
  await os.indices.create({ index });
  await kafka.ensureTopics([topics.events, topics.deadLetter]);
  producer = kafka.producer();
  await producer.connect();
  indexer = await startIndexer(indexerEnv({ prefix, groupId }), { topics, logger: quietLogger(), metrics: new Metrics('index', false), opsServer: false });
});

afterAll(async () => {
  await indexer?.close();
  await producer?.disconnect();
  await block(false).catch(() => undefined);
  await cleanup({ client: os, prefix, topics, groups: [groupId] });
  await os.close();
});

describeSinkContract('indexer → OpenSearch', () => harness);
