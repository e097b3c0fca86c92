/**
 * The `state` parameter of the consent round trip (guarantee 3): it names the organization, carries a nonce and an
 * expiry, and is HMAC-signed so a callback cannot be bound to another organization. The round trip has two steps
 * (docs/consent.md): the administrator's OpenID Connect sign-in (`step: signin`), then admin consent
 * (`step: consent`), whose state also carries the tenant the signed id_token named, so the consent callback never
 * takes the tenant from Microsoft's unsigned redirect. Single use of a consent state is enforced by the
 * organization store, which records consumed nonces in the organization's value.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const CONSENT_STATE_TTL_MS = 10 * 60 * 1000;
export const CONSENT_PURPOSES = ['connect', 'repair', 'upgrade'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

const payloadSchema = z.object({
  v: z.literal(1),
  org: z.string().min(1),
  nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  exp: z.number().int().positive(),
  purpose: z.enum(CONSENT_PURPOSES),
  step: z.enum(['signin', 'consent']).default('signin'),
  /** For the consent step: the tenant id the verified id_token named (`tid`). */
  tenant: z.string().optional(),
});
export type ConsentStatePayload = z.infer<typeof payloadSchema>;

export type StateCheck =
  | { ok: true; payload: ConsentStatePayload }
  | { ok: false; problem: 'missing' | 'malformed' | 'bad_signature' | 'expired'; payload?: ConsentStatePayload };

export class ConsentStateSigner {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = CONSENT_STATE_TTL_MS,
  ) {
    if (secret.length < 32) throw new Error('consent state secret must have at least 32 characters');
    // Domain separation: the same secret could be reused elsewhere by a careless deployment.
    this.key = createHmac('sha256', secret).update('m365-siem consent state v1').digest();
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }

  /** A sign-in state, or with `signedTenant` the consent state that follows a verified sign-in. */
  sign(orgId: string, purpose: ConsentPurpose, signedTenant?: string): { state: string; payload: ConsentStatePayload } {
    const payload: ConsentStatePayload = {
      v: 1,
      org: orgId,
      nonce: randomBytes(18).toString('base64url'),
      exp: this.now() + this.ttlMs,
      purpose,
      step: signedTenant ? 'consent' : 'signin',
      ...(signedTenant ? { tenant: signedTenant } : {}),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { state: `${body}.${this.mac(body).toString('base64url')}`, payload };
  }

  /**
   * The OpenID Connect `nonce` of a sign-in, derived from its state's nonce with the same key: the id_token must
   * echo it, which binds the token to this state (a token from another sign-in does not fit).
   */
  signInNonce(stateNonce: string): string {
    return createHmac('sha256', this.key).update(`oidc-nonce|${stateNonce}`).digest('base64url');
  }

  verify(state: string | undefined | null): StateCheck {
    if (!state) return { ok: false, problem: 'missing' };
    if (state.length > 1024) return { ok: false, problem: 'malformed' };
    const dot = state.indexOf('.');
    if (dot <= 0 || dot !== state.lastIndexOf('.')) return { ok: false, problem: 'malformed' };
    const body = state.slice(0, dot);
    const given = Buffer.from(state.slice(dot + 1), 'base64url');
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: 'bad_signature' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, problem: 'malformed' };
    }
    const result = payloadSchema.safeParse(parsed);
    if (!result.success) return { ok: false, problem: 'malformed' };
    if (result.data.exp <= this.now()) return { ok: false, problem: 'expired', payload: result.data };
    return { ok: true, payload: result.data };
  }
}
