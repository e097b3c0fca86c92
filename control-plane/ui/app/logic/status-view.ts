/**
 * What the application view shows for a Microsoft Manage status answer: badge, words, which actions are offered,
 * and whether the screen keeps polling. Pure so it is unit-tested without a browser.
 */
import { REASON_SUMMARY } from '../../../messages.ts';
import type { MicrosoftManageApplication, PipelineStallView, SourceView } from './api-types.ts';

export type Tone = 'ok' | 'progress' | 'warning' | 'error' | 'neutral';

export interface StatusView {
  status: string;
  label: string;
  tone: Tone;
  reason: string | null;
  remedy: string | null;
  /** Offer Repair: the connection needs a new consent (revoked, wrong account, secret problems excluded). */
  showRepair: boolean;
  /** Offer Approve: permissions are waiting for an administrator's consent. */
  showApprove: boolean;
  /** Offer the Connect form (no live connection). */
  showConnect: boolean;
  /** Offer to start the consent again: the connection was created but no consent has come back. */
  canReconnect: boolean;
  showDisconnect: boolean;
  /** Keep polling the status endpoint: the status is expected to change on its own soon. */
  transient: boolean;
  /** One sentence per stalled pipeline stage (stage and since when). */
  stalls: StallRow[];
}

export interface StallRow {
  stage: string;
  since: string;
  text: string;
}

const STAGE_LABELS: Record<string, string> = { normalize: 'Normalize', index: 'Index' };

/** A stalled stage in words; the time is formatted by the caller's formatter (local time in the browser). */
export function stallRow(stall: PipelineStallView, formatTime: (iso: string) => string = (iso) => iso): StallRow {
  const stage = STAGE_LABELS[stall.stage] ?? humanize(stall.stage);
  const waiting = typeof stall.lagRecords === 'number' ? `; ${stall.lagRecords.toLocaleString('en-US')} records wait` : '';
  const where = stall.topic !== undefined && stall.partition !== undefined ? ` on ${stall.topic} partition ${stall.partition}` : '';
  return { stage: stall.stage, since: stall.since, text: `${stage} stage stalled since ${formatTime(stall.since)}${where}${waiting}.` };
}

const LABELS: Record<string, string> = {
  not_connected: 'Not connected',
  connecting: 'Waiting for consent',
  waiting_for_first_events: 'Waiting for first events',
  active: 'Active',
  needs_attention: 'Needs attention',
  disconnected: 'Disconnected',
};

const TONES: Record<string, Tone> = {
  not_connected: 'neutral',
  connecting: 'progress',
  waiting_for_first_events: 'progress',
  active: 'ok',
  needs_attention: 'error',
  disconnected: 'neutral',
};

/** Words for reason codes, when the API gives a code rather than a sentence (the control plane's catalogue). */
const REASON_TEXT: Readonly<Record<string, string>> = REASON_SUMMARY;

/** Reasons a new consent fixes (Repair); the others are fixed elsewhere (licence, audit settings, secrets, time). */
const REPAIR_REASONS = /consent|revok|service.?principal|re-?auth|reconnect|repair|tenant.?mismatch|wrong (tenant|account)|permission.?missing|not.?granted/i;

export function humanize(code: string): string {
  const text = code.replace(/[_-]+/g, ' ').trim();
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : code;
}

export function reasonText(reason: string | null | undefined): string | null {
  if (!reason) return null;
  return REASON_TEXT[reason] ?? (/^[a-z0-9_]+$/.test(reason) ? humanize(reason) : reason);
}

