/**
 * The consent decisions as pure functions (issue 13, item 8): given the organization's record, the verified state
 * and what the request or Microsoft said, they return the changes to write and the answer to give. No Kafka, no
 * HTTP, no clock of their own: connection-service.ts does the I/O around them, tests call them directly.
 *
 * A replayed, expired or forged link changes nothing: those decisions return `write: false` and a `refused` problem
 * that is counted once (docs/decisions/0103).
 */
import { SOURCES, type Cloud, type TokenError } from '../runtime/index.ts';
import type { ConsentPurpose, ConsentStatePayload, StateCheck } from './consent-state.ts';
import { CONSENT_PAGES, REASONS, type ConsentPage } from './messages.ts';
import type { HistoryInput, OrganizationRecord, Verification } from './organization-store.ts';
import { manifestFor, type PermissionDiff } from './permission-manifest.ts';
import { isPropagationSymptom, withinPropagationWindow } from './propagation.ts';
import type { StatusView } from './status.ts';
import type { VerifiedAdministrator, TenantIdentity } from './sign-in.ts';
import type { AssignRolesResult } from './upgrades.ts';

export interface CallbackAnswer extends ConsentPage {
  httpStatus: number;
  outcome: string;
  orgId?: string;
  /** Where the browser goes next (the sign-in step sends it on to admin consent). */
  location?: string;
}

/** Why a link was refused without any write: the label of the one counter (bounded). */
export type LinkProblem = 'missing' | 'malformed' | 'bad_signature' | 'expired' | 'reused' | 'forged_tenant' | 'wrong_step' | 'unknown_organization';

const page = (httpStatus: number, outcome: string, p: ConsentPage, orgId?: string): CallbackAnswer => ({
  httpStatus,
  outcome,
  ...p,
  ...(orgId ? { orgId } : {}),
});

/** The state check of either step: a bad, expired or unknown link is refused and nothing is written. */
export function decideState(
  check: StateCheck,
  record: OrganizationRecord | undefined,
  step: 'signin' | 'consent',
): { ok: true; payload: ConsentStatePayload; record: OrganizationRecord } | { ok: false; refused: LinkProblem; answer: CallbackAnswer } {
  if (!check.ok) {
    const refused: LinkProblem = check.problem;
    if (check.problem === 'expired') return { ok: false, refused, answer: page(410, 'expired_state', CONSENT_PAGES.expiredState, check.payload?.org) };
    if (check.problem === 'missing') return { ok: false, refused, answer: page(400, 'missing_state', CONSENT_PAGES.missingState) };
    return { ok: false, refused, answer: page(400, 'invalid_state', CONSENT_PAGES.invalidState) };
  }
  if (check.payload.step !== step) return { ok: false, refused: 'wrong_step', answer: page(400, 'invalid_state', CONSENT_PAGES.invalidState) };
  if (!record)
    return { ok: false, refused: 'unknown_organization', answer: page(404, 'unknown_organization', CONSENT_PAGES.unknownOrganization, check.payload.org) };
  return { ok: true, payload: check.payload, record };
}

/** The organization and connection must still be waiting for this kind of consent. */
function connectionRefusal(record: OrganizationRecord, purpose: ConsentPurpose): CallbackAnswer | null {
  const c = record.connection;
  if (!c) return page(409, 'not_connecting', CONSENT_PAGES.notConnecting, record.orgId);
  if (c.status === 'disconnected' && purpose !== 'connect') return page(409, 'disconnected', CONSENT_PAGES.disconnected, record.orgId);
  return null;
}

export type SignInResult =
  | { ok: true; administrator: VerifiedAdministrator; identity: TenantIdentity }
  | { ok: false; problem: string }
  | { ok: false; declined: { error: string; description: string } };

export type SignInDecision = { proceed: true; tenantId: string; cloud: Cloud } | { proceed: false; answer: CallbackAnswer };

/**
 * After the administrator signed in: is this a Global Administrator of the customer tenant itself? A guest,
 * partner (CSP) or other foreign account is refused with the seed's words whether or not the operator named the
 * tenant; a named (or pinned) tenant must be the one the id_token names. Writes nothing either way.
 */
