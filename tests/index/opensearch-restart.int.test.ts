import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Metrics, partitionForKey, type KafkaProducer, type OpenSearchClient } from '../../runtime/index.ts';
import { documentId, startIndexer, type RunningIndexer } from '../../index/index.ts';
import { ensureStack, loadStackConfig, stackStatus, stopStack } from '../../stack/index.ts';
import { isAlive } from '../../stack/processes.ts';
import { readState } from '../../stack/state.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, countDocs, indexerEnv, offsets, openSearchAt, quietLogger, testTopics, waitFor } from './helpers/fixture.ts';
import { anyEvent, encode } from './helpers/siem-events.ts';

const PARTITIONS = 2;

/** Committed offset per partition (0 where the group has none yet). */
async function committedByPartition(groupId: string, topic: string): Promise<number[]> {
  const admin = testKafkaClient('offsets').admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Array<number>(PARTITIONS).fill(0);
    for (const p of entry?.partitions ?? []) committed[p.partition] = Math.max(0, Number(p.offset));
    return committed;
  } finally {
    await admin.disconnect();
  }
}

/** `index.uuid` of each daily index: a node started on a fresh data directory would show new ones. */
async function indexUuids(client: OpenSearchClient, prefix: string): Promise<Record<string, string>> {
  const r = await client.indices.getSettings({ index: `${prefix}-*`, name: 'index.uuid' } as never);
  const body = r.body as Record<string, { settings: { index: { uuid: string } } }>;
  return Object.fromEntries(Object.entries(body).map(([name, s]) => [name, s.settings.index.uuid]));
}

/**
 * Issue 7 with a real process: a dedicated OpenSearch node (started by the launcher in its own stack folder, Kafka
 * from the shared test endpoint) is killed mid-stream and started again on the same data directory and port, while
 * the indexer keeps running against its URL. outage.int.test.ts covers the same from the network side with a proxy
 * on the shared node; this one adds what only a real restart shows: acknowledged writes surviving a crash (translog
 * replay), and the indexer meeting a node that takes `_bulk` while its shards are still recovering (cluster red).
 */
