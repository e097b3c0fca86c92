/**
 * The whole system for the UI's end-to-end browser tests: the simulator (Microsoft), the real control plane, ingest,
 * normalize and index on the shared Kafka and OpenSearch, each with unique topics, groups and index prefix that are
 * removed afterwards.
 * The browser talks to the control plane only: it serves the UI at `/` and the events API itself.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { inject } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../../control-plane/index.ts';
import { hashToken } from '../../../control-plane/auth.ts';
import { startIndexer, type RunningIndexer } from '../../../index/index.ts';
import { startIngest, type RunningIngest } from '../../../ingest/index.ts';
import { startNormalizer, type RunningNormalizer } from '../../../normalize/index.ts';
import {
  createKafkaClient,
  createLogger,
  createOpenSearchClient,
  parseKafkaSettings,
  parseOpenSearchSettings,
  type OpenSearchClient,
} from '../../../runtime/index.ts';
import { SimulatorControl, startSimulator, type RunningSimulator, type SimTenant, type TenantCreateRequest } from '../../../simulator/index.ts';
import { UPGRADE_ROLES, V1_MANIFEST_ROLES } from '../../helpers/app-registration-roles.ts';
import { freePort } from '../../helpers/free-port.ts';
import { deleteTestGroups, deleteTestIndices, deleteTestTopics, uniqueName } from '../../helpers/resources.ts';

export const ADMIN_TOKEN = `ui-e2e-admin-${randomBytes(8).toString('hex')}`;
export const VIEWER_TOKEN = `ui-e2e-viewer-${randomBytes(8).toString('hex')}`;

/** What an app registration of the release before the manifest change declared (manifest v1 + auto-upgrade roles). */
export const V1_APP_ROLES = [...V1_MANIFEST_ROLES, ...UPGRADE_ROLES];

const suffix = () => randomBytes(4).toString('hex');

