/**
 * The whole pipeline in one process, for the end-to-end test and the latency benchmark: the simulator, the control
 * plane, ingest, normalize and index on real Kafka and OpenSearch, each on its own test-prefixed topics, groups,
 * transactional ids and index prefix, so it shares the brokers and the cluster with other tests. Services can be
 * restarted (close, then start again with the same settings) as an operator's redeploy would.
 *
 * No vitest import here: the benchmark (a plain process) uses this file too; tests pass the endpoints in.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { inject } from 'vitest';
import { restartablePort } from '../helpers/free-port.ts';
import { readTopicAs as readTopicRange, topicEndOffsets, waitForGroupCommitted, type TopicRecordDecoder } from '../helpers/read-topic.ts';
import { waitUntil } from '../helpers/wait.ts';
import { startControlPlane, hashToken, type RunningControlPlane } from '../../control-plane/index.ts';
import { startIndexer, listDailyIndices, deleteIndexTemplate, type RunningIndexer } from '../../index/index.ts';
import { createIngestMetrics, startIngest, type RunningIngest } from '../../ingest/index.ts';
import { createNormalizeMetrics, startNormalizer, type RunningNormalizer } from '../../normalize/index.ts';
import {
  DEAD_LETTER_HEADERS,
  Metrics,
  createKafkaClient,
  createLogger,
  createOpenSearchClient,
  parseKafkaSettings,
  parseOpenSearchSettings,
  parseTopicSettings,
  topicSpecs,
  type KafkaClient,
  type OpenSearchClient,
  type Topics,
} from '../../runtime/index.ts';
import { decodeSiemEvent } from '../../schemas/index.ts';
import { answerConsent, SimulatorControl, startSimulator, type RunningSimulator, type SimTenant } from '../../simulator/index.ts';
import { assertTestResourceNames, deleteTestGroups, deleteTestIndices, deleteTestTopics, testTopicEnv, uniqueName } from '../helpers/resources.ts';

export const SERVICE_NAMES = ['control-plane', 'ingest', 'normalize', 'index'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const PUBLISHER_ID = '5b0c7a4e-2d1f-4c3b-8a9e-0f1e2d3c4b5a';

export interface PipelineOptions {
  kafkaBrokers: string;
  opensearchUrl: string;
  /** Folder of the simulator's CA (the one NODE_EXTRA_CA_CERTS points at). */
  simulatorStateDir: string;
  seed?: string;
  /** Extra settings for every service (e.g. INGEST_POLL_INTERVAL_MS). */
  env?: Record<string, string>;
  logLevel?: string;
}

export interface ConnectedOrganization {
  orgId: string;
  tenant: SimTenant;
  /** When the consent callback answered (ms since the epoch). */
  consentedAt: number;
}

export interface IndexedDoc {
  orgId: string;
  eventId: string;
  tenantId: string | null;
  index: string;
}

export interface EventOnTopic {
  orgKey: string;
  orgId: string;
  eventId: string;
  partition: number;
  offset: string;
}

export interface DeadLetterOnTopic {
  orgKey: string;
  stage: string;
  errorCode: string;
  bytes: number;
  /** The start of the letter (error text and the beginning of the input), enough to name the record. */
  head: string;
  /** Every header of the message, as text. */
  headers: Record<string, string>;
}

