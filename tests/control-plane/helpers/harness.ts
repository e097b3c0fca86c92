import path from 'node:path';
import { inject } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../../control-plane/index.ts';
import { hashToken } from '../../../control-plane/auth.ts';
import { answerConsent, SimulatorControl, startSimulator, type RunningSimulator, type SimTenant } from '../../../simulator/index.ts';
import {
  createKafkaClient,
  createLogger,
  parseKafkaSettings,
  tenantConnectionSchema,
  type KafkaClient,
  type KafkaProducer,
  type SourceStatus,
  type TenantConnection,
} from '../../../runtime/index.ts';
import { freePort } from '../../helpers/free-port.ts';
import { jsonOrText } from '../../helpers/json-body.ts';
import { deleteTestTopics, uniqueName } from '../../helpers/resources.ts';
import { waitUntil } from '../../helpers/wait.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const VIEWER_TOKEN = 'test-viewer-token-0123456789';
export const STATE_SECRET = 'test-state-secret-0123456789-0123456789';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export type { ConsentOutcome as ConsentResult } from '../../../simulator/index.ts';
import type { ConsentOutcome as ConsentResult } from '../../../simulator/index.ts';

export interface Harness {
  sim: RunningSimulator;
  control: SimulatorControl;
  cp: RunningControlPlane;
  kafka: KafkaClient;
  topics: { tenants: string; status: string };
  env: Record<string, string>;
  api<T = any>(method: string, path: string, body?: unknown, token?: string | null, raw?: string): Promise<ApiResponse<T>>;
  /** Drives Microsoft's consent page as a browser would: pick the account, press Accept or Cancel, follow the redirect. */
  consent(consentUrl: string, account: string, action?: 'accept' | 'cancel'): Promise<ConsentResult>;
  tenant(overrides?: {
    partner?: boolean;
    licences?: { entraP1?: boolean; entraP2?: boolean };
    auditLogging?: boolean;
    consentPropagationMs?: [number, number];
    cloud?: 'commercial' | 'gcc' | 'gcc-high' | 'dod';
  }): Promise<SimTenant>;
  createOrg(name?: string): Promise<string>;
  /** Creates an organization and connects it through a real consent of the tenant's administrator. */
  connectOrg(tenant: SimTenant, options?: { autoUpgrade?: boolean; name?: string; namedTenant?: string | null }): Promise<string>;
  publishStatus(status: SourceStatus): Promise<void>;
  /** The latest m365.tenants value of an organization, read from the topic as ingest would. */
  tenantsValue(orgId: string): Promise<TenantConnection | null | undefined>;
  restart(envOverrides?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

let tenantCounter = 0;

export async function startHarness(options: { env?: Record<string, string>; appRoles?: string[] } = {}): Promise<Harness> {
  const caFile = inject('simulatorCaFile');
  if (!caFile) throw new Error('the global setup did not provide the simulator CA');
  const sim = await startSimulator({ port: 0, stateDir: path.dirname(caFile), seed: uniqueName('cp-sim') });
  const control = new SimulatorControl(sim.url);
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  await control.patchApp({ redirectUris: [`${publicUrl}/oauth/microsoft/callback`], ...(options.appRoles ? { requiredRoles: options.appRoles } : {}) });

  const topics = { tenants: uniqueName('cp-tenants'), status: uniqueName('cp-status') };
  const env: Record<string, string> = {
    KAFKA_BROKERS: inject('kafkaBrokers'),
    KAFKA_CLIENT_ID: 'm365-siem-test',
    TOPIC_TENANTS: topics.tenants,
    TOPIC_STATUS: topics.status,
    TOPIC_TENANTS_PARTITIONS: '3',
    CONTROL_PLANE_PORT: String(port),
    CONTROL_PLANE_OPS_PORT: '0',
    CONTROL_PLANE_PUBLIC_URL: publicUrl,
    CONTROL_PLANE_TOKENS: `admin:test-operator:${hashToken(ADMIN_TOKEN)},viewer:${hashToken(VIEWER_TOKEN)}`,
    CONTROL_PLANE_STATE_SECRET: STATE_SECRET,
    CONTROL_PLANE_VERIFY_INTERVAL_SECONDS: '0',
    M365_ALL_HOSTS: sim.url,
    M365_CLIENT_ID: sim.clientId,
    M365_CLIENT_SECRET: sim.clientSecret,
    LOG_LEVEL: 'silent',
    CONTROL_PLANE_UI: 'false',
    OPENSEARCH_URL: inject('opensearchUrl'),
    INDEX_PREFIX: uniqueName('cp-events'),
    ...options.env,
  };
  const logger = createLogger('test', { level: 'silent' });
  const kafka = createKafkaClient(parseKafkaSettings(env), logger, 'cp-test');
  const start = (e: Record<string, string>) => startControlPlane(e, { logger, propagationDelayMs: 100 });
  let cp = await start(env);
  let producer: KafkaProducer | null = null;

  const harness: Harness = {
    sim,
    control,
    get cp() {
      return cp;
    },
    kafka,
    topics,
    env,
    async api(method, p, body, token = ADMIN_TOKEN, raw) {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined || raw !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(`${cp.url}/api/v1${p}`, {
        method,
        headers,
        ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: jsonOrText(await res.text()) as any };
    },
    async consent(consentUrl, account, action = 'accept') {
      return answerConsent(consentUrl, account, action);
    },
    async tenant(overrides = {}) {
      const n = `${Date.now().toString(36)}${(tenantCounter++).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
      // No propagation delay unless a test asks for one (the propagation tests do).
      return control.createTenant({ name: `Tenant ${n}`, domain: `t${n}.example`, publicationDelayMs: [0, 0], consentPropagationMs: [0, 0], ...overrides });
    },
    async createOrg(name = 'Contoso') {
      const res = await harness.api('POST', '/organizations', { name });
      if (res.status !== 201) throw new Error(`create org: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    async connectOrg(tenant, o = {}) {
      const orgId = await harness.createOrg(o.name ?? tenant.name);
      const named = o.namedTenant === undefined ? tenant.tenantId : o.namedTenant;
      const res = await harness.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
        autoUpgrade: o.autoUpgrade ?? false,
        cloud: 'commercial',
        ...(named ? { tenant: named } : {}),
      });
      if (res.status !== 201) throw new Error(`connect: ${res.status} ${JSON.stringify(res.body)}`);
      const result = await harness.consent(res.body.consentUrl, tenant.adminAccount);
      if (result.status !== 200) throw new Error(`consent: ${result.stage} ${result.status} ${result.html.slice(0, 400)}`);
      return orgId;
    },
    async publishStatus(status) {
      if (!producer) {
        producer = kafka.producer();
        await producer.connect();
      }
      await producer.send({ topic: topics.status, acks: -1, messages: [{ key: `${status.orgId}|${status.source}`, value: JSON.stringify(status) }] });
    },
    async tenantsValue(orgId) {
      const values = await kafka.readCompactedToEnd(topics.tenants, uniqueName('cp-reader'));
      if (!values.has(orgId)) return undefined;
      const value = values.get(orgId);
      return value === null || value === undefined ? null : tenantConnectionSchema.parse(JSON.parse(value.toString('utf8')));
    },
    async restart(envOverrides = {}) {
      await cp.close();
      Object.assign(env, envOverrides);
      cp = await start(env);
    },
    async close() {
      await cp.close().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      control.close();
      await sim.close();
      const admin = kafka.admin();
      await admin.connect();
      try {
        await deleteTestTopics(admin, [topics.tenants, topics.status, `${topics.tenants}.history`]);
      } finally {
        await admin.disconnect();
      }
    },
  };
  return harness;
}

/** Polls until `check` returns a truthy value (status reports travel through Kafka). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  return waitUntil(what, check, timeoutMs, 200);
}

export function statusReport(orgId: string, tenantId: string, source: SourceStatus['source'], over: Partial<SourceStatus> = {}): SourceStatus {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    orgId,
    tenantId,
    source,
    state: 'ok',
    reason: null,
    message: null,
    licenceRequired: null,
    lastSuccessAt: now,
    lastErrorAt: null,
    lastEventAt: now,
    firstEventAt: now,
    lagSeconds: 120,
    hoursUntilDataLoss: null,
    gaps: [],
    counts: { recordsPublished: 5, duplicatesSkipped: 0, deadLettered: 0, errors: 0, events24h: 5 },
    updatedAt: now,
    ...over,
  };
}
