import { describe, expect, it } from 'vitest';
import { TokenError } from '../../runtime/index.ts';
import {
  applyVerification,
  decideConsent,
  decideSignIn,
  decideState,
  type SignInResult,
  type VerificationOutcome,
} from '../../control-plane/consent-decisions.ts';
import type { ConsentStatePayload } from '../../control-plane/consent-state.ts';
import type { OrganizationRecord } from '../../control-plane/organization-store.ts';
import { diffPermissions, manifestFor, requiredRoles } from '../../control-plane/permission-manifest.ts';
import { nextPropagationCheck, PROPAGATION_WINDOW_MS, retryUntilPropagated } from '../../control-plane/propagation.ts';
import { computeStatus } from '../../control-plane/status.ts';

/** The consent decisions without Kafka or HTTP: (record, verified state, request) → (changes, answer). */

const CUSTOMER = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const manifest = manifestFor(2);

function record(tenantId: string | null = null): OrganizationRecord {
  return {
    schemaVersion: 1,
    orgId: 'org_test1',
    orgName: 'Test',
    revision: 2,
    updatedAt: new Date(T0).toISOString(),
    connection: {
      cloud: 'commercial',
      tenantId,
      status: 'connecting',
      autoUpgrade: false,
      manifestVersion: 2,
      requiredRoles: requiredRoles(manifest, false),
      grantedRoles: [],
      polling: { enabled: false, sources: [], paused: [], refetchGeneration: 0, refetchFrom: null },
      connectedAt: null,
    },
    controlPlane: {
      createdAt: new Date(T0).toISOString(),
      requestedTenant: null,
      pendingUpgrade: null,
      verification: null,
      consent: null,
      consumedNonces: [],
      history: [],
    },
  };
}

const payload = (over: Partial<ConsentStatePayload> = {}): ConsentStatePayload => ({
  v: 1,
  org: 'org_test1',
  nonce: 'n'.repeat(24),
  exp: T0 + 600_000,
  purpose: 'connect',
  step: 'consent',
  tenant: CUSTOMER,
  ...over,
});

const admin = (over: Partial<Extract<SignInResult, { ok: true }>['administrator']> = {}, partnerTenantType: string | null = null): SignInResult => ({
  ok: true,
  administrator: { tenantId: CUSTOMER, objectId: 'u1', username: 'admin@customer.example', globalAdministrator: true, foreignIdp: null, ...over },
  identity: { id: over.tenantId ?? CUSTOMER, displayName: 'Customer', verifiedDomains: ['customer.example'], partnerTenantType },
});

const nobody = () => undefined;

describe('link checks', () => {
  it('refuses a missing, altered, expired or wrong-step state and an unknown organization, naming the problem', () => {
    expect(decideState({ ok: false, problem: 'missing' }, undefined, 'consent')).toMatchObject({ ok: false, refused: 'missing', answer: { httpStatus: 400 } });
    expect(decideState({ ok: false, problem: 'bad_signature' }, undefined, 'consent')).toMatchObject({
      ok: false,
      refused: 'bad_signature',
      answer: { httpStatus: 400 },
    });
    expect(decideState({ ok: false, problem: 'expired', payload: payload() }, record(), 'consent')).toMatchObject({
      ok: false,
      refused: 'expired',
      answer: { httpStatus: 410 },
    });
    expect(decideState({ ok: true, payload: payload({ step: 'signin' }) }, record(), 'consent')).toMatchObject({ ok: false, refused: 'wrong_step' });
    expect(decideState({ ok: true, payload: payload() }, undefined, 'consent')).toMatchObject({
      ok: false,
      refused: 'unknown_organization',
      answer: { httpStatus: 404 },
    });
  });
});

