/**
 * Status that tells the truth (guarantee 5): computed from the control plane's own token verification, the
 * permission diff and the pollers' reports on `m365.status`. Every reason maps to a message and a remedy through
 * one closed table.
 */
import { SOURCES, STATUS_REASONS, type PipelineStage, type SourceName, type SourceStatus } from '../runtime/index.ts';
import type { OrganizationRecord } from './organization-store.ts';
import { manifestFor, reducedSources } from './permission-manifest.ts';

/** The pollers' reasons (the runtime's `m365.status` contract) plus the control plane's own. */
export const CONNECTION_REASONS = [...STATUS_REASONS, 'upgrade_pending', 'pipeline_stalled'] as const;
export type ConnectionReason = (typeof CONNECTION_REASONS)[number];

export interface ReasonText {
  message: string;
  remedy: string;
}

/** The closed table of reasons, what they mean and what the operator does about them. */
export const REASONS: Readonly<Record<ConnectionReason, ReasonText>> = {
  consent_revoked: {
    message: 'The application has no service principal or no consent in the tenant any more (consent revoked or the enterprise application deleted).',
    remedy: 'Repair the connection (POST …/microsoft-manage/repair or `m365-siem org repair <id>`) and have a Global Administrator of the customer tenant consent again. Pollers resume from their cursors, so the outage is back-filled.',
  },
  secret_invalid: {
    message: 'Entra ID rejected the application\'s client credential (invalid secret, or the secret ID was configured instead of its value).',
    remedy: 'Set M365_CLIENT_SECRET to the value of a valid client secret of the app registration (or configure a certificate) and restart the services.',
  },
  secret_expired: {
    message: 'The application\'s client secret has expired.',
    remedy: 'Create a new client secret (or a certificate) on the app registration, update M365_CLIENT_SECRET and restart the services; pollers catch up from their cursors.',
  },
  tenant_not_found: {
    message: 'Entra ID does not know the tenant (deleted, mistyped, or in another cloud than the connection\'s).',
    remedy: 'Check the tenant and the cloud of the connection. A tenant in another cloud needs a new organization connected with the right cloud.',
  },
  audit_logging_off: {
    message: 'Unified audit logging is off in the tenant, so the Management Activity API has nothing to serve.',
    remedy: 'Turn on auditing in Microsoft Purview (or `Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true`); it can take up to 60 minutes to take effect.',
  },
  subscription_disabled: {
    message: 'A Management Activity API subscription of the tenant is disabled.',
    remedy: 'The pollers start subscriptions themselves; if this persists, check that the tenant has an Office 365 licence with auditing and that audit logging is on.',
  },
  permission_missing: {
    message: 'Microsoft refused a request for lack of permission although the roles look granted.',
    remedy: 'Repair the connection so a Global Administrator consents again; new roles appear only in new tokens (up to an hour).',
  },
  upgrade_pending: {
    message: 'The permission manifest in force needs application roles the tenant has not granted; sources that need them are paused, the others keep flowing.',
    remedy: 'Approve the upgrade (POST …/microsoft-manage/upgrades/approve or `m365-siem org approve-upgrade <id>`) and have a Global Administrator consent, or turn on auto-upgrade.',
  },
  data_loss_risk: {
    message: 'A failing window is close to Microsoft\'s 7-day retention limit; data will be lost if it is not fetched in time.',
    remedy: 'Fix the source\'s error now (see the source\'s reason); the pollers retry the window automatically.',
  },
  throttled: {
    message: 'Microsoft is throttling the connector\'s requests for this tenant.',
    remedy: 'Usually temporary: the pollers back off and catch up. If it persists, check PublisherIdentifier configuration and other apps using the same quota.',
  },
  lagging: {
    message: 'Events arrive later than the expected delay (CONTROL_PLANE_EXPECTED_LAG_SECONDS).',
    remedy: 'Check that ingest instances are running and not throttled; add ingest instances to spread tenants.',
  },
  microsoft_unavailable: {
    message: 'Microsoft\'s endpoints answered with errors or did not answer.',
    remedy: 'Nothing to do unless it persists; requests are retried with backoff. Check Microsoft 365 service health.',
  },
  malformed_response: {
    message: 'Microsoft answered with responses the pollers could not read; affected records were dead-lettered.',
    remedy: 'Inspect siem.events.dlq for the source and report the response shape; nothing is dropped silently.',
  },
  tenant_mismatch: {
    message: 'Microsoft served data of another tenant than the pinned one; it was refused.',
    remedy: 'Check the connection\'s tenant and cloud; repair with a Global Administrator of the pinned tenant.',
  },
  kafka_unavailable: {
    message: 'The pollers cannot write to Kafka.',
    remedy: 'Check the Kafka cluster; pollers keep their cursors until Kafka acknowledges, so nothing is lost within Microsoft\'s 7 days.',
  },
  pipeline_stalled: {
    message: 'A pipeline stage has committed nothing while this organization\'s records wait for it: they are safe in Kafka but do not reach siem.events or the index.',
    remedy: 'Check the stalled stage\'s instances (their /readyz, log and consumer_lag gauges) and restart them if they do not recover; they resume from their committed offsets, so nothing is lost. See docs/pipeline-health.md.',
  },
  licence_missing: {
    message: 'The tenant lacks the Microsoft Entra ID licence this report needs.',
    remedy: 'Assign Microsoft Entra ID P1 or P2 in the tenant if the report is wanted; other sources are not affected.',
  },
};