export function decideSignIn(input: {
  record: OrganizationRecord;
  payload: ConsentStatePayload;
  result: SignInResult;
  tenantOwner: (tenantId: string) => string | undefined;
}): SignInDecision {
  const { record, payload, result } = input;
  const orgId = record.orgId;
  const refusal = connectionRefusal(record, payload.purpose);
  if (refusal) return { proceed: false, answer: refusal };
  if (!result.ok) {
    if ('declined' in result)
      return { proceed: false, answer: page(400, 'declined', CONSENT_PAGES.declined(result.declined.error, result.declined.description), orgId) };
    return { proceed: false, answer: page(400, 'signin_failed', CONSENT_PAGES.signInFailed(result.problem), orgId) };
  }
  const { administrator: who, identity } = result;
  const connection = record.connection;
  if (!connection) return { proceed: false, answer: page(409, 'not_connecting', CONSENT_PAGES.notConnecting, orgId) };
  if (who.foreignIdp) return { proceed: false, answer: page(403, 'foreign_account', CONSENT_PAGES.foreignAccount(homeTenantOf(who.foreignIdp)), orgId) };
  if (identity.id !== who.tenantId)
    return { proceed: false, answer: page(400, 'signin_failed', CONSENT_PAGES.signInFailed('Graph answered for another tenant than the sign-in'), orgId) };
  if (identity.partnerTenantType)
    return { proceed: false, answer: page(403, 'partner_account', CONSENT_PAGES.partnerAccount(who.tenantId, identity.partnerTenantType), orgId) };
  const expected = connection.tenantId?.toLowerCase() ?? null;
  if (expected && who.tenantId !== expected)
    return { proceed: false, answer: page(403, 'wrong_tenant', CONSENT_PAGES.wrongTenant(who.tenantId, expected), orgId) };
  if (!who.globalAdministrator)
    return { proceed: false, answer: page(403, 'not_global_administrator', CONSENT_PAGES.notGlobalAdministrator(who.tenantId), orgId) };
  const owner = input.tenantOwner(who.tenantId);
  if (owner && owner !== orgId) return { proceed: false, answer: page(409, 'tenant_in_use', CONSENT_PAGES.tenantInUse(who.tenantId), orgId) };
  return { proceed: true, tenantId: who.tenantId, cloud: connection.cloud };
}

/** `https://sts.windows.net/{tid}/` → tid, when the issuer names one. */
function homeTenantOf(idp: string): string | null {
  return /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(idp)?.[1]?.toLowerCase() ?? null;
}

export interface ConsentQuery {
  tenant?: string | undefined;
  admin_consent?: string | undefined;
  error?: string | undefined;
  error_description?: string | undefined;
}

export type ConsentDecision =
  | { write: false; refused?: LinkProblem; answer: CallbackAnswer }
  | { write: true; history: HistoryInput[]; answer: CallbackAnswer }
  | { write: true; history: HistoryInput[]; proceed: { tenantId: string; cloud: Cloud; purpose: ConsentPurpose } };

/**
 * Microsoft's admin-consent redirect. `draft` is the organization's record as a copy the caller writes when
 * `write` is true. The tenant comes from the signed consent state (the verified id_token's `tid`); the redirect's
 * `tenant=` must merely agree with it.
 */