export interface Pipeline {
  /** Where the browser goes: the control plane's public URL. */
  url: string;
  sim: RunningSimulator;
  control: SimulatorControl;
  cp: RunningControlPlane;
  openSearch: OpenSearchClient;
  indexPrefix: string;
  tenant(over?: Partial<TenantCreateRequest>): Promise<SimTenant>;
  api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Restarts the control plane with changed settings (same port, state rebuilt from the topic). */
  restartControlPlane(overrides: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export async function startPipeline(options: { env?: Record<string, string>; appRoles?: string[] } = {}): Promise<Pipeline> {
  const caFile = inject('simulatorCaFile');
  if (!caFile) throw new Error('the global setup did not provide the simulator CA');
  const id = suffix();
  const sim = await startSimulator({ port: 0, stateDir: path.dirname(caFile), seed: `ui-e2e-${id}` });
  const control = new SimulatorControl(sim.url);
  const publicPort = await freePort();
  const url = `http://127.0.0.1:${publicPort}`;
  await control.patchApp({ redirectUris: [`${url}/oauth/microsoft/callback`], ...(options.appRoles ? { requiredRoles: options.appRoles } : {}) });

  const topics = {
    TOPIC_TENANTS: uniqueName('ui-tenants'),
    TOPIC_STATUS: uniqueName('ui-status'),
    TOPIC_CHECKPOINTS: uniqueName('ui-checkpoints'),
    TOPIC_RAW: uniqueName('ui-raw'),
    TOPIC_EVENTS: uniqueName('ui-events'),
    TOPIC_DLQ: uniqueName('ui-dlq'),
  };
  const groups = { ingest: uniqueName('ui-ingest'), normalize: uniqueName('ui-normalize'), index: uniqueName('ui-index') };
  const indexPrefix = uniqueName('ui-siem');
  const env: Record<string, string> = {
    KAFKA_BROKERS: inject('kafkaBrokers'),
    OPENSEARCH_URL: inject('opensearchUrl'),
    KAFKA_CLIENT_ID: 'm365-siem-ui-e2e',
    ...topics,
    TOPIC_TENANTS_PARTITIONS: '2',
    TOPIC_DATA_PARTITIONS: '2',
    CONTROL_PLANE_PORT: String(publicPort),
    CONTROL_PLANE_OPS_PORT: '0',
    CONTROL_PLANE_HOST: '127.0.0.1',
    CONTROL_PLANE_PUBLIC_URL: url,
    CONTROL_PLANE_TOKENS: `admin:ui-e2e-operator:${hashToken(ADMIN_TOKEN)},viewer:ui-e2e-viewer:${hashToken(VIEWER_TOKEN)}`,
    CONTROL_PLANE_STATE_SECRET: `ui-e2e-state-secret-${randomBytes(16).toString('hex')}`,
    CONTROL_PLANE_VERIFY_INTERVAL_SECONDS: '0',
    M365_ALL_HOSTS: sim.url,
    M365_CLIENT_ID: sim.clientId,
    M365_CLIENT_SECRET: sim.clientSecret,
    INGEST_GROUP_ID: groups.ingest,
    INGEST_PUBLISHER_IDENTIFIER: randomUUID(),
    INGEST_POLL_INTERVAL_MS: '2000',
    INGEST_STATUS_INTERVAL_MS: '1000',
    // Graph lists records up to ~30 s after their event time in the simulator; a zero lag would skip them.
    INGEST_GRAPH_LAG_MS: '60000',
    INGEST_INITIAL_LOOKBACK_MS: '3600000',
    INGEST_MANAGEMENT_OVERLAP_MS: '60000',
    INGEST_TOKEN_REFRESH_MS: '2000',
    INGEST_MAX_BACKOFF_MS: '3000',
    INGEST_OPS_PORT: '0',
    NORMALIZE_GROUP_ID: groups.normalize,
    NORMALIZE_TRANSACTIONAL_ID: uniqueName('ui-normalize-tx'),
    NORMALIZE_OPS_PORT: '0',
    INDEX_GROUP_ID: groups.index,
    INDEX_PREFIX: indexPrefix,
    INDEX_REPLICAS: '0',
    INDEX_RETENTION_DAYS: '0',
    INDEX_OPS_PORT: '0',
    LOG_LEVEL: process.env.UI_E2E_LOG_LEVEL ?? 'silent',
    ...options.env,
  };
  const logger = createLogger('ui-e2e', { level: (env.LOG_LEVEL as 'silent') ?? 'silent' });
  const openSearch = createOpenSearchClient(parseOpenSearchSettings(env));

  const cpEnv = { ...env };
  let cp = await startControlPlane(cpEnv, { logger, propagationDelayMs: 100 });
  let ingest: RunningIngest | undefined;
  let normalizer: RunningNormalizer | undefined;
  let indexer: RunningIndexer | undefined;
  const cleanup = async () => {
    await Promise.allSettled([ingest?.close(), normalizer?.close(), indexer?.close()]);
    await cp.close().catch(() => undefined);
    control.close();
    await sim.close();
    const created = await openSearch.indices
      .get({ index: `${indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true })
      .then((r) => Object.keys(r.body as Record<string, unknown>))
      .catch(() => [] as string[]);
    await deleteTestIndices(openSearch, created).catch(() => undefined);
    await openSearch.indices.deleteIndexTemplate({ name: indexPrefix }).catch(() => undefined);
    await openSearch.close();
    const kafka = createKafkaClient(parseKafkaSettings(env), logger, 'ui-e2e-cleanup');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await deleteTestTopics(admin, [...Object.values(topics), `${topics.TOPIC_TENANTS}.history`]).catch(() => undefined);
      await deleteTestGroups(admin, Object.values(groups));
    } finally {
      await admin.disconnect();
    }
  };
  try {
    indexer = await startIndexer(env, { opsServer: false });
    normalizer = await startNormalizer(env, { opsServer: false });
    ingest = await startIngest(env, { opsServer: false });
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }

  let tenantCount = 0;
  return {
    url,
    sim,
    control,
    get cp() {
      return cp;
    },
    openSearch,
    indexPrefix,
    async tenant(over = {}) {
      tenantCount += 1;
      const name = `UiE2e${id}${tenantCount}`;
      return control.createTenant({
        name,
        domain: `${name.toLowerCase()}.example`,
        recordsPerMinute: 20,
        publicationDelayMs: [200, 800],
        graphThrottling: false,
        // A short consent propagation: the path runs (the callback may answer "waiting for Microsoft"), the
        // screens' timing stays what these tests were written for. tests/control-plane/propagation.int.test.ts
        // covers longer delays.
        consentPropagationMs: [200, 400],
        ...over,
      });
    },
    async api<T = unknown>(method: string, p: string, body?: unknown) {
      const res = await fetch(`${url}/api/v1${p}`, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
    async restartControlPlane(overrides) {
      await cp.close();
      Object.assign(cpEnv, overrides);
      cp = await startControlPlane(cpEnv, { logger, propagationDelayMs: 100 });
    },
    close: cleanup,
  };
}