/** Connection reasons in the order they win when several apply: credentials first, then tenant, then data flow. */
const PRIORITY: readonly ConnectionReason[] = [
  'secret_expired',
  'secret_invalid',
  'tenant_not_found',
  'consent_revoked',
  'tenant_mismatch',
  'audit_logging_off',
  'subscription_disabled',
  'permission_missing',
  'upgrade_pending',
  'data_loss_risk',
  'pipeline_stalled',
  'kafka_unavailable',
  'throttled',
  'lagging',
  'microsoft_unavailable',
  'malformed_response',
];

export type ApiConnectionStatus = 'not_connected' | 'connecting' | 'waiting_for_first_events' | 'active' | 'needs_attention' | 'disconnected';
export type ApiSourceState = 'waiting' | 'ok' | 'degraded' | 'failing' | 'unavailable_licence' | 'paused' | 'stopped';

export interface SourceView {
  name: SourceName;
  state: ApiSourceState;
  reason: string | null;
  message: string | null;
  remedy: string | null;
  lastEventAt: string | null;
  events24h: number;
  lagSeconds: number | null;
}

/** A stage that stopped committing on the input partition an organization's records are keyed to. */
export interface PipelineStall {
  stage: PipelineStage;
  topic: string;
  partition: number;
  /** When the waiting records arrived without the stage committing since (ISO 8601). */
  since: string;
  lagRecords: number;
}

export interface StatusView {
  status: ApiConnectionStatus;
  reason: ConnectionReason | null;
  message: string | null;
  remedy: string | null;
  sources: SourceView[];
  firstEventAt: string | null;
  lastEventAt: string | null;
  /** Stalled pipeline stages holding up this organization's data (empty when the pipeline flows). */
  pipelineStalls: PipelineStall[];
}

export interface StatusInput {
  record: OrganizationRecord;
  /** The latest m365.status value per source of this organization. */
  sourceStatuses: ReadonlyMap<string, SourceStatus>;
  now: number;
  expectedLagSeconds: number;
  /** Stages stalled on this organization's partitions (control-plane/pipeline-health.ts). */
  pipelineStalls?: readonly PipelineStall[];
}

function asReason(value: string | null | undefined): ConnectionReason | null {
  return value && (CONNECTION_REASONS as readonly string[]).includes(value) ? (value as ConnectionReason) : null;
}

const minIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b);
const maxIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);

function describeStall(s: PipelineStall): string {
  return `The ${s.stage} stage has committed nothing on ${s.topic} partition ${s.partition} since ${s.since}; ${s.lagRecords} records wait.`;
}

/**
 * Sentences for sources that flow without an optional role (DLP without ActivityFeed.ReadDlp): the status says what
 * is not collected instead of pausing the source (least privilege, issue 13).
 */
function reducedNotes(manifestVersion: number, pollable: readonly SourceName[], grantedRoles: readonly string[]): Map<string, string> {
  let manifest;
  try {
    manifest = manifestFor(manifestVersion);
  } catch {
    return new Map();
  }
  return new Map(reducedSources(manifest, pollable, new Set(grantedRoles)).map((r) => [r.source, `collecting without ${r.without}: ${r.missingRoles.join(', ')} not granted`]));
}

const withNote = (message: string | null, note: string | undefined): string | null => (note === undefined ? message : message === null ? note : `${message}; ${note}`);

