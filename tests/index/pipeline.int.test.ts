import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, type KafkaProducer } from '../../runtime/index.ts';
import { dailyIndexName } from '../../schemas/opensearch/index.ts';
import { installIndexTemplate, startIndexer, type RunningIndexer } from '../../index/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, countDocs, indexerEnv, offsets, openSearchAt, opensearchUrl, quietLogger, testTopics, waitFor } from './helpers/fixture.ts';
import { anyEvent, encode } from './helpers/siem-events.ts';

/**
 * Batches are written while later ones are fetched (INDEX_PIPELINE_DEPTH), but a partition's offset only moves when
 * every earlier batch of it is durable. Here the earlier batches hit real 429s (flood-stage block on their daily
 * index) while later batches of the same partition are written at once: the committed offset must not move until
 * the block is lifted and the earlier batches are written too.
 */
/** A counter's value summed over the series whose labels include `labels`. */
async function counter(indexer: RunningIndexer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await indexer.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
}

describe('indexer pipeline commits in order (real Kafka and OpenSearch)', () => {
  const prefix = uniqueName('siem-events');
  const groupId = uniqueName('index-group');
  const topics = testTopics(1);
  const kafka = testKafkaClient('index-pipeline');
  const os = openSearchAt(opensearchUrl());
  let producer: KafkaProducer;
  let indexer: RunningIndexer | null = null;
  const dayA = Date.parse('2026-07-01T10:00:00Z');
  const dayB = Date.parse('2026-07-02T10:00:00Z');
  const indexA = dailyIndexName(prefix, new Date(dayA));
  const indexB = dailyIndexName(prefix, new Date(dayB));

  beforeAll(async () => {
    await installIndexTemplate(os, { prefix, shards: 1, replicas: 0, refreshInterval: '1s' });
    await os.indices.create({ index: indexA });
    await os.indices.putSettings({ index: indexA, body: { 'index.blocks.read_only_allow_delete': true } });
    await kafka.ensureTopics([topics.events, topics.deadLetter]);
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await indexer?.close();
    await producer?.disconnect();
    await os.indices.putSettings({ index: indexA, body: { 'index.blocks.read_only_allow_delete': null } }).catch(() => undefined);
    await cleanup({ client: os, prefix, topics, groups: [groupId] });
    await os.close();
  });

  it('writes later batches ahead but commits nothing past a batch that is not durable yet', async () => {
    // One send = one Kafka record batch; a tiny fetch size makes each its own eachBatch call.
    for (let s = 0; s < 10; s++) {
      const day = s < 5 ? dayA : dayB;
      const events = Array.from({ length: 10 }, (_, k) => anyEvent('org-p', s * 10 + k, day + k * 1000));
      await producer.send({ topic: topics.events.name, acks: -1, messages: events.map((e) => ({ key: 'org-p', value: encode(e) })) });
    }
    const env = indexerEnv({ prefix, groupId, extra: { INDEX_FETCH_MAX_BYTES_PER_PARTITION: '1024', INDEX_PIPELINE_DEPTH: '16' } });
    indexer = await startIndexer(env, { topics, logger: quietLogger(), metrics: new Metrics('index', false), opsServer: false });

    await waitFor('the later batches written', async () => (await countDocs(os, indexB)) === 50);
    // The positive signal that a wrong commit had its chance: every later batch finished its write (the indexer
    // counted its documents, the step right before its commit), and the blocked batches were retried twice more.
    await waitFor('the later batches done', async () => (await counter(indexer!, 'm365siem_index_documents_total', { outcome: 'indexed' })) >= 50);
    const retriesThen = await counter(indexer, 'm365siem_index_item_retries_total');
    await waitFor(
      'two more retry rounds of the blocked batches',
      async () => (await counter(indexer!, 'm365siem_index_item_retries_total')) >= retriesThen + 2 * 50,
    );
    expect((await offsets(groupId, topics.events.name)).committed).toBe(0);
    expect(await countDocs(os, indexA)).toBe(0);

    await os.indices.putSettings({ index: indexA, body: { 'index.blocks.read_only_allow_delete': null } });
    await waitFor('everything committed', async () => (await offsets(groupId, topics.events.name)).committed === 100);
    expect(await countDocs(os, indexA)).toBe(50);
    expect(await countDocs(os, indexB)).toBe(50);
  });
});
