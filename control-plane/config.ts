/**
 * Settings of the control plane, parsed once at start (STYLE.md practice 5). `process.env` is read by the caller
 * and handed in; this module only validates.
 */
import { z } from 'zod';
import {
  ConfigError,
  envBoolean,
  envInt,
  envUrl,
  opsPortSetting,
  parseCloudProfiles,
  parseCommonSettings,
  parseKafkaSettings,
  parseMicrosoftRegistrations,
  parseOpenSearchSettings,
  parseSettings,
  parseTopicSettings,
  setting,
  stageGroupSettings,
  type CloudProfiles,
  type KafkaSettings,
  type MicrosoftRegistrations,
  type OpenSearchSettings,
  type TopicSettings,
} from '../runtime/index.ts';
import { parseTokenTable, type TokenEntry } from './auth.ts';
import { LATEST_MANIFEST_VERSION, MANIFEST_VERSIONS } from './permission-manifest.ts';

type Env = Readonly<Record<string, string | undefined>>;

export const controlPlaneSettingsSpec = {
  port: setting(
    'CONTROL_PLANE_PORT',
    envInt(8080, 0, 65535),
    'port of the control-plane REST API, UI, consent callback, /healthz and /readyz (0 = any free port); /metrics is on CONTROL_PLANE_OPS_PORT',
  ),
  opsPort: opsPortSetting('CONTROL_PLANE', 9402),
  host: setting('CONTROL_PLANE_HOST', z.string().default('127.0.0.1'), 'interface the control plane listens on (0.0.0.0 behind a reverse proxy)'),
  publicUrl: setting(
    'CONTROL_PLANE_PUBLIC_URL',
    envUrl('http://localhost:8080').transform((v) => v.replace(/\/+$/, '')),
    'external base URL of the control plane; the consent redirect URI is {this}/oauth/microsoft/callback and must be registered on the Entra app',
  ),
  tokens: setting(
    'CONTROL_PLANE_TOKENS',
    z.string({ message: 'required' }).min(1, 'required'),
    'API bearer tokens as comma-separated role[:label]:sha256hex[:scope] entries: role admin or viewer; scope * (every organization, the default) or organization ids joined by + (e.g. viewer:msp-analyst:<hash>:org_a+org_b+org_c); one token may have several entries with different roles per scope; only scope-* admins add organizations; create hashes with `m365-siem token hash`',
  ),
  stateSecret: setting(
    'CONTROL_PLANE_STATE_SECRET',
    z.string({ message: 'required' }).min(32, 'expected at least 32 characters'),
    'HMAC key that signs the consent state parameter (at least 32 random characters; never logged)',
  ),
  verifyIntervalSeconds: setting(
    'CONTROL_PLANE_VERIFY_INTERVAL_SECONDS',
    envInt(300, 0, 86_400),
    'how often every connected organization is re-verified with fresh tokens (revoked consent, expired secret, manifest changes); 0 = never',
  ),
  manifestVersion: setting(
    'PERMISSION_MANIFEST_VERSION',
    envInt(LATEST_MANIFEST_VERSION, 1, 1000).refine((v) => MANIFEST_VERSIONS.includes(v), {
      message: `expected one of ${MANIFEST_VERSIONS.join(', ')}`,
    }),
    'permission manifest version in force; connected organizations move to it on their next verification',
  ),
  expectedLagSeconds: setting(
    'CONTROL_PLANE_EXPECTED_LAG_SECONDS',
    envInt(4 * 3600, 60, 7 * 86_400),
    'a source whose cursor is further behind than this is reported as lagging',
  ),
  historyMaxBytes: setting(
    'CONTROL_PLANE_HISTORY_MAX_BYTES',
    envInt(1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
    'bytes of change history kept per organization in the history topic (oldest dropped first, in chunks of up to 64 KiB)',
  ),
  historyTopic: setting(
    'TOPIC_HISTORY',
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name')
      .optional(),
    'compacted topic of the organizations\' change histories, read only by the control plane (default: the TOPIC_TENANTS name + ".history")',
  ),
  stallSeconds: setting(
    'CONTROL_PLANE_STALL_SECONDS',
    envInt(30, 0, 86_400),
    'a pipeline stage (normalize, index) that commits nothing for this long while records wait on an input partition is shown as pipeline_stalled on the organizations keyed to it (0 = off); docs/pipeline-health.md',
  ),
  pipelineCheckSeconds: setting(
    'CONTROL_PLANE_PIPELINE_CHECK_SECONDS',
    envInt(10, 1, 3_600),
    "how often the control plane reads the stages' committed offsets and their topics' end offsets to find stalls",
  ),
  normalizeGroupId: stageGroupSettings.normalize,
  indexGroupId: stageGroupSettings.index,
  ui: setting('CONTROL_PLANE_UI', envBoolean(true), 'serve the operator web UI at / (built from control-plane/ui, nothing fetched from the internet)'),
  callbackRateLimit: setting(
    'CONTROL_PLANE_CALLBACK_RATE_LIMIT',
    envInt(60, 0, 1_000_000),
    'consent callbacks accepted per minute from one client address; more get 429 (0 = no limit)',
  ),
  authFailureLimit: setting(
    'CONTROL_PLANE_AUTH_FAILURE_LIMIT',
    envInt(30, 0, 1_000_000),
    'failed API authentications (401) per minute from one client address before its API requests get 429 for the rest of the minute (0 = no limit)',
  ),
  trustProxy: setting(
    'CONTROL_PLANE_TRUST_PROXY',
    z
      .string()
      .regex(
        /^(true|false|\d{1,2}|[0-9a-fA-F.:/,\s]+|loopback|linklocal|uniquelocal)$/,
        'expected false, true, a hop count, loopback/linklocal/uniquelocal or comma-separated proxy addresses/subnets',
      )
      .default('false')
      .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v)),
    'which reverse proxies to trust for the client address (X-Forwarded-For) used by the rate limits: false (default: the TCP peer), a hop count, loopback, or proxy addresses/subnets',
  ),
  eventsApi: setting('CONTROL_PLANE_EVENTS_API', envBoolean(true), 'serve GET /api/v1/organizations/{id}/events from OpenSearch (needs OPENSEARCH_*)'),
  eventsIndex: setting(
    'INDEX_PREFIX',
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,200}$/, 'expected a lower-case OpenSearch index name')
      .default('siem-events'),
    "read alias of the SIEM events the events API searches (the index service's INDEX_PREFIX)",
  ),
} as const;