export function statusView(app: MicrosoftManageApplication | null, formatTime?: (iso: string) => string): StatusView {
  const status = app?.status ?? 'not_connected';
  const hasPending = hasPendingUpgrade(app);
  const reason = reasonText(app?.reason ?? null);
  const repairHint = `${app?.reason ?? ''} ${app?.remedy ?? ''}`;
  const needsAttention = status === 'needs_attention';
  const live = status !== 'not_connected' && status !== 'disconnected';
  return {
    status,
    label: LABELS[status] ?? humanize(status),
    tone: TONES[status] ?? 'warning',
    reason,
    remedy: app?.remedy ?? null,
    showRepair: needsAttention && REPAIR_REASONS.test(repairHint) && !(hasPending && /upgrade/i.test(repairHint) && !/revok/i.test(repairHint)),
    showApprove: hasPending,
    showConnect: !live,
    canReconnect: status === 'connecting',
    showDisconnect: live,
    // A stall clears on its own when the stage commits again: keep polling so the badge follows.
    transient: status === 'connecting' || status === 'waiting_for_first_events' || (app?.pipelineStalls?.length ?? 0) > 0,
    stalls: (app?.pipelineStalls ?? []).map((stall) => stallRow(stall, formatTime)),
  };
}

export function hasPendingUpgrade(app: MicrosoftManageApplication | null): boolean {
  const p = app?.pendingUpgrade;
  if (!p) return false;
  return pendingRoles(app).length > 0 || typeof p.consentUrl === 'string';
}

export function pendingRoles(app: MicrosoftManageApplication | null): string[] {
  const p = app?.pendingUpgrade;
  if (!p) return [];
  for (const key of ['missing', 'roles', 'missingRoles', 'addedRoles']) {
    const value = (p as Record<string, unknown>)[key];
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  }
  return app?.permissions?.missing ?? [];
}

export interface PermissionRow {
  role: string;
  granted: boolean;
}

/** Required roles with whether each is granted, then roles granted beyond the requirement. */
export function permissionRows(app: MicrosoftManageApplication | null): PermissionRow[] {
  const required = app?.permissions?.required ?? [];
  const granted = new Set(app?.permissions?.granted ?? []);
  const missing = new Set(app?.permissions?.missing ?? []);
  const rows = required.map((role) => ({ role, granted: granted.has(role) && !missing.has(role) }));
  return rows.sort((a, b) => Number(a.granted) - Number(b.granted) || a.role.localeCompare(b.role));
}

/** The Entra ID licence each Graph report needs (Microsoft's documentation, reference/microsoft-apis.md § 2.3). */
export const LICENCE_BY_SOURCE: Record<string, string> = {
  'graph:signIns': 'Microsoft Entra ID P1 or P2',
  'graph:nonInteractiveSignIns': 'Microsoft Entra ID P1 or P2',
  'graph:servicePrincipalSignIns': 'Microsoft Entra ID P1 or P2',
  'graph:managedIdentitySignIns': 'Microsoft Entra ID P1 or P2',
  'graph:userRegistrationDetails': 'Microsoft Entra ID P1 or P2',
  'graph:riskyUsers': 'Microsoft Entra ID P2',
  'graph:riskDetections': 'Microsoft Entra ID P2',
  'graph:servicePrincipalRiskDetections': 'Microsoft Entra Workload ID Premium',
  'graph:provisioning': 'Microsoft Entra ID P1 or P2',
};

const SOURCE_LABELS: Record<string, string> = {
  'management:Audit.AzureActiveDirectory': 'Audit – Entra ID (Management API)',
  'management:Audit.Exchange': 'Audit – Exchange (Management API)',
  'management:Audit.SharePoint': 'Audit – SharePoint & OneDrive (Management API)',
  'management:Audit.General': 'Audit – General (Management API)',
  'management:DLP.All': 'DLP – all workloads (Management API)',
  'graph:signIns': 'Sign-ins – interactive users (Graph)',
  'graph:nonInteractiveSignIns': 'Sign-ins – non-interactive users (Graph)',
  'graph:servicePrincipalSignIns': 'Sign-ins – service principals (Graph)',
  'graph:managedIdentitySignIns': 'Sign-ins – managed identities (Graph)',
  'graph:directoryAudits': 'Directory audits (Graph)',
  'graph:riskyUsers': 'Risky users (Graph)',
  'graph:riskDetections': 'Risk detections (Graph)',
  'graph:userRegistrationDetails': 'MFA / SSPR registration (Graph)',
  'graph:servicePrincipalRiskDetections': 'Service-principal risk detections (Graph)',
  'graph:provisioning': 'Provisioning logs (Graph)',
  'graph:securityAlerts': 'Defender XDR alerts (Graph)',
  'graph:securityIncidents': 'Defender XDR incidents (Graph)',
};

