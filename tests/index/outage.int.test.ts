import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, type KafkaProducer } from '../../runtime/index.ts';
import { documentId, startIndexer, type RunningIndexer } from '../../index/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, countDocs, indexerEnv, offsets, openSearchAt, opensearchUrl, quietLogger, testTopics, waitFor } from './helpers/fixture.ts';
import { TcpProxy } from './helpers/tcp-proxy.ts';
import { anyEvent, encode } from './helpers/siem-events.ts';

/**
 * "OpenSearch stopped and restarted mid-stream loses and duplicates nothing." The team's OpenSearch is shared, so
 * this test does not stop it: the indexer talks to OpenSearch through a TCP proxy that the test cuts (every
 * connection reset, new ones refused, as when the process dies) and restores (as when it is back). From the
 * indexer's side that is the same event; OpenSearch's own durability on restart is OpenSearch's guarantee.
 */
describe('indexer across an OpenSearch outage (TCP proxy cut and restored)', () => {
  const prefix = uniqueName('siem-events');
  const groupId = uniqueName('index-group');
  const topics = testTopics(2);
  const kafka = testKafkaClient('index-outage');
  const os = openSearchAt(opensearchUrl());
  const proxy = TcpProxy.forUrl(opensearchUrl());
  const metrics = new Metrics('index', false);
  let producer: KafkaProducer;
  let indexer: RunningIndexer | null = null;
  const start = Date.parse('2026-06-01T23:30:00Z'); // the stream crosses midnight: two daily indices

  const produce = async (from: number, count: number) => {
    const events = Array.from({ length: count }, (_, k) => anyEvent(`org-${(from + k) % 3}`, from + k, start + (from + k) * 10_000));
    await producer.send({ topic: topics.events.name, acks: -1, messages: events.map((e) => ({ key: e.organization.id, value: encode(e) })) });
  };
  const allIds = (n: number) => Array.from({ length: n }, (_, i) => documentId(`org-${i % 3}`, `evt-${i}`));
  const durable = () => offsets(groupId, topics.events.name);

  beforeAll(async () => {
    await proxy.start();
    await kafka.ensureTopics([topics.events, topics.deadLetter]);
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await indexer?.close();
    await producer?.disconnect();
    await proxy.close();
    await cleanup({ client: os, prefix, topics, groups: [groupId] });
    await os.close();
  });

  const backpressured = async () => (await metrics.registry.getSingleMetric('m365siem_index_backpressure_active')?.get())?.values[0]?.value === 1;

  it('waits while OpenSearch is unreachable, commits nothing it has not written, and resumes without loss or duplicates', async () => {
    const env = indexerEnv({ prefix, groupId, opensearchUrl: proxy.url, extra: { INDEX_BULK_MAX_DOCS: '50' } });
    indexer = await startIndexer(env, { topics, logger: quietLogger(), metrics, opsServer: false });
    await produce(0, 100);
    await waitFor('first 100 durable', async () => (await durable()).committed === 100);

    // Mid-stream: more events arrive, and OpenSearch goes away while they are being indexed.
    await produce(100, 50);
    proxy.cut();
    for (let i = 150; i < 400; i += 50) await produce(i, 50);
    // The positive signal that the outage reached the indexer: a batch waits for OpenSearch (backpressure gauge 1).
    await waitFor('the indexer backpressured by the outage', backpressured);

    const during = await durable();
    const docsDuring = await countDocs(os, prefix);
    expect(during.end).toBe(400);
    expect(during.committed).toBeLessThan(400); // backpressure: the partitions wait, nothing skipped
    expect(during.committed).toBeLessThanOrEqual(docsDuring); // never committed ahead of the documents
    expect(await metrics.registry.getSingleMetric('m365siem_index_backpressure_active')?.get()).toMatchObject({ values: [{ value: 1 }] });

    proxy.restore(); // OpenSearch is back
    await waitFor('all 400 durable after the outage', async () => (await durable()).committed === 400, 45_000);
    expect(await countDocs(os, prefix)).toBe(400);
    expect(await countDocs(os, prefix, { ids: { values: allIds(400) } })).toBe(400);
    const dead = (await metrics.registry.getSingleMetric('m365siem_index_documents_total')?.get())?.values.find((v) => v.labels.outcome === 'dead_letter');
    expect(dead?.value ?? 0).toBe(0);
  });

  it('stops promptly during an outage without committing, and a new instance finishes the work', async () => {
    proxy.cut();
    await produce(400, 100);
    await waitFor('the indexer backpressured by the outage', backpressured);
    const closing = Date.now();
    await indexer!.close();
    indexer = null;
    expect(Date.now() - closing).toBeLessThan(15_000);
    expect((await durable()).committed).toBe(400);

    proxy.restore();
    indexer = await startIndexer(indexerEnv({ prefix, groupId, opensearchUrl: proxy.url }), { topics, logger: quietLogger(), opsServer: false });
    await waitFor('all 500 durable after restart', async () => (await durable()).committed === 500, 45_000);
    expect(await countDocs(os, prefix)).toBe(500);
    expect(await countDocs(os, prefix, { ids: { values: allIds(500) } })).toBe(500);
  });
});