describe('the sign-in step', () => {
  const signIn = (result: SignInResult, r = record(), owner: (t: string) => string | undefined = nobody) =>
    decideSignIn({ record: r, payload: payload({ step: 'signin', tenant: undefined }), result, tenantOwner: owner });

  it('lets a Global Administrator of the customer tenant continue to consent in the signed-in tenant', () => {
    expect(signIn(admin())).toEqual({ proceed: true, tenantId: CUSTOMER, cloud: 'commercial' });
  });

  it("refuses a partner tenant's administrator with the seed's words, named tenant or not", () => {
    for (const r of [record(), record(CUSTOMER)]) {
      const partner = signIn(admin({ tenantId: OTHER }, 'resellerPartnerDelegatedAdmin'), r);
      expect(partner).toMatchObject({ proceed: false, answer: { httpStatus: 403, outcome: 'partner_account' } });
      if (!partner.proceed) expect(partner.answer.message).toContain('do not use a master CSP partner account');
    }
  });

  it('refuses a guest or delegated (foreign) account, an account of another tenant, and a non-administrator', () => {
    const foreign = signIn(admin({ foreignIdp: `https://sts.windows.net/${OTHER}/` }), record(CUSTOMER));
    expect(foreign).toMatchObject({ proceed: false, answer: { outcome: 'foreign_account' } });
    if (!foreign.proceed) expect(foreign.answer.message).toContain('do not use a master CSP partner account');
    expect(signIn(admin({ tenantId: OTHER }), record(CUSTOMER))).toMatchObject({ proceed: false, answer: { outcome: 'wrong_tenant', httpStatus: 403 } });
    expect(signIn(admin({ globalAdministrator: false }))).toMatchObject({ proceed: false, answer: { outcome: 'not_global_administrator' } });
    expect(signIn(admin(), record(), () => 'org_other')).toMatchObject({ proceed: false, answer: { outcome: 'tenant_in_use', httpStatus: 409 } });
    expect(signIn({ ok: false, problem: 'the id_token signature does not verify' })).toMatchObject({
      proceed: false,
      answer: { outcome: 'signin_failed', httpStatus: 400 },
    });
  });
});

describe('the consent step', () => {
  const consent = (query: Record<string, string>, draft = record(), p = payload()) =>
    decideConsent({ draft, payload: p, query, at: new Date(T0).toISOString(), tenantOwner: nobody });

  it('pins the signed tenant, consumes the nonce and records the consent', () => {
    const draft = record();
    const d = consent({ admin_consent: 'True', tenant: CUSTOMER }, draft);
    expect(d).toMatchObject({ write: true, proceed: { tenantId: CUSTOMER, purpose: 'connect' } });
    expect(draft.connection?.tenantId).toBe(CUSTOMER);
    expect(draft.controlPlane.consumedNonces).toHaveLength(1);
    expect(draft.controlPlane.consent).toMatchObject({ tenantId: CUSTOMER, verifiedAt: null });
  });

  it('refuses a forged tenant= and changes nothing', () => {
    const draft = record();
    const d = consent({ admin_consent: 'True', tenant: OTHER }, draft);
    expect(d).toMatchObject({ write: false, refused: 'forged_tenant', answer: { httpStatus: 403 } });
    expect(draft).toEqual(record());
  });

  it('refuses a replay without writing; a decline consumes the nonce once', () => {
    const draft = record();
    expect(consent({ error: 'consent_required', error_description: 'AADSTS65004: declined' }, draft)).toMatchObject({
      write: true,
      answer: { outcome: 'declined' },
    });
    expect(consent({ admin_consent: 'True', tenant: CUSTOMER }, draft)).toMatchObject({ write: false, refused: 'reused', answer: { httpStatus: 409 } });
    expect(consent({ admin_consent: 'True' }, record())).toMatchObject({ write: false, refused: 'malformed' });
  });
});