export interface Pipeline {
  sim: RunningSimulator;
  control: SimulatorControl;
  env: Record<string, string>;
  topics: Topics;
  indexPrefix: string;
  operatorToken: string;
  readonly controlPlaneUrl: string;
  kafka: KafkaClient;
  opensearch: OpenSearchClient;
  services: {
    readonly controlPlane: RunningControlPlane | null;
    readonly ingest: RunningIngest | null;
    readonly normalize: RunningNormalizer | null;
    readonly index: RunningIndexer | null;
  };
  start(name: ServiceName): Promise<void>;
  stop(name: ServiceName): Promise<void>;
  restart(name: ServiceName): Promise<void>;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Creates an organization and connects it to the tenant through the real admin-consent flow. */
  connect(tenant: SimTenant, name?: string, cloud?: 'commercial' | 'gcc' | 'gcc-high' | 'dod', autoUpgrade?: boolean): Promise<ConnectedOrganization>;
  /** Every document under the index prefix (refreshes first). */
  documents(): Promise<IndexedDoc[]>;
  /** Documents of one organization whose event.id is one of `ids` (no refresh; for polling). */
  searchIds(ids: readonly string[]): Promise<Map<string, number>>;
  /** Reads the events topic (read committed) from `from` (default: the beginning) to the end offsets seen now. */
  readEvents(from?: Map<number, bigint>): Promise<EventOnTopic[]>;
  /** High-water marks of the events topic now. */
  eventsEndOffsets(): Promise<Map<number, bigint>>;
  /** High-water marks of a topic now. */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  /** Reads m365.raw (read committed) from `from` to the end offsets seen now; eventId is the record's Id/id. */
  readRaw(from?: Map<number, bigint>): Promise<EventOnTopic[]>;
  /** Every dead letter on the dead-letter topic now: organization key, stage, error code and the letter's size. */
  readDeadLetters(): Promise<DeadLetterOnTopic[]>;
  /** Waits until the indexer's group has committed everything on the events topic. */
  waitForIndexerCaughtUp(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export { waitUntil };

/** The pipeline on the global setup's Kafka, OpenSearch and simulator CA, with every service started. */
export async function startWholePipeline(env: Record<string, string> = {}): Promise<Pipeline> {
  const caFile = inject('simulatorCaFile');
  if (!caFile) throw new Error('the global setup did not provide the simulator CA');
  const p = await startPipeline({ kafkaBrokers: inject('kafkaBrokers'), opensearchUrl: inject('opensearchUrl'), simulatorStateDir: path.dirname(caFile), env });
  for (const name of ['control-plane', 'index', 'normalize', 'ingest'] as const) await p.start(name);
  return p;
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const prefix = uniqueName('e2e');
  const indexPrefix = uniqueName('e2e-events');
  const operatorToken = `e2e-operator-${randomBytes(12).toString('hex')}`;
  const sim = await startSimulator({ port: 0, stateDir: options.simulatorStateDir, seed: options.seed ?? prefix });
  const control = new SimulatorControl(sim.url);
  const port = await restartablePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  await control.patchApp({ redirectUris: [`${publicUrl}/oauth/microsoft/callback`] });

  const groups = {
    ingest: `${prefix}-ingest`,
    normalize: `${prefix}-normalize`,
    index: `${prefix}-index`,
  };
  const env: Record<string, string> = {
    KAFKA_BROKERS: options.kafkaBrokers,
    KAFKA_CLIENT_ID: 'm365-siem-e2e',
    OPENSEARCH_URL: options.opensearchUrl,
    LOG_LEVEL: options.logLevel ?? process.env.E2E_LOG_LEVEL ?? 'error',
    ...testTopicEnv(prefix),
    TOPIC_TENANTS_PARTITIONS: '3',
    TOPIC_DATA_PARTITIONS: '3',
    M365_ALL_HOSTS: sim.url,
    M365_CLIENT_ID: sim.clientId,
    M365_CLIENT_SECRET: sim.clientSecret,
    // The US Government clouds (GCC High, DoD) have their own registration in Entra ID Government.
    M365_GCC_HIGH_CLIENT_ID: sim.usGovClientId,
    M365_GCC_HIGH_CLIENT_SECRET: sim.usGovClientSecret,
    CONTROL_PLANE_PORT: String(port),
    CONTROL_PLANE_OPS_PORT: '0',
    CONTROL_PLANE_PUBLIC_URL: publicUrl,
    CONTROL_PLANE_TOKENS: `admin:e2e:${hashToken(operatorToken)}`,
    CONTROL_PLANE_STATE_SECRET: randomBytes(32).toString('base64url'),
    CONTROL_PLANE_UI: 'false',
    CONTROL_PLANE_VERIFY_INTERVAL_SECONDS: '0',
    INGEST_PUBLISHER_IDENTIFIER: PUBLISHER_ID,
    INGEST_GROUP_ID: groups.ingest,
    INGEST_POLL_INTERVAL_MS: '1000',
    // The simulator spreads new records' event times over the 30 s before they are added, and with outOfOrder puts
    // one in ten up to 2 h further back, still published now: Graph is re-queried that far back every cycle (the
    // ingest default, 15 min, is for Microsoft's own indexing delay). Already-published ids are skipped by ingest.
    INGEST_GRAPH_LAG_MS: String(3 * 3_600_000),
    INGEST_INITIAL_LOOKBACK_MS: String(3 * 3_600_000),
    INGEST_MAX_BACKOFF_MS: '3000',
    INGEST_STATUS_INTERVAL_MS: '2000',
    INGEST_HTTP_TIMEOUT_MS: '10000',
    INGEST_SHUTDOWN_TIMEOUT_MS: '10000',
    NORMALIZE_GROUP_ID: groups.normalize,
    NORMALIZE_TRANSACTIONAL_ID: `${prefix}-normalize`,
    NORMALIZE_SESSION_TIMEOUT_MS: '10000',
    INDEX_GROUP_ID: groups.index,
    INDEX_PREFIX: indexPrefix,
    INDEX_REPLICAS: '0',
    INDEX_REFRESH_INTERVAL: '1s',
    INDEX_RETENTION_DAYS: '0',
    INDEX_RETRY_INITIAL_MS: '100',
    INDEX_RETRY_MAX_MS: '2000',
    ...options.env,
  };
  assertTestResourceNames([env.TOPIC_TENANTS!, env.TOPIC_RAW!, env.TOPIC_EVENTS!, indexPrefix, ...Object.values(groups)]);
  const topics = topicSpecs(parseTopicSettings(env));
  const logger = createLogger('e2e', { level: env.LOG_LEVEL as 'error' });
  const kafka = createKafkaClient(parseKafkaSettings(env), logger, 'e2e');
  const opensearch = createOpenSearchClient(parseOpenSearchSettings(env));
  // Create every topic up front: the services would, but a fresh topic on a busy broker can take a moment.
  await waitUntil(
    'topics created',
    async () => {
      await kafka.ensureTopics(topics);
      return true;
    },
    30_000,
    1_000,
  );

  let controlPlane: RunningControlPlane | null = null;
  let ingest: RunningIngest | null = null;
  let normalize: RunningNormalizer | null = null;
  let index: RunningIndexer | null = null;

  const start = async (name: ServiceName): Promise<void> => {
    switch (name) {
      case 'control-plane':
        controlPlane ??= await startControlPlane(env, { propagationDelayMs: 100 });
        return;
      case 'ingest':
        ingest ??= await startIngest(env, { metrics: createIngestMetrics(false), opsServer: false, sessionTimeoutMs: 10_000 });
        return;
      case 'normalize':
        if (!normalize) {
          normalize = await startNormalizer(env, { metrics: createNormalizeMetrics(false), opsServer: false });
          await normalize.ready();
        }
        return;
      case 'index':
        index ??= await startIndexer(env, { metrics: new Metrics('index', false), opsServer: false });
        return;
    }
  };
  const stop = async (name: ServiceName): Promise<void> => {
    switch (name) {
      case 'control-plane':
        await controlPlane?.close();
        controlPlane = null;
        return;
      case 'ingest':
        await ingest?.close();
        ingest = null;
        return;
      case 'normalize':
        await normalize?.close();
        normalize = null;
        return;
      case 'index':
        await index?.close();
        index = null;
        return;
    }
  };

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    if (!controlPlane) throw new Error('the control plane is not running');
    const res = await fetch(`${controlPlane.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${operatorToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };

  const allIndices = `${indexPrefix}-*`;

  // The one way the harness reads a topic: from `from` (default the beginning) to the end offsets seen now.
  const readTopicAs = <T>(topic: string, decode: TopicRecordDecoder<T>, from?: Map<number, bigint>): Promise<T[]> =>
    readTopicRange(kafka, topic, decode, { groupId: `${prefix}-reader-${randomBytes(4).toString('hex')}`, from });
  const pipeline: Pipeline = {
    sim,
    control,
    env,
    topics,
    indexPrefix,
    operatorToken,
    get controlPlaneUrl() {
      if (!controlPlane) throw new Error('the control plane is not running');
      return controlPlane.url;
    },
    kafka,
    opensearch,
    services: {
      get controlPlane() {
        return controlPlane;
      },
      get ingest() {
        return ingest;
      },
      get normalize() {
        return normalize;
      },
      get index() {
        return index;
      },
    },
    start,
    stop,
    async restart(name) {
      await stop(name);
      await start(name);
    },
    api,
    async connect(tenant, name, cloud = 'commercial', autoUpgrade = true) {
      const created = await api<{ id: string }>('POST', '/organizations', { name: name ?? tenant.name });
      if (created.status !== 201) throw new Error(`create organization answered ${created.status}: ${JSON.stringify(created.body)}`);
      const orgId = created.body.id;
      const connect = await api<{ consentUrl: string }>('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
        autoUpgrade,
        cloud,
        tenant: tenant.tenantId,
      });
      if (connect.status !== 201) throw new Error(`connect answered ${connect.status}: ${JSON.stringify(connect.body)}`);
      // The administrator's clicks start here (sign-in, then Accept): the first-event latency counts from it.
      const consentedAt = Date.now();
      const landed = await answerConsent(connect.body.consentUrl, tenant.adminAccount, 'accept');
      if (landed.stage !== 'callback' || landed.status >= 400)
        throw new Error(`consent ended at ${landed.stage} with ${landed.status}: ${landed.html.slice(0, 300)}`);
      return { orgId, tenant, consentedAt };
    },
    async documents() {
      await opensearch.indices.refresh({ index: allIndices, ignore_unavailable: true, allow_no_indices: true });
      const out: IndexedDoc[] = [];
      let response = await opensearch.search({
        index: allIndices,
        ignore_unavailable: true,
        allow_no_indices: true,
        scroll: '30s',
        body: { size: 2_000, _source: ['event.id', 'organization.id', 'cloud.account.id'], query: { match_all: {} } },
      } as never);
      const scrollIds: string[] = [];
      for (;;) {
        const body = (response as { body: { _scroll_id?: string; hits: { hits: Array<{ _index: string; _source: Record<string, any> }> } } }).body;
        if (body._scroll_id) scrollIds.push(body._scroll_id);
        const hits = body.hits.hits;
        for (const h of hits) {
          out.push({
            orgId: String(h._source.organization?.id ?? ''),
            eventId: String(h._source.event?.id ?? ''),
            tenantId: h._source.cloud?.account?.id ?? null,
            index: h._index,
          });
        }
        if (hits.length === 0 || !body._scroll_id) break;
        response = await opensearch.scroll({ scroll_id: body._scroll_id, scroll: '30s' } as never);
      }
      if (scrollIds.length > 0) await opensearch.clearScroll({ scroll_id: [...new Set(scrollIds)] } as never).catch(() => undefined);
      return out;
    },
    async searchIds(ids) {
      const found = new Map<string, number>();
      if (ids.length === 0) return found;
      const response = await opensearch.search({
        index: allIndices,
        ignore_unavailable: true,
        allow_no_indices: true,
        body: { size: 0, query: { terms: { 'event.id': [...ids] } }, aggs: { ids: { terms: { field: 'event.id', size: ids.length } } } },
      } as never);
      const body = (response as { body: { aggregations?: { ids: { buckets: Array<{ key: string; doc_count: number }> } } } }).body;
      for (const b of body.aggregations?.ids.buckets ?? []) found.set(b.key, b.doc_count);
      return found;
    },
    eventsEndOffsets() {
      return pipeline.endOffsets(topics.events.name);
    },
    readRaw(from) {
      return readTopicAs(topics.raw.name, decodeRawRecord, from);
    },
    endOffsets(topic) {
      return topicEndOffsets(kafka, topic);
    },
    readEvents(from) {
      return readTopicAs(topics.events.name, decodeEventRecord, from);
    },
    readDeadLetters() {
      return readTopicAs(topics.deadLetter.name, decodeDeadLetterRecord);
    },
    async waitForIndexerCaughtUp(timeoutMs) {
      // The offset the indexer must have committed per partition: one past the last data message. A transaction's
      // commit marker may follow it (the normalizer's) or not (replay's plain producer), so look at the tail.
      const ends = await pipeline.eventsEndOffsets();
      const from = new Map([...ends].map(([p, end]) => [p, end > 50n ? end - 50n : 0n]));
      const tail = await pipeline.readEvents(from);
      const lastData = new Map<number, bigint>();
      for (const e of tail) if (BigInt(e.offset) + 1n > (lastData.get(e.partition) ?? 0n)) lastData.set(e.partition, BigInt(e.offset) + 1n);
      const required = new Map([...ends].map(([p, end]) => [p, lastData.get(p) ?? (end === 0n ? 0n : end - 1n)]));
      await waitForGroupCommitted(kafka, groups.index, topics.events.name, timeoutMs, required);
    },
    async close() {
      for (const name of ['control-plane', 'ingest', 'normalize', 'index'] as const) await stop(name).catch(() => undefined);
      control.close();
      await sim.close().catch(() => undefined);
      const indices = await listDailyIndices(opensearch, indexPrefix).catch(() => [] as string[]);
      await deleteTestIndices(opensearch, indices).catch(() => undefined);
      await deleteIndexTemplate(opensearch, indexPrefix).catch(() => undefined);
      await opensearch.close().catch(() => undefined);
      const admin = kafka.admin();
      await admin.connect();
      try {
        await deleteTestTopics(admin, [...Object.values(topics).map((t) => t.name), `${topics.tenants.name}.history`]);
        const leftover = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
        await deleteTestGroups(admin, [...new Set([...Object.values(groups), ...leftover])]);
      } finally {
        await admin.disconnect();
      }
    },
  };
  return pipeline;
}

/** Decodes a SIEM event record of the events topic: organization key and id, event id, position. */
export const decodeEventRecord: TopicRecordDecoder<EventOnTopic> = (value, key, partition, offset) => {
  const event = decodeSiemEvent(value);
  return { orgKey: key, orgId: event.organization.id, eventId: event.event.id, partition, offset };
};

/** Decodes an m365.raw envelope record: organization key and envelope, record id. */
export const decodeRawRecord: TopicRecordDecoder<EventOnTopic> = (value, key, partition, offset) => {
  const envelope = JSON.parse(value.toString('utf8')) as { orgId: string; record: Record<string, unknown> };
  return { orgKey: key, orgId: envelope.orgId, eventId: String(envelope.record.Id ?? envelope.record.id ?? ''), partition, offset };
};

/** Decodes a dead letter: organization key, stage, error code and the letter's size. */
export const decodeDeadLetterRecord: TopicRecordDecoder<DeadLetterOnTopic> = (value, key, _partition, _offset, headers) => ({
  orgKey: key,
  stage: headers[DEAD_LETTER_HEADERS.stage] ?? '',
  errorCode: headers[DEAD_LETTER_HEADERS.errorCode] ?? '',
  bytes: value.length,
  head: value.subarray(0, 600).toString('utf8'),
  headers,
});

/** Documents of one organization in the pipeline's indices now (counted across every daily index). */
export async function organizationDocumentCount(p: Pick<Pipeline, 'opensearch' | 'indexPrefix'>, orgId: string): Promise<number> {
  const r = await p.opensearch.count({
    index: `${p.indexPrefix}-*`,
    ignore_unavailable: true,
    allow_no_indices: true,
    body: { query: { term: { 'organization.id': orgId } } },
  } as never);
  return (r as { body: { count: number } }).body.count;
}
