import { z } from 'zod';
import {
  envInt,
  lagIntervalSetting,
  opsPortSetting,
  parseCommonSettings,
  parseKafkaSettings,
  parseOpenSearchSettings,
  parseSettings,
  parseTopicSettings,
  setting,
  stageGroupSettings,
  type KafkaSettings,
  type OpenSearchSettings,
  type TopicSettings,
} from '../runtime/index.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Settings of the index service (documented in README.md § The index service). */
export const indexSettingsSpec = {
  groupId: stageGroupSettings.index,
  lagIntervalSeconds: lagIntervalSetting('INDEX'),
  prefix: setting(
    'INDEX_PREFIX',
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,150}$/, 'expected a lower-case OpenSearch name prefix such as siem-events')
      .default('siem-events'),
    'prefix of the daily indices <prefix>-YYYY.MM.DD, name of the read alias and of the index template',
  ),
  retentionDays: setting('INDEX_RETENTION_DAYS', envInt(90, 0, 36_500), 'delete daily indices older than this many days (0 = keep forever)'),
  retentionIntervalMinutes: setting('INDEX_RETENTION_INTERVAL_MINUTES', envInt(60, 1, 10_080), 'how often the service applies the retention'),
  bulkMaxDocs: setting('INDEX_BULK_MAX_DOCS', envInt(1000, 1, 100_000), 'most documents per _bulk request'),
  bulkMaxBytes: setting('INDEX_BULK_MAX_BYTES', envInt(5 * 1024 * 1024, 1024, 100 * 1024 * 1024), 'most NDJSON bytes per _bulk request'),
  opType: setting(
    'INDEX_OP_TYPE',
    z.enum(['create', 'index']).default('create'),
    'bulk action: create (first write wins, a duplicate is a 409 = already indexed) or index (last write wins, for re-normalising replays); docs/decisions/0040',
  ),
  shards: setting('INDEX_SHARDS', envInt(1, 1, 1024), 'primary shards of each daily index'),
  replicas: setting('INDEX_REPLICAS', envInt(1, 0, 16), 'replicas of each daily index (0 on a single-node cluster)'),
  refreshInterval: setting(
    'INDEX_REFRESH_INTERVAL',
    z
      .string()
      .regex(/^(-1|\d+(ms|s|m))$/, 'expected e.g. 1s, 500ms, 30s or -1')
      .default('1s'),
    'refresh interval of the daily indices',
  ),
  retryInitialMs: setting('INDEX_RETRY_INITIAL_MS', envInt(200, 1, 60_000), 'first backoff before retrying 429/5xx items or an unreachable OpenSearch'),
  retryMaxMs: setting('INDEX_RETRY_MAX_MS', envInt(30_000, 10, 600_000), 'longest backoff between retries (retries never give up; the partition waits)'),
  partitionsConsumedConcurrently: setting('INDEX_PARTITION_CONCURRENCY', envInt(1, 1, 64), 'partitions whose batches are indexed at the same time'),
  fetchMaxBytesPerPartition: setting(
    'INDEX_FETCH_MAX_BYTES_PER_PARTITION',
    envInt(4 * 1_048_576, 1024, 64 * 1_048_576),
    'most bytes one Kafka fetch takes from a partition, i.e. the size of a batch (several full _bulk requests)',
  ),
  pipelineDepth: setting(
    'INDEX_PIPELINE_DEPTH',
    envInt(4, 1, 64),
    'Kafka batches accepted for writing while the next one is fetched; offsets still commit per partition in order',
  ),
  bulkConcurrency: setting('INDEX_BULK_CONCURRENCY', envInt(2, 1, 32), 'most _bulk requests in flight at once, over all batches being written'),
  ops: opsPortSetting('INDEX', 9467),
} as const;

export interface IndexConfig {
  index: ReturnType<typeof parseIndexSettings>;
  common: ReturnType<typeof parseCommonSettings>;
  kafka: KafkaSettings;
  opensearch: OpenSearchSettings;
  topics: TopicSettings;
}

export function parseIndexSettings(env: Env) {
  const s = parseSettings(indexSettingsSpec, env);
  if (s.retryMaxMs < s.retryInitialMs) {
    throw new Error('invalid configuration:\n  - INDEX_RETRY_MAX_MS must be at least INDEX_RETRY_INITIAL_MS');
  }
  return s;
}

/** Parses every setting the service needs, once, at start; a bad setting stops the process naming it. */
export function parseIndexConfig(env: Env): IndexConfig {
  return {
    index: parseIndexSettings(env),
    common: parseCommonSettings(env),
    kafka: parseKafkaSettings(env),
    opensearch: parseOpenSearchSettings(env),
    topics: parseTopicSettings(env),
  };
}