describe('indexer across a real OpenSearch crash and restart on the same data directory', () => {
  const prefix = uniqueName('siem-events');
  const groupId = uniqueName('index-group');
  const topics = testTopics(PARTITIONS);
  const kafka = testKafkaClient('index-opensearch-restart');
  const metrics = new Metrics('index', false);
  const start = Date.parse('2026-06-01T23:30:00Z'); // events from 180 on fall on a daily index created after the restart
  /** Document ids per partition in offset order: the topic is new and the producer idempotent, so position = offset. */
  const idsByPartition: string[][] = Array.from({ length: PARTITIONS }, () => []);
  let stackDir = '';
  let stackEnv: Record<string, string | undefined> = {};
  let nodeUrl = '';
  let client: OpenSearchClient | null = null;
  let producer: KafkaProducer | null = null;
  let indexer: RunningIndexer | null = null;

  const log = (line: string) => process.stderr.write(`[opensearch-restart] ${line}\n`);
  const produce = async (from: number, count: number) => {
    const events = Array.from({ length: count }, (_, k) => anyEvent(`org-${(from + k) % 3}`, from + k, start + (from + k) * 10_000));
    await producer!.send({ topic: topics.events.name, acks: -1, messages: events.map((e) => ({ key: e.organization.id, value: encode(e) })) });
    for (const e of events) idsByPartition[partitionForKey(e.organization.id, PARTITIONS)]!.push(documentId(e.organization.id, e.event.id));
  };
  const allIds = () => idsByPartition.flat();
  const durable = () => offsets(groupId, topics.events.name);
  const metricValue = async (name: string, labels: Record<string, string> = {}) => {
    const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
    const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
    return match?.value ?? 0;
  };

  beforeAll(async () => {
    stackDir = await mkdtemp(path.join(os.tmpdir(), 'm365-siem-opensearch-restart-'));
    // mkdtemp makes the folder 0700; as root the launcher would then put OpenSearch's data under /var/tmp for its
    // service user. Opening it keeps data, logs and state in this one folder, which afterAll removes as a whole.
    await chmod(stackDir, 0o755);
    stackEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JAVA_HOME: process.env.JAVA_HOME,
      M365_SIEM_JAVA_HOME: process.env.M365_SIEM_JAVA_HOME,
      // the download cache the suite's own stack uses, so this node unpacks the cached zip instead of downloading it
      M365_SIEM_CACHE_DIR: loadStackConfig().cacheDir,
      M365_SIEM_STACK_DIR: stackDir,
      // a local JVM: the test needs a process to kill and a data directory that outlives it (a container would not)
      M365_SIEM_STACK_PROVIDER: 'local',
      // Below the ephemeral range (nothing grabs it by connecting out while the node is down) and random, so a
      // parallel run cannot take it in that window either; the launcher steps on when it is taken at the first start.
      M365_SIEM_STACK_OPENSEARCH_PORT: String(27000 + 10 * Math.floor(Math.random() * 400)),
      M365_SIEM_STACK_TIMEOUT_SECONDS: '240',
      // an env endpoint: the launcher starts OpenSearch only
      KAFKA_BROKERS: inject('kafkaBrokers'),
    };
    const endpoints = await ensureStack({ env: stackEnv, log });
    expect(endpoints.kafka.provider).toBe('env');
    expect(endpoints.opensearch).toMatchObject({ provider: 'local', startedNow: true });
    nodeUrl = endpoints.opensearch.url;
    client = openSearchAt(nodeUrl);
    await kafka.ensureTopics([topics.events, topics.deadLetter]);
    producer = kafka.producer();
    await producer.connect();
  }, 300_000);

  afterAll(async () => {
    await indexer?.close();
    await producer?.disconnect();
    // The node and its data go with the stack folder; only the Kafka side needs the usual cleanup.
    if (client) await cleanup({ client, topics, groups: [groupId] });
    await client?.close();
    if (stackDir) {
      await stopStack({ env: stackEnv, purge: true }).catch((error: unknown) => log(`stop failed: ${String(error)}`));
      await rm(stackDir, { recursive: true, force: true });
    }
  }, 120_000);

  /** Committed offsets per partition while the node is down: every event below them must survive the crash. */
  let committedWhileDown: number[] = [];
  let uuidsBeforeCrash: Record<string, string> = {};
  let dataDirBeforeCrash = '';

  it('waits while the node is dead, committing nothing it has not written', async () => {
    const env = indexerEnv({ prefix, groupId, opensearchUrl: nodeUrl, extra: { INDEX_BULK_MAX_DOCS: '50' } });
    indexer = await startIndexer(env, { topics, logger: quietLogger(), metrics, opsServer: false });
    await produce(0, 100);
    await waitFor('first 100 durable', async () => (await durable()).committed === 100);
    uuidsBeforeCrash = await indexUuids(client!, prefix);
    dataDirBeforeCrash = (await readState(stackDir))!.opensearch!.workDir;

    // SIGKILL, not the launcher's stopStack (SIGTERM first): a clean shutdown flushes and closes every shard, while a
    // crash leaves only what OpenSearch fsynced to the translog before acknowledging. That is the honest test of
    // "acknowledged means durable", and it kills the node with `_bulk` requests of 100–149 possibly in flight.
    await produce(100, 50);
    const { pid } = (await stackStatus({ env: stackEnv })).opensearch;
    expect(pid).toBeDefined();
    process.kill(-pid!, 'SIGKILL'); // the JVM leads its own process group
    await waitFor('the OpenSearch process gone', () => !isAlive(pid!), 10_000, 50);
    for (let i = 150; i < 400; i += 50) await produce(i, 50);

    await waitFor('readiness to report the wait', () => indexer!.service.readiness() !== null, 30_000, 500);
    expect(indexer.service.readiness()).toMatch(/unreachable/);
    const during = await durable();
    expect(during.end).toBe(400);
    expect(during.committed).toBeLessThan(400); // backpressure: the partitions wait, nothing skipped
    expect(during.committed).toBeGreaterThanOrEqual(100);
    expect(await metricValue('m365siem_index_backpressure_active')).toBe(1);
    expect(await metricValue('m365siem_index_item_retries_total', { reason: 'unavailable' })).toBeGreaterThan(0);
    // Nothing can become durable while the node is dead, so these offsets are final for the outage.
    committedWhileDown = await committedByPartition(groupId, topics.events.name);
  }, 120_000);

  it('after a restart on the same data directory, keeps every document written before the crash and indexes the rest once', async () => {
    expect(committedWhileDown).toHaveLength(PARTITIONS);
    // The indexer keeps retrying meanwhile (at most 1 s apart), so it meets the node in every state of its start:
    // refusing connections, then taking `_bulk` while the cluster is still red. OpenSearch holds such a request until
    // the primaries are back (item 503 `unavailable_shards_exception` only after the bulk timeout, 1 min, longer than
    // the client's request timeout), so the indexer sees a slow answer or a TimeoutError: both must be retried.
    const restarted = await ensureStack({ env: stackEnv, log });
    expect(restarted.opensearch).toMatchObject({ provider: 'local', startedNow: true, url: nodeUrl });
    expect((await readState(stackDir))!.opensearch!.workDir).toBe(dataDirBeforeCrash);

    // Same index UUIDs: the node read its old data directory, it did not start empty and have the indexer refill it.
    expect(await indexUuids(client!, prefix)).toMatchObject(uuidsBeforeCrash);
    // Committed events are never written again by the indexer, so finding them now proves they survived the crash.
    const committedBeforeCrash = idsByPartition.flatMap((ids, p) => ids.slice(0, committedWhileDown[p]));
    expect(committedBeforeCrash.length).toBeGreaterThanOrEqual(100);
    expect(await countDocs(client!, prefix, { ids: { values: committedBeforeCrash } })).toBe(committedBeforeCrash.length);

    await waitFor('all 400 durable after the restart', async () => (await durable()).committed === 400, 120_000, 500);
    expect(await countDocs(client!, prefix)).toBe(400);
    expect(await countDocs(client!, prefix, { ids: { values: allIds() } })).toBe(400);
    expect(await metricValue('m365siem_index_documents_total', { outcome: 'dead_letter' })).toBe(0);
    expect((await offsets(groupId, topics.deadLetter.name)).end).toBe(0);
    expect(await metricValue('m365siem_index_backpressure_active')).toBe(0);
    expect(indexer!.service.readiness()).toBeNull();
  }, 420_000);
});