export interface ControlPlaneConfig {
  port: number;
  /** The ops listener (127.0.0.1): /healthz, /readyz and /metrics, never reachable through the public URL. */
  opsPort: number;
  host: string;
  publicUrl: string;
  tokens: TokenEntry[];
  stateSecret: string;
  verifyIntervalSeconds: number;
  manifestVersion: number;
  expectedLagSeconds: number;
  historyMaxBytes: number;
  /** Compacted topic of the organizations' histories (decision 0110). */
  historyTopic: string;
  /** Pipeline stall detection: threshold (0 = off), check interval, and the stages' consumer groups. */
  pipeline: { stallSeconds: number; checkSeconds: number; groups: { normalize: string; index: string } };
  ui: boolean;
  rateLimits: { callbackPerMinute: number; authFailuresPerMinute: number };
  trustProxy: boolean | number | string;
  eventsApi: boolean;
  eventsIndex: string;
  /** OpenSearch settings, parsed only when the events API is on. */
  openSearch: OpenSearchSettings | null;
  logLevel: ReturnType<typeof parseCommonSettings>['logLevel'];
  kafka: KafkaSettings;
  topics: TopicSettings;
  clouds: CloudProfiles;
  /** The application registration of each cloud; a cloud without one is refused at connect, naming its settings. */
  registrations: MicrosoftRegistrations;
}

export function parseControlPlaneConfig(env: Env): ControlPlaneConfig {
  const s = parseSettings(controlPlaneSettingsSpec, env);
  let tokens: TokenEntry[];
  try {
    tokens = parseTokenTable(s.tokens);
  } catch (error) {
    throw new ConfigError([`CONTROL_PLANE_TOKENS: ${(error as Error).message}`]);
  }
  const topics = parseTopicSettings(env);
  const registrations = parseMicrosoftRegistrations(env);
  if (Object.keys(registrations).length === 0) {
    throw new ConfigError([
      'M365_CLIENT_ID: required (the multi-tenant Entra application the control plane connects tenants to), or the registration of another cloud (M365_GCC_HIGH_CLIENT_ID, …)',
    ]);
  }
  return {
    port: s.port,
    opsPort: s.opsPort,
    host: s.host,
    publicUrl: s.publicUrl,
    tokens,
    stateSecret: s.stateSecret,
    verifyIntervalSeconds: s.verifyIntervalSeconds,
    manifestVersion: s.manifestVersion,
    expectedLagSeconds: s.expectedLagSeconds,
    historyMaxBytes: s.historyMaxBytes,
    historyTopic: s.historyTopic ?? `${topics.tenants}.history`,
    pipeline: { stallSeconds: s.stallSeconds, checkSeconds: s.pipelineCheckSeconds, groups: { normalize: s.normalizeGroupId, index: s.indexGroupId } },
    ui: s.ui,
    rateLimits: { callbackPerMinute: s.callbackRateLimit, authFailuresPerMinute: s.authFailureLimit },
    trustProxy: s.trustProxy,
    eventsApi: s.eventsApi,
    eventsIndex: s.eventsIndex,
    openSearch: s.eventsApi ? parseOpenSearchSettings(env) : null,
    logLevel: parseCommonSettings(env).logLevel,
    kafka: parseKafkaSettings(env),
    topics,
    clouds: parseCloudProfiles(env),
    registrations,
  };
}

/** Settings of the `m365-siem org …` commands, which talk to a running control plane over its REST API. */
export const cliSettingsSpec = {
  url: setting(
    'M365_SIEM_URL',
    envUrl('http://localhost:8080').transform((v) => v.replace(/\/+$/, '')),
    'base URL of the control plane the CLI talks to',
  ),
  token: setting('M365_SIEM_TOKEN', z.string().min(1).optional(), 'API bearer token the CLI sends (admin for changes, viewer for reads)'),
} as const;

export function parseCliSettings(env: Env) {
  return parseSettings(cliSettingsSpec, env);
}