export function computeStatus(input: StatusInput): StatusView {
  const { record, sourceStatuses, now, expectedLagSeconds } = input;
  const stalls = input.pipelineStalls ?? [];
  const connection = record.connection;
  const empty: StatusView = { status: 'not_connected', reason: null, message: null, remedy: null, sources: [], firstEventAt: null, lastEventAt: null, pipelineStalls: [] };
  if (!connection) return empty;

  const polled = new Set<string>(connection.polling.sources);
  const reduced = reducedNotes(connection.manifestVersion, connection.polling.sources, connection.grantedRoles);
  const pausedBy = new Map(connection.polling.paused.map((p) => [p.source as string, p]));
  const events = { first: null as string | null, last: null as string | null };
  const sourceReasons: ConnectionReason[] = [];

  const sources: SourceView[] = SOURCES.map((name) => {
    const reported = sourceStatuses.get(name);
    // Reports of an earlier tenant of this organization never count (guarantee 3).
    const report = reported && (!connection.tenantId || reported.tenantId === '' || reported.tenantId.toLowerCase() === connection.tenantId.toLowerCase()) ? reported : undefined;
    events.first = minIso(events.first, report?.firstEventAt ?? report?.lastEventAt ?? null);
    events.last = maxIso(events.last, report?.lastEventAt ?? null);
    const base = { name, lastEventAt: report?.lastEventAt ?? null, events24h: report?.counts.events24h ?? 0, lagSeconds: report?.lagSeconds ?? null };
    const paused = pausedBy.get(name);
    if (paused) {
      return { ...base, state: 'paused', reason: 'upgrade_pending', message: `needs ${paused.missingRoles.join(', ')}`, remedy: REASONS.upgrade_pending.remedy };
    }
    if (!connection.polling.enabled || !polled.has(name)) return { ...base, state: 'stopped', reason: null, message: null, remedy: null };
    if (!report) return { ...base, state: 'waiting', reason: null, message: withNote('no report from the pollers yet', reduced.get(name)), remedy: null };
    if (report.state === 'unavailable_licence' || report.reason === 'licence_missing') {
      const licence = report.licenceRequired ? `needs ${report.licenceRequired}` : REASONS.licence_missing.message;
      return { ...base, state: 'unavailable_licence', reason: 'licence_missing', message: report.message ?? licence, remedy: REASONS.licence_missing.remedy };
    }
    // Lag counts the time since the pollers last reported: a dead poller makes its sources lag.
    const sinceReport = Math.max(0, (now - Date.parse(report.updatedAt)) / 1000);
    const effectiveLag = (report.lagSeconds ?? 0) + (Number.isFinite(sinceReport) ? sinceReport : 0);
    let state: ApiSourceState = report.state === 'paused' ? 'paused' : report.state;
    let reason = asReason(report.reason);
    if (state === 'ok' && effectiveLag > expectedLagSeconds) {
      state = 'degraded';
      reason = 'lagging';
    }
    if (state !== 'ok' && reason) sourceReasons.push(reason);
    return {
      ...base,
      state,
      reason: state === 'ok' ? null : (reason ?? report.reason),
      message: withNote(state === 'ok' ? null : (report.message ?? (reason ? REASONS[reason].message : null)), reduced.get(name)),
      remedy: state !== 'ok' && reason ? REASONS[reason].remedy : null,
    };
  });

  const view = (status: ApiConnectionStatus, reason: ConnectionReason | null, message?: string): StatusView => ({
    status,
    reason,
    message: message ?? (reason ? REASONS[reason].message : null),
    remedy: reason ? REASONS[reason].remedy : null,
    sources,
    firstEventAt: events.first,
    lastEventAt: events.last,
    pipelineStalls: [...stalls],
  });

  if (!connection.polling.enabled && (connection.connectedAt !== null || connection.status === 'disconnected')) {
    return view('disconnected', null, 'Polling is stopped; collected data stays. Connect again to resume.');
  }
  const verification = record.controlPlane.verification;
  if (!verification || (!connection.tenantId && verification.ok)) {
    return view('connecting', null, 'Waiting for a Global Administrator of the tenant to consent.');
  }
  const candidates: ConnectionReason[] = [...sourceReasons];
  if (!verification.ok) candidates.push(asReason(verification.reason) ?? 'microsoft_unavailable');
  if (record.controlPlane.pendingUpgrade) candidates.push('upgrade_pending');
  // A stall is never Active: it holds up data whatever the sources report (also before the first events).
  if (stalls.length > 0) candidates.push('pipeline_stalled');
  const winner = PRIORITY.find((r) => candidates.includes(r));
  if (winner) {
    const detail = winner === 'upgrade_pending' && record.controlPlane.pendingUpgrade
      ? `${REASONS.upgrade_pending.message} Missing: ${record.controlPlane.pendingUpgrade.missingRoles.join(', ')}.`
      : winner === 'pipeline_stalled'
        ? `${REASONS.pipeline_stalled.message} ${stalls.map(describeStall).join(' ')}`
      : !verification.ok && asReason(verification.reason) === winner && verification.message
        ? `${REASONS[winner].message} (${verification.message})`
        : undefined;
    return view('needs_attention', winner, detail);
  }
  if (events.last === null) return view('waiting_for_first_events', null, 'Connected; the first events usually arrive within minutes (Management API content can take longer).');
  return view('active', null);
}