export function decideConsent(input: {
  draft: OrganizationRecord;
  payload: ConsentStatePayload;
  query: ConsentQuery;
  at: string;
  tenantOwner: (tenantId: string) => string | undefined;
}): ConsentDecision {
  const { draft, payload, query } = input;
  const orgId = draft.orgId;
  if (draft.controlPlane.consumedNonces.some((n) => n.nonce === payload.nonce))
    return { write: false, refused: 'reused', answer: page(409, 'reused_state', CONSENT_PAGES.reusedState, orgId) };
  const signed = payload.tenant?.toLowerCase();
  if (!signed) return { write: false, refused: 'wrong_step', answer: page(400, 'invalid_state', CONSENT_PAGES.invalidState) };
  const refusal = connectionRefusal(draft, payload.purpose);
  if (refusal) return { write: false, answer: refusal };
  if (query.error) {
    const description = (query.error_description ?? '').slice(0, 500);
    draft.controlPlane.consumedNonces.push({ nonce: payload.nonce, exp: payload.exp });
    return {
      write: true,
      history: [
        {
          action: 'consent.declined',
          message: `consent was not given: ${query.error}${description ? ` — ${description}` : ''}`,
          detail: { error: query.error, errorDescription: description, purpose: payload.purpose },
        },
      ],
      answer: page(400, 'declined', CONSENT_PAGES.declined(query.error, description), orgId),
    };
  }
  const returned = (query.tenant ?? '').toLowerCase();
  if (!returned || (query.admin_consent ?? '').toLowerCase() !== 'true')
    return { write: false, refused: 'malformed', answer: page(400, 'malformed_response', CONSENT_PAGES.malformed, orgId) };
  // The redirect's query is not signed: a tenant other than the signed-in one is a forgery (or a bug), never pinned.
  if (returned !== signed)
    return { write: false, refused: 'forged_tenant', answer: page(403, 'forged_tenant', CONSENT_PAGES.forgedTenant(returned, signed), orgId) };
  const connection = draft.connection;
  if (!connection) return { write: false, answer: page(409, 'not_connecting', CONSENT_PAGES.notConnecting, orgId) };
  draft.controlPlane.consumedNonces.push({ nonce: payload.nonce, exp: payload.exp });
  const owner = input.tenantOwner(signed);
  if (owner && owner !== orgId) {
    return {
      write: true,
      history: [
        {
          action: 'consent.tenant_in_use',
          message: `consent came from tenant ${signed}, which is already connected to organization ${owner}; refused`,
          detail: { returnedTenant: signed },
        },
      ],
      answer: page(409, 'tenant_in_use', CONSENT_PAGES.tenantInUse(signed), orgId),
    };
  }
  const history: HistoryInput[] = [
    {
      action: 'consent.granted',
      message: `admin consent granted in tenant ${signed} (${payload.purpose})`,
      detail: { tenantId: signed, purpose: payload.purpose },
    },
  ];
  if (!connection.tenantId) {
    // Signed by Microsoft (the administrator's id_token), so it is pinned now; polling waits for verification.
    connection.tenantId = signed;
    history.push({
      action: 'connection.tenant_pinned',
      message: `tenant ${signed} pinned (from the administrator's signed sign-in)`,
      detail: { tenantId: signed },
    });
  }
  draft.controlPlane.consent = { at: input.at, tenantId: signed, purpose: payload.purpose, by: '', verifiedAt: null };
  return { write: true, history, proceed: { tenantId: signed, cloud: connection.cloud, purpose: payload.purpose } };
}

export type VerificationOutcome =
  | { ok: true; tenantId: string; roles: string[]; diff: PermissionDiff; upgrade: AssignRolesResult | null }
  | { ok: false; error: TokenError };

export interface VerificationContext {
  at: string;
  nowMs: number;
  manifestVersion: number;
  enablePolling: boolean;
  tenantOwner: (tenantId: string) => string | undefined;
  statusOf: (record: OrganizationRecord) => StatusView;
}

/**
 * Applies a verification with fresh tokens to `draft` (the organization's record, a copy) and returns the history
 * of what changed and whether the consent is still propagating. Inside the window after a consent, "application
 * not found" and a token without roles mean "not propagated yet" (docs/decisions/0101), not a refusal.
 */