export interface SourceRow {
  name: string;
  label: string;
  stateLabel: string;
  tone: Tone;
  /** Sentence shown beside the state: the reason, and for a missing licence, which licence. */
  detail: string | null;
  licenceMissing: string | null;
  lastEventAt: string | null;
  events24h: number | null;
  /** Intervals Microsoft will never serve, as sentences, newest first. */
  gaps: string[];
}

const GAP_CAUSE: Record<string, string> = {
  subscription_started: 'before the subscription started',
  subscription_restarted: 'subscription was stopped, then restarted',
  retention_passed: "past Microsoft's retention",
};

/** One data-loss marker as the operator reads it. */
export function gapText(gap: { from?: string; to?: string; cause?: string }, formatTime: (iso: string) => string = (iso) => iso): string {
  const cause = gap.cause ?? 'unknown';
  return `Not served by Microsoft: ${formatTime(gap.from ?? '?')} – ${formatTime(gap.to ?? '?')} (${GAP_CAUSE[cause] ?? humanize(cause)})`;
}

const SOURCE_STATE: Record<string, { label: string; tone: Tone }> = {
  ok: { label: 'Collecting', tone: 'ok' },
  active: { label: 'Collecting', tone: 'ok' },
  waiting: { label: 'Waiting for events', tone: 'progress' },
  pending: { label: 'Waiting for events', tone: 'progress' },
  degraded: { label: 'Degraded', tone: 'warning' },
  failing: { label: 'Failing', tone: 'error' },
  paused: { label: 'Paused', tone: 'warning' },
  unavailable_licence: { label: 'Empty: licence missing', tone: 'neutral' },
};

export function sourceRow(source: SourceView): SourceRow {
  const known = SOURCE_STATE[source.state];
  const licenceState = source.state === 'unavailable_licence' || source.reason === 'licence_missing';
  // The API names the licence in the message ("… — this source needs Microsoft Entra ID P2", control-plane/status.ts).
  const named = /\bneeds (Microsoft Entra ID [^.;,]+?|Entra ID [^.;,]+?|Azure AD [^.;,]+?)(?: licen[cs]e)?\s*$/i.exec(source.message ?? '')?.[1] ?? null;
  const licence = licenceState ? (named ?? LICENCE_BY_SOURCE[source.name] ?? 'a Microsoft Entra ID premium licence') : null;
  let detail = reasonText(source.message ?? null) ?? reasonText(source.reason ?? null);
  if (licence) {
    const base = `This report is empty because the tenant has no ${licence} licence.`;
    detail = detail && !/licen[cs]e/i.test(detail) ? `${base} ${detail}` : base;
  }
  return {
    name: source.name,
    label: SOURCE_LABELS[source.name] ?? source.name,
    stateLabel: known?.label ?? humanize(source.state),
    tone: known?.tone ?? 'warning',
    detail,
    licenceMissing: licence,
    lastEventAt: source.lastEventAt ?? null,
    events24h: typeof source.events24h === 'number' ? source.events24h : null,
    gaps: (Array.isArray(source.gaps) ? source.gaps : []).map((g) => gapText(g)).reverse(),
  };
}

export function sourceRows(app: MicrosoftManageApplication | null): SourceRow[] {
  return (app?.sources ?? []).map(sourceRow);
}
