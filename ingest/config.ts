import { z } from 'zod';
import {
  commonSettingsSpec,
  envInt,
  opsPortSetting,
  parseCloudProfiles,
  parseKafkaSettings,
  parseMicrosoftRegistrations,
  parseSettings,
  parseTopicSettings,
  setting,
  topicSpecs,
  type CloudProfiles,
  type KafkaSettings,
  type MicrosoftRegistrations,
  type SettingsOf,
  type Topics,
} from '../runtime/index.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Every ingest setting, with its default; documented in README.md § Ingest. */
export const ingestSettingsSpec = {
  ...commonSettingsSpec,
  opsPort: opsPortSetting('INGEST', 9403),
  groupId: setting(
    'INGEST_GROUP_ID',
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/)
      .default('m365-ingest'),
    'consumer group of the pollers on m365.tenants; instances sharing it share the tenants',
  ),
  publisherIdentifier: setting(
    'INGEST_PUBLISHER_IDENTIFIER',
    z
      .string({ message: 'required: the tenant GUID of the company operating the connector (Management API PublisherIdentifier)' })
      .uuid({ message: 'expected a tenant GUID' }),
    'PublisherIdentifier sent on every Management Activity API call: the vendor tenant GUID, selects the throttling quota',
  ),
  backfillMaxDays: setting(
    'INGEST_BACKFILL_MAX_DAYS',
    envInt(30, 0, 180),
    "days of a newly connected organization's unified audit log fetched through the Audit Search API (0: none; Audit Standard keeps 180)",
  ),
  backfillPollMs: setting('INGEST_BACKFILL_POLL_MS', envInt(30_000, 100, HOUR), 'pause between two status checks of a back-fill audit log query'),
  pollIntervalMs: setting('INGEST_POLL_INTERVAL_MS', envInt(60_000, 100, DAY), 'pause between two poll cycles of one (organization, source)'),
  initialLookbackMs: setting('INGEST_INITIAL_LOOKBACK_MS', envInt(DAY, 0, 7 * DAY), 'how far back the first poll of a new (organization, source) starts'),
  managementWindowMs: setting('INGEST_MANAGEMENT_WINDOW_MS', envInt(6 * HOUR, 1_000, DAY), 'largest /subscriptions/content window (Microsoft allows 24 h)'),
  managementOverlapMs: setting(
    'INGEST_MANAGEMENT_OVERLAP_MS',
    envInt(HOUR, 0, 6 * DAY),
    'trailing overlap re-listed every cycle for content Microsoft lists late',
  ),
  graphLagMs: setting('INGEST_GRAPH_LAG_MS', envInt(15 * MINUTE, 0, DAY), 'Graph watermark minus this lag is where each cycle starts (indexing delay)'),
  graphLateLagMs: setting(
    'INGEST_GRAPH_LATE_LAG_MS',
    envInt(3 * HOUR, 0, 7 * DAY),
    'a periodic deeper re-query reaches this far behind the watermark, for Graph records that appear hours after their event time',
  ),
  graphLateIntervalMs: setting(
    'INGEST_GRAPH_LATE_INTERVAL_MS',
    envInt(15 * MINUTE, 0, DAY),
    'how often a Graph source makes the deeper re-query (0 = every cycle)',
  ),
  graphSliceMs: setting(
    'INGEST_GRAPH_SLICE_MS',
    envInt(6 * HOUR, MINUTE, 7 * DAY),
    'a sign-in or directory-audit cycle reaching further back than this asks in slices of this length, oldest first, committing the cursor after each (Microsoft: narrow $filter windows when throttled)',
  ),
  checkpointIntervalMs: setting(
    'INGEST_CHECKPOINT_INTERVAL_MS',
    envInt(MINUTE, 0, HOUR),
    'an advancing cursor with nothing else to commit is committed at most this often (a restart re-lists at most this much more)',
  ),
  dedupHorizonMs: setting('INGEST_DEDUP_HORIZON_MS', envInt(8 * DAY, MINUTE, 30 * DAY), 'record ids already published are skipped for this long'),
  tenantRecordsPerHour: setting(
    'INGEST_TENANT_RECORDS_PER_HOUR',
    envInt(250_000, 0, 100_000_000),
    'records an organization may publish per hour over all its sources; past it, its sources wait (status throttled) so one flooding tenant cannot exhaust the process memory (0 = no quota)',
  ),
  registrationIntervalMs: setting('INGEST_REGISTRATION_INTERVAL_MS', envInt(6 * HOUR, 1_000, 7 * DAY), 'period of the userRegistrationDetails snapshot'),
  blobConcurrency: setting('INGEST_BLOB_CONCURRENCY', envInt(4, 1, 64), 'content blobs fetched at once per (organization, content type)'),
  httpConcurrency: setting('INGEST_HTTP_CONCURRENCY', envInt(64, 1, 4_096), 'Microsoft requests in flight at once for the whole process'),
  tokenRefreshMs: setting(
    'INGEST_TOKEN_REFRESH_MS',
    envInt(50 * MINUTE, 1_000, DAY),
    'a cached app token older than this is replaced by a fresh one, so revoked consent or new roles show within this time',
  ),
  httpTimeoutMs: setting('INGEST_HTTP_TIMEOUT_MS', envInt(30_000, 100, 600_000), 'timeout of one Microsoft request'),
  managementRequestsPerMinute: setting(
    'INGEST_MANAGEMENT_REQUESTS_PER_MINUTE',
    envInt(1_000, 1, 1_000_000),
    'Management Activity API request budget per tenant (Microsoft baseline 2,000/min)',
  ),
  graphReportsPer10s: setting(
    'INGEST_GRAPH_REPORTS_PER_10S',
    envInt(5, 1, 10_000),
    'Graph identity and access reports budget per tenant per 10 s (Microsoft: 5)',
  ),
  graphAppReportsPer10s: setting(
    'INGEST_GRAPH_APP_REPORTS_PER_10S',
    envInt(122, 1, 100_000),
    'Graph reports budget of the application across all tenants per 10 s (Microsoft: 122)',
  ),
  identityProtectionPerSecond: setting(
    'INGEST_IDENTITY_PROTECTION_PER_S',
    envInt(1, 1, 1_000),
    'Graph identity protection limit per tenant per second, all applications of the tenant together (Microsoft: 1)',
  ),
  identityProtectionSharePercent: setting(
    'INGEST_IDENTITY_PROTECTION_SHARE_PERCENT',
    envInt(50, 1, 100),
    "share of the identity protection limit the connector uses per tenant; the rest is left to the customer's other applications, which count against the same limit",
  ),
  rateWindowMarginMs: setting(
    'INGEST_RATE_WINDOW_MARGIN_MS',
    envInt(250, 0, 10_000),
    "added to every Graph rate window, which already runs from each request's send to its answer plus the documented window: slack for the clocks",
  ),
  maxBackoffMs: setting('INGEST_MAX_BACKOFF_MS', envInt(5 * MINUTE, 100, DAY), 'longest pause between retries of a failing source'),
  dataLossWarnHours: setting(
    'INGEST_DATA_LOSS_WARN_HOURS',
    envInt(48, 1, 168),
    'a failing source whose oldest unfetched content is this close to the 7-day limit reports data_loss_risk',
  ),
  lagWarnSeconds: setting('INGEST_LAG_WARN_SECONDS', envInt(3_600, 1, 7 * 24 * 3_600), 'a source whose cursor is further behind than this reports lagging'),
  statusIntervalMs: setting('INGEST_STATUS_INTERVAL_MS', envInt(30_000, 100, HOUR), 'an unchanged status is re-published at most this often'),
  shutdownTimeoutMs: setting('INGEST_SHUTDOWN_TIMEOUT_MS', envInt(20_000, 100, 600_000), 'how long close() waits for running cycles before abandoning them'),
  sessionTimeoutMs: setting(
    'INGEST_SESSION_TIMEOUT_MS',
    // Kafka's broker-side bounds by default (group.min/max.session.timeout.ms): 6 s to 30 min.
    envInt(30_000, 6_000, 1_800_000),
    'how long a silent instance keeps its tenants before the group hands them to the others (shorter: faster failover; longer: a paused process keeps its tenants)',
  ),
} as const;

export type IngestSettings = SettingsOf<typeof ingestSettingsSpec>;

export interface IngestConfig {
  settings: IngestSettings;
  kafka: KafkaSettings;
  topics: Topics;
  clouds: CloudProfiles;
  /** The registration of each cloud (docs/consent.md); empty when none is configured: then a token provider must be injected (tests) or start fails. */
  registrations: MicrosoftRegistrations;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses every ingest setting once, at start; a bad one stops the process with a message naming it. */
export function parseIngestConfig(env: Env): IngestConfig {
  const settings = parseSettings(ingestSettingsSpec, env);
  return {
    settings,
    kafka: parseKafkaSettings(env),
    topics: topicSpecs(parseTopicSettings(env)),
    clouds: parseCloudProfiles(env),
    registrations: parseMicrosoftRegistrations(env),
  };
}