describe('verification after consent', () => {
  const consented = (atMs: number): OrganizationRecord => {
    const r = record(CUSTOMER);
    r.controlPlane.consent = { at: new Date(atMs).toISOString(), tenantId: CUSTOMER, purpose: 'connect', by: '', verifiedAt: null };
    return r;
  };
  const ctx = (nowMs: number) => ({
    at: new Date(nowMs).toISOString(),
    nowMs,
    manifestVersion: 2,
    enablePolling: true,
    tenantOwner: nobody,
    statusOf: (r: OrganizationRecord) => computeStatus({ record: r, sourceStatuses: new Map(), now: nowMs, expectedLagSeconds: 3600 }),
  });
  const notFound: VerificationOutcome = { ok: false, error: new TokenError('AADSTS700016: application not found', 'consent_revoked', 700016, false) };
  const noRoles: VerificationOutcome = { ok: true, tenantId: CUSTOMER, roles: [], diff: diffPermissions(manifest, false, []), upgrade: null };
  const allRoles = requiredRoles(manifest, false);
  const granted: VerificationOutcome = { ok: true, tenantId: CUSTOMER, roles: allRoles, diff: diffPermissions(manifest, false, allRoles), upgrade: null };

  it('inside the window, "application not found" and tokens without roles are propagation, not refusal', () => {
    for (const v of [notFound, noRoles]) {
      const draft = consented(T0);
      const { propagating } = applyVerification(draft, v, ctx(T0 + 30_000));
      expect(propagating).toBe(true);
      expect(draft.controlPlane.verification?.reason).toBe('consent_propagating');
      expect(computeStatus({ record: draft, sourceStatuses: new Map(), now: T0, expectedLagSeconds: 3600 })).toMatchObject({
        status: 'connecting',
        reason: 'consent_propagating',
        message: expect.stringContaining('waiting for Microsoft to propagate the consent'),
      });
      expect(draft.connection?.polling.enabled).toBe(false);
    }
  });

  it("after the window the same answer counts as the connection's reason", () => {
    const draft = consented(T0);
    const { propagating, history } = applyVerification(draft, notFound, ctx(T0 + PROPAGATION_WINDOW_MS + 1));
    expect(propagating).toBe(false);
    expect(draft.controlPlane.verification?.reason).toBe('consent_revoked');
    expect(history.map((h) => h.action)).toContain('consent.propagation_timed_out');
  });

  it('roles arriving later enable polling and close the window', () => {
    const draft = consented(T0);
    applyVerification(draft, noRoles, ctx(T0 + 5_000));
    const { propagating } = applyVerification(draft, granted, ctx(T0 + 90_000));
    expect(propagating).toBe(false);
    expect(draft.connection).toMatchObject({
      polling: { enabled: true },
      connectedAt: new Date(T0 + 90_000).toISOString(),
      status: 'waiting_for_first_events',
    });
    expect(draft.controlPlane.consent?.verifiedAt).toBe(new Date(T0 + 90_000).toISOString());
    // A later token without roles is not propagation any more: it is a permission problem.
    expect(applyVerification(draft, noRoles, ctx(T0 + 120_000)).propagating).toBe(false);
  });
});

describe('the propagation window (15 minutes, controllable clock)', () => {
  it('backs off 1, 2, 4, 8, 15 then 30 s and stops at the end of the window', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((a) => nextPropagationCheck(T0, T0, a))).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000]);
    expect(nextPropagationCheck(T0, T0 + PROPAGATION_WINDOW_MS - 500, 9)).toBe(500);
    expect(nextPropagationCheck(T0, T0 + PROPAGATION_WINDOW_MS, 0)).toBeNull();
  });

  it('a consent whose roles appear 90 s later settles without anyone acting', async () => {
    let clock = T0;
    const checks: number[] = [];
    const result = await retryUntilPropagated({
      consentAtMs: T0,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      attempt: async () => {
        checks.push(clock - T0);
        return clock - T0 >= 90_000 ? 'settled' : 'propagating';
      },
    });
    expect(result.settled).toBe(true);
    expect(checks.at(-1)).toBeGreaterThanOrEqual(90_000);
    expect(checks.at(-1)).toBeLessThan(90_000 + 30_000);
  });

  it('gives up at the end of the window with a bounded number of attempts', async () => {
    let clock = T0;
    const result = await retryUntilPropagated({
      consentAtMs: T0,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      attempt: async () => 'propagating',
    });
    expect(result.settled).toBe(false);
    expect(clock).toBe(T0 + PROPAGATION_WINDOW_MS);
    expect(result.attempts).toBeLessThan(40);
  });
});
