/**
 * The index service: `siem.events` → OpenSearch `siem-events-YYYY.MM.DD`, once each. Public surface of index/.
 */
import {
  ConsumerLagMonitor,
  Metrics,
  consumerLagGauges,
  createKafkaClient,
  createLogger,
  createOpenSearchClient,
  startServiceOps,
  topicSpecs,
  type KafkaClient,
  type Logger,
  type OpenSearchClient,
  type Topics,
} from '../runtime/index.ts';
import { parseIndexConfig, type IndexConfig } from './config.ts';
import { installIndexTemplate } from './index-template.ts';
import { IndexerService, type EventDecoder } from './indexer-service.ts';
import { applyRetention } from './retention.ts';

export { parseIndexConfig, parseIndexSettings, indexSettingsSpec } from './config.ts';
export type { IndexConfig } from './config.ts';
export { documentId } from './document-id.ts';
export { toEventDocument, avroToEventDocument, eventTime } from './event-document.ts';
export type { EventDocument, SiemEventObject } from './event-document.ts';
export { BulkWriter, WriteAbortedError } from './bulk-writer.ts';
export type { BulkDocument, DocumentResult } from './bulk-writer.ts';
export { classifyItem, classifyRequestFailure } from './retry-policy.ts';
export { installIndexTemplate, deleteIndexTemplate } from './index-template.ts';
export { applyRetention, expiredIndices, listDailyIndices } from './retention.ts';
export { OrganizationAliases } from './organization-aliases.ts';
export { IndexerService } from './indexer-service.ts';
export type { IndexerOptions, EventDecoder } from './indexer-service.ts';
export { registerIndexCommands } from './cli.ts';

export interface IndexerDeps {
  logger?: Logger;
  kafka?: KafkaClient;
  opensearch?: OpenSearchClient;
  metrics?: Metrics;
  /** Topic names (tests pass suffixed topics); default from the TOPIC_* settings. */
  topics?: Topics;
  decode?: EventDecoder;
  /** Serve /healthz, /readyz, /metrics on INDEX_OPS_PORT (default true). */
  opsServer?: boolean;
}

export interface RunningIndexer {
  readonly config: IndexConfig;
  readonly service: IndexerService;
  readonly metrics: Metrics;
  /** Port of the ops server, when started. */
  readonly opsPort: number | null;
  /** Samples the group's lag into the consumer_lag gauges now (the service does it every INDEX_LAG_INTERVAL_SECONDS). */
  sampleLag(): Promise<void>;
  /** Applies the retention once now (the service also does it every INDEX_RETENTION_INTERVAL_MINUTES). */
  runRetention(): Promise<{ deleted: string[]; kept: number }>;
  close(): Promise<void>;
}

/**
 * Starts the indexer: parses its settings, installs the index template, ensures its topics, starts consuming and
 * the periodic retention. `close()` stops consuming (uncommitted work is consumed again by the next owner).
 */
export async function startIndexer(env: Readonly<Record<string, string | undefined>>, deps: IndexerDeps = {}): Promise<RunningIndexer> {
  const config = parseIndexConfig(env);
  const logger = deps.logger ?? createLogger('index', { level: config.common.logLevel });
  const metrics = deps.metrics ?? new Metrics('index');
  const kafka = deps.kafka ?? createKafkaClient(config.kafka, logger, 'index');
  const opensearch = deps.opensearch ?? createOpenSearchClient(config.opensearch);
  const topics = deps.topics ?? topicSpecs(config.topics);
  const s = config.index;

  await installIndexTemplate(opensearch, { prefix: s.prefix, shards: s.shards, replicas: s.replicas, refreshInterval: s.refreshInterval }, logger);
  await kafka.ensureTopics([topics.events, topics.deadLetter]);

  const service = new IndexerService(
    kafka,
    opensearch,
    {
      eventsTopic: topics.events.name,
      deadLetterTopic: topics.deadLetter.name,
      groupId: s.groupId,
      prefix: s.prefix,
      opType: s.opType,
      bulkMaxDocs: s.bulkMaxDocs,
      bulkMaxBytes: s.bulkMaxBytes,
      retryInitialMs: s.retryInitialMs,
      retryMaxMs: s.retryMaxMs,
      partitionsConsumedConcurrently: s.partitionsConsumedConcurrently,
      bulkConcurrency: s.bulkConcurrency,
      pipelineDepth: s.pipelineDepth,
      fetchMaxBytesPerPartition: s.fetchMaxBytesPerPartition,
    },
    logger,
    metrics,
    deps.decode,
  );

  const retentionRuns = metrics.counter('retention_runs', 'retention passes by result: ok, failed', ['result']);
  const retentionDeleted = metrics.counter('retention_deleted_indices', 'daily indices deleted by retention');
  const runRetention = async () => {
    try {
      const result = await applyRetention(opensearch, { prefix: s.prefix, days: s.retentionDays }, logger);
      retentionRuns.inc({ result: 'ok' });
      retentionDeleted.inc(result.deleted.length);
      return result;
    } catch (error) {
      retentionRuns.inc({ result: 'failed' });
      throw error;
    }
  };

  await service.start();
  // Sampled on its own timer, not by the consumer: a consumer that stopped still shows its lag growing.
  const lagMonitor = new ConsumerLagMonitor(kafka, {
    groupId: s.groupId,
    topic: topics.events.name,
    intervalMs: s.lagIntervalSeconds * 1000,
    gauges: consumerLagGauges(metrics),
    logger,
  });
  lagMonitor.start();
  logger.info({ topic: topics.events.name, groupId: s.groupId, prefix: s.prefix, opType: s.opType }, 'indexer started');

  let retentionTimer: NodeJS.Timeout | null = null;
  if (s.retentionDays > 0) {
    const tick = () => {
      runRetention().catch((error: unknown) => logger.error({ err: error }, 'retention failed; will try again next interval'));
    };
    tick();
    retentionTimer = setInterval(tick, s.retentionIntervalMinutes * 60_000);
    retentionTimer.unref();
  }

  // The service's stop, as the ops wiring sees it: retention, consumption, then the OpenSearch client it created.
  const ops = await startServiceOps(
    {
      metrics,
      readiness: () => service.readiness(),
      close: async () => {
        if (retentionTimer) clearInterval(retentionTimer);
        await lagMonitor.stop();
        await service.close();
        if (!deps.opensearch) await opensearch.close();
        logger.info('indexer stopped');
      },
    },
    { port: s.ops, enabled: deps.opsServer !== false },
  );

  return { config, service, metrics, opsPort: ops.port, sampleLag: () => lagMonitor.sampleNow(), runRetention, close: ops.close };
}