export function applyVerification(
  draft: OrganizationRecord,
  v: VerificationOutcome,
  ctx: VerificationContext,
): { history: HistoryInput[]; propagating: boolean; retry: boolean } {
  const connection = draft.connection;
  const history: HistoryInput[] = [];
  if (!connection) return { history, propagating: false, retry: false };
  const consent = draft.controlPlane.consent;
  const awaiting = consent !== null && consent.verifiedAt === null;
  const inWindow = awaiting && withinPropagationWindow(consent.at, ctx.nowMs);
  const previous = draft.controlPlane.verification;
  const symptom = isPropagationSymptom(v.ok ? { ok: true, roles: v.roles } : { ok: false, reason: v.error.reason });
  if (inWindow && symptom) {
    if (previous?.reason !== 'consent_propagating') {
      history.push({
        action: 'consent.propagating',
        message: 'waiting for Microsoft to propagate the consent',
        detail: { detail: v.ok ? 'token without roles' : v.error.message },
      });
      draft.controlPlane.verification = {
        at: ctx.at,
        ok: false,
        reason: 'consent_propagating',
        message: v.ok ? 'tokens carry no roles yet' : v.error.message,
        aadsts: v.ok ? null : v.error.aadsts,
      };
    }
    finishStatus(draft, ctx, history);
    return { history, propagating: true, retry: true };
  }
  if (awaiting && !inWindow && symptom) {
    history.push({ action: 'consent.propagation_timed_out', message: 'the consent did not propagate within the window; the verification result now counts' });
  }
  if (!v.ok) {
    const verification: Verification = { at: ctx.at, ok: false, reason: v.error.reason, message: v.error.message, aadsts: v.error.aadsts };
    if (!previous || previous.ok || previous.reason !== verification.reason) {
      history.push({
        action: 'verification.failed',
        message: `verification failed: ${v.error.reason} (${v.error.message})`,
        detail: { reason: v.error.reason, aadsts: v.error.aadsts },
      });
      draft.controlPlane.verification = verification;
    }
    // Keep the timestamp stable while nothing changes, so periodic checks do not rewrite the value.
  } else {
    const taken = ctx.tenantOwner(v.tenantId);
    if (taken && taken !== draft.orgId) {
      history.push({ action: 'consent.tenant_in_use', message: `tenant ${v.tenantId} was connected to organization ${taken} meanwhile; not connected` });
      return { history, propagating: false, retry: false };
    }
    if (previous && !previous.ok && previous.reason !== 'consent_propagating')
      history.push({ action: 'verification.recovered', message: `verification succeeded again after ${previous.reason}` });
    draft.controlPlane.verification = previous?.ok ? previous : { at: ctx.at, ok: true, reason: null, message: null, aadsts: null };
    applyPermissions(draft, v, ctx, history);
    // Roles still missing right after a consent (an upgrade's new role, say) may be on their way: what is granted
    // flows now, and verification keeps trying until the rest arrives or the window is over.
    const stillArriving = inWindow && v.diff.missing.length > 0;
    if (consent && consent.verifiedAt === null && !stillArriving) draft.controlPlane.consent = { ...consent, verifiedAt: ctx.at };
    finishStatus(draft, ctx, history);
    return { history, propagating: false, retry: stillArriving };
  }
  finishStatus(draft, ctx, history);
  return { history, propagating: false, retry: false };
}

