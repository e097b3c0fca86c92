/**
 * Status that tells the truth (guarantee 5): computed from the control plane's own token verification, the
 * permission diff and the pollers' reports on `m365.status`. Every reason maps to a message and a remedy through
 * one closed table.
 */
import {
  SOURCES,
  STATUS_REASONS,
  type BackfillStatus,
  type DataLossGap,
  type PipelineStage,
  type RefetchStatus,
  type SourceName,
  type SourceStatus,
} from '../runtime/index.ts';
import type { OrganizationRecord } from './organization-store.ts';
import { blockingRoles, manifestFor, reducedSources } from './permission-manifest.ts';
import { REASONS, STATUS_TEXT } from './messages.ts';

/** The pollers' reasons (the runtime's `m365.status` contract) plus the control plane's own. */
export const CONNECTION_REASONS = [...STATUS_REASONS, 'upgrade_pending', 'pipeline_stalled'] as const;
export type ConnectionReason = (typeof CONNECTION_REASONS)[number];

export { REASONS, type ReasonText } from './messages.ts';

/** Connection reasons in the order they win when several apply: credentials first, then tenant, then data flow. */
const PRIORITY: readonly ConnectionReason[] = [
  'wrong_cloud',
  'certificate_invalid',
  'secret_expired',
  'secret_invalid',
  'application_disabled',
  'conditional_access',
  'tenant_not_found',
  'consent_revoked',
  'tenant_mismatch',
  'audit_logging_off',
  'subscription_disabled',
  'service_not_subscribed',
  'permission_missing',
  'upgrade_pending',
  'data_loss_risk',
  'pipeline_stalled',
  'kafka_unavailable',
  'throttled',
  'lagging',
  'microsoft_unavailable',
  'internal_error',
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
  /** Management sources: the Audit Search back-fill's progress and outcome (docs/decisions/0155). */
  backfill?: BackfillStatus;
  /** The latest re-fetch (replay --refetch) as this source runs it: rewound from `until` to `from`, now at `cursorAt`. */
  refetch?: RefetchStatus;
  /** Data-loss markers: intervals Microsoft will never serve (docs/ingest.md § Gaps), newest last. */
  gaps?: DataLossGap[];
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
  return new Map(
    reducedSources(manifest, pollable, new Set(grantedRoles)).map((r) => [
      r.source,
      `collecting without ${r.without}: ${r.missingRoles.join(', ')} not granted`,
    ]),
  );
}

function holdsUpCollection(pending: { manifestVersion: number; missingRoles: string[] }): boolean {
  try {
    return blockingRoles(manifestFor(pending.manifestVersion), pending.missingRoles).length > 0;
  } catch {
    return true;
  }
}

const withNote = (message: string | null, note: string | undefined): string | null =>
  note === undefined ? message : message === null ? note : `${message}; ${note}`;

export function computeStatus(input: StatusInput): StatusView {
  const { record, sourceStatuses, now, expectedLagSeconds } = input;
  const stalls = input.pipelineStalls ?? [];
  const connection = record.connection;
  const empty: StatusView = {
    status: 'not_connected',
    reason: null,
    message: null,
    remedy: null,
    sources: [],
    firstEventAt: null,
    lastEventAt: null,
    pipelineStalls: [],
  };
  if (!connection) return empty;

  const polled = new Set<string>(connection.polling.sources);
  const reduced = reducedNotes(connection.manifestVersion, connection.polling.sources, connection.grantedRoles);
  const pausedBy = new Map(connection.polling.paused.map((p) => [p.source as string, p]));
  const events = { first: null as string | null, last: null as string | null };
  const sourceReasons: ConnectionReason[] = [];

  const sources: SourceView[] = SOURCES.map((name) => {
    const reported = sourceStatuses.get(name);
    // Reports of an earlier tenant of this organization never count (guarantee 3).
    const report =
      reported && (!connection.tenantId || reported.tenantId === '' || reported.tenantId.toLowerCase() === connection.tenantId.toLowerCase())
        ? reported
        : undefined;
    events.first = minIso(events.first, report?.firstEventAt ?? report?.lastEventAt ?? null);
    events.last = maxIso(events.last, report?.lastEventAt ?? null);
    const base = {
      name,
      lastEventAt: report?.lastEventAt ?? null,
      events24h: report?.counts.events24h ?? 0,
      lagSeconds: report?.lagSeconds ?? null,
      ...(report?.backfill ? { backfill: report.backfill } : {}),
      ...(report?.refetch ? { refetch: report.refetch } : {}),
      ...(report && report.gaps.length > 0 ? { gaps: report.gaps } : {}),
    };
    const paused = pausedBy.get(name);
    if (paused) {
      return {
        ...base,
        state: 'paused',
        reason: 'upgrade_pending',
        message: `needs ${paused.missingRoles.join(', ')}`,
        remedy: REASONS.upgrade_pending.remedy,
      };
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
    return view('disconnected', null, STATUS_TEXT.disconnected);
  }
  const verification = record.controlPlane.verification;
  if (verification?.reason === 'consent_propagating') return view('connecting', 'consent_propagating');
  if (!verification || (!connection.tenantId && verification.ok)) {
    return view('connecting', null, STATUS_TEXT.waitingForConsent);
  }
  const candidates: ConnectionReason[] = [...sourceReasons];
  // A reason this version does not know is shown as what it is, an unclassified error — never as a Microsoft outage.
  if (!verification.ok) candidates.push(asReason(verification.reason) ?? 'internal_error');
  // An upgrade whose missing roles only the back-fill needs is shown (pendingUpgrade) but pauses nothing: still Active.
  if (record.controlPlane.pendingUpgrade && holdsUpCollection(record.controlPlane.pendingUpgrade)) candidates.push('upgrade_pending');
  // A stall is never Active: it holds up data whatever the sources report (also before the first events).
  if (stalls.length > 0) candidates.push('pipeline_stalled');
  const winner = PRIORITY.find((r) => candidates.includes(r));
  if (winner) {
    const detail =
      winner === 'upgrade_pending' && record.controlPlane.pendingUpgrade
        ? `${REASONS.upgrade_pending.message} Missing: ${record.controlPlane.pendingUpgrade.missingRoles.join(', ')}.`
        : winner === 'pipeline_stalled'
          ? `${REASONS.pipeline_stalled.message} ${stalls.map(describeStall).join(' ')}`
          : !verification.ok && asReason(verification.reason) === winner && verification.message
            ? `${REASONS[winner].message} (${verification.message})`
            : undefined;
    return view('needs_attention', winner, detail);
  }
  if (events.last === null) return view('waiting_for_first_events', null, STATUS_TEXT.waitingForFirstEvents);
  return view('active', null);
}
