import { inject } from 'vitest';
import { createLogger, createOpenSearchClient, parseOpenSearchSettings, type OpenSearchClient, type Topics, type TopicSpec } from '../../../runtime/index.ts';
import { deleteIndexTemplate, listDailyIndices } from '../../../index/index.ts';
import { deleteTestIndices, deleteTestTopics, deleteTestGroups, uniqueName } from '../../helpers/resources.ts';
import { testKafkaClient } from '../../helpers/clients.ts';
import { waitUntil } from '../../helpers/wait.ts';

export const quietLogger = () => createLogger('index-test', { level: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent' });

export const opensearchUrl = (): string => inject('opensearchUrl');
export const kafkaBrokers = (): string => inject('kafkaBrokers');

export function openSearchAt(url: string): OpenSearchClient {
  return createOpenSearchClient(parseOpenSearchSettings({ OPENSEARCH_URL: url, OPENSEARCH_REQUEST_TIMEOUT_MS: '5000' }));
}

/** A test's own topic set (only events and dead letters are used by the indexer) with test-prefixed names. */
export function testTopics(partitions = 2): Topics {
  const spec = (name: string): TopicSpec => ({ name, partitions, replicationFactor: 1, config: { 'cleanup.policy': 'delete' } });
  const events = spec(uniqueName('siem-events'));
  const dlq = spec(uniqueName('siem-events-dlq'));
  return { tenants: spec('unused'), checkpoints: spec('unused'), status: spec('unused'), raw: spec('unused'), events, deadLetter: dlq };
}

/** Removes the test's daily indices (by exact name), its template, topics and groups. */
export async function cleanup(options: { client: OpenSearchClient; prefix?: string; topics?: Topics; groups?: string[] }): Promise<void> {
  if (options.prefix) {
    const names = await listDailyIndices(options.client, options.prefix).catch(() => [] as string[]);
    await deleteTestIndices(options.client, names);
    await deleteIndexTemplate(options.client, options.prefix);
  }
  if (options.topics || options.groups) {
    const admin = testKafkaClient('cleanup').admin();
    await admin.connect();
    try {
      if (options.topics) await deleteTestTopics(admin, [options.topics.events.name, options.topics.deadLetter.name]);
      if (options.groups) await deleteTestGroups(admin, options.groups);
    } finally {
      await admin.disconnect();
    }
  }
}

/** Env for startIndexer pointing at the shared services (or a proxy), with a test prefix and group. */
export function indexerEnv(o: { prefix: string; groupId: string; opensearchUrl?: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    KAFKA_BROKERS: kafkaBrokers(),
    OPENSEARCH_URL: o.opensearchUrl ?? opensearchUrl(),
    OPENSEARCH_REQUEST_TIMEOUT_MS: '5000',
    INDEX_PREFIX: o.prefix,
    INDEX_GROUP_ID: o.groupId,
    INDEX_REPLICAS: '0',
    INDEX_REFRESH_INTERVAL: '1s',
    INDEX_RETRY_INITIAL_MS: '100',
    INDEX_RETRY_MAX_MS: '1000',
    INDEX_RETENTION_DAYS: '0',
    INDEX_OPS_PORT: '0',
    LOG_LEVEL: 'silent',
    ...o.extra,
  };
}

/** Polls until `check` holds (the suite's one poll-until, tests/helpers/wait.ts). */
export const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 200): Promise<void> => {
  await waitUntil(what, check, timeoutMs, everyMs);
};

/** Sum of committed offsets of a group on a topic, and the topic's end offsets (for "everything durable" waits). */
export async function offsets(groupId: string, topic: string): Promise<{ committed: number; end: number }> {
  const admin = testKafkaClient('offsets').admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const sum = (committed[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    return { committed: sum, end: ends.reduce((n, p) => n + Number(p.high), 0) };
  } finally {
    await admin.disconnect();
  }
}

export async function countDocs(client: OpenSearchClient, index: string, query?: unknown): Promise<number> {
  await client.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true } as never);
  const r = await client.count({ index, allow_no_indices: true, ignore_unavailable: true, ...(query ? { body: { query } } : {}) } as never);
  return Number((r.body as { count: number }).count);
}