function applyPermissions(draft: OrganizationRecord, v: Extract<VerificationOutcome, { ok: true }>, ctx: VerificationContext, history: HistoryInput[]): void {
  const connection = draft.connection;
  if (!connection) return;
  const { diff } = v;
  if (connection.manifestVersion !== ctx.manifestVersion) {
    history.push({
      action: 'manifest.changed',
      message: `permission manifest moved from version ${connection.manifestVersion} to ${ctx.manifestVersion}: ${manifestFor(ctx.manifestVersion).note}`,
      detail: { from: connection.manifestVersion, to: ctx.manifestVersion },
    });
    connection.manifestVersion = ctx.manifestVersion;
  }
  if (v.upgrade && (v.upgrade.assigned.length > 0 || v.upgrade.failed.length > 0)) {
    history.push({
      action: v.upgrade.failed.length === 0 ? 'upgrade.assigned' : 'upgrade.assignment_failed',
      message: `auto-upgrade assigned ${v.upgrade.assigned.join(', ') || 'nothing'}${v.upgrade.failed.length ? `; failed: ${v.upgrade.failed.map((f) => `${f.role} (${f.error})`).join('; ')}` : ''}`,
      detail: { assigned: v.upgrade.assigned, alreadyAssigned: v.upgrade.alreadyAssigned, failed: v.upgrade.failed },
    });
  }
  if (!sameSet(connection.grantedRoles, diff.granted)) {
    const added = diff.granted.filter((r) => !connection.grantedRoles.includes(r));
    const removed = connection.grantedRoles.filter((r) => !diff.granted.includes(r));
    history.push({
      action: 'permissions.changed',
      message: `granted roles changed${added.length ? `; added ${added.join(', ')}` : ''}${removed.length ? `; removed ${removed.join(', ')}` : ''}`,
      detail: { added, removed },
    });
  }
  connection.requiredRoles = diff.required;
  connection.grantedRoles = diff.granted;
  const pending = draft.controlPlane.pendingUpgrade;
  if (diff.missing.length > 0) {
    const why = !connection.autoUpgrade
      ? 'auto-upgrade is off: an administrator approves the upgrade through a new consent'
      : !diff.canAutoUpgrade
        ? 'auto-upgrade needs AppRoleAssignment.ReadWrite.All and Application.Read.All granted by consent first'
        : 'auto-upgrade could not assign every role (see history)';
    if (!pending || !sameSet(pending.missingRoles, diff.missing) || pending.why !== why) {
      draft.controlPlane.pendingUpgrade = {
        missingRoles: diff.missing,
        manifestVersion: ctx.manifestVersion,
        requestedAt: pending?.requestedAt ?? ctx.at,
        why,
      };
      history.push({
        action: 'upgrade.pending',
        message: `permission upgrade pending: ${diff.missing.join(', ')} (${why})`,
        detail: { missingRoles: diff.missing },
      });
    }
  } else if (pending) {
    draft.controlPlane.pendingUpgrade = null;
    history.push({ action: 'upgrade.completed', message: `permission upgrade completed: ${pending.missingRoles.join(', ')} granted` });
  }
  connection.polling = {
    ...connection.polling,
    enabled: ctx.enablePolling ? true : connection.polling.enabled,
    sources: diff.pollable,
    paused: diff.paused.map((p) => ({ source: p.source, reason: 'upgrade_pending', missingRoles: p.missingRoles })),
    backfillMissingRoles: diff.backfillMissing,
  };
  if (ctx.enablePolling && !connection.connectedAt) connection.connectedAt = ctx.at;
}

/** The status written to the topic is the one computed now (the API computes it live). */
function finishStatus(draft: OrganizationRecord, ctx: VerificationContext, history: HistoryInput[]): void {
  const connection = draft.connection;
  if (!connection) return;
  const computed = ctx.statusOf(draft);
  if (connection.status !== computed.status && computed.status !== 'not_connected') {
    history.push({
      action: 'status.changed',
      message: `status ${connection.status} → ${computed.status}${computed.reason ? ` (${computed.reason})` : ''}`,
      detail: { from: connection.status, to: computed.status, reason: computed.reason },
    });
    connection.status = computed.status;
  }
}

/** The answer of the consent step once verification ran (or is still waiting for propagation). */
export function consentAnswer(input: {
  orgId: string;
  tenantId: string;
  purpose: ConsentPurpose;
  v: VerificationOutcome;
  propagating: boolean;
  view: StatusView & { pendingUpgrade: { missingRoles: string[] } | null };
}): CallbackAnswer {
  const { orgId, tenantId, purpose, v, view } = input;
  if (input.propagating) return page(202, 'propagating', CONSENT_PAGES.propagating(tenantId), orgId);
  if (!v.ok) {
    const reason = REASONS[v.error.reason as keyof typeof REASONS];
    return page(
      424,
      `verification_failed_${v.error.reason}`,
      CONSENT_PAGES.verificationFailed(reason?.message ?? v.error.message, reason?.remedy ?? ''),
      orgId,
    );
  }
  const polling = view.sources.filter((s) => s.state !== 'paused' && s.state !== 'stopped').length;
  const outcome = purpose === 'connect' ? 'connected' : purpose === 'repair' ? 'repaired' : 'upgrade_consented';
  return page(200, outcome, CONSENT_PAGES.connected(tenantId, polling, SOURCES.length, view.pendingUpgrade?.missingRoles ?? []), orgId);
}

const unique = (items: Iterable<string>) => [...new Set(items)].sort();
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && unique(a).join() === unique(b).join();
