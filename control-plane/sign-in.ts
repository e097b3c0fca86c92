/**
 * The consenting administrator's OpenID Connect sign-in (docs/consent.md, docs/decisions/0100): the tenant the
 * control plane pins comes from an id_token Microsoft signed, never from the admin-consent redirect's unsigned
 * `tenant=` query. This module builds the authorize URL, verifies the id_token against the authority's JWKS
 * (signature, `iss`, `aud`, `exp`/`nbf`, `nonce`, `tid`, `idp`, `wids`) and reads the tenant's `organization`
 * (partnerTenantType) with the sign-in's delegated Graph token.
 */
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import { parseRetryAfter, PermanentError, RetriableError, withRetry, type CloudProfile } from '../runtime/index.ts';
import type { FetchLike } from './upgrades.ts';

/** The directory role template id of Global Administrator, as it appears in the `wids` claim. */
export const GLOBAL_ADMINISTRATOR_ROLE = '62e90394-69f5-4237-9190-012177145e10';
/** Clock skew tolerated on `exp` and `nbf`. */
const SKEW_S = 300;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Delegated scopes of the sign-in: OpenID Connect plus User.Read, the least privilege for GET /organization. */
export function signInScopes(profile: CloudProfile): string[] {
  return ['openid', 'profile', `${profile.graphResource}/User.Read`];
}

export function authorizeUrl(options: { profile: CloudProfile; clientId: string; tenant: string; redirectUri: string; state: string; nonce: string }): string {
  const params = new URLSearchParams({
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: options.redirectUri,
    response_mode: 'query',
    scope: signInScopes(options.profile).join(' '),
    state: options.state,
    nonce: options.nonce,
    // The administrator picks the account deliberately: a browser session of another (partner) account is not reused silently.
    prompt: 'select_account',
  });
  return `${options.profile.authorityHost}/${options.tenant}/oauth2/v2.0/authorize?${params.toString()}`;
}

/** What a verified id_token says about the person who signed in. */
export interface VerifiedAdministrator {
  tenantId: string;
  objectId: string;
  username: string;
  globalAdministrator: boolean;
  /** The home identity provider when the account is a guest or otherwise foreign to `tenantId`, else null. */
  foreignIdp: string | null;
}

export type IdTokenCheck = { ok: true; administrator: VerifiedAdministrator } | { ok: false; problem: string };

const claimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  exp: z.number(),
  nbf: z.number().optional(),
  nonce: z.string().optional(),
  tid: z.string().regex(GUID),
  oid: z.string().optional(),
  sub: z.string().optional(),
  idp: z.string().optional(),
  preferred_username: z.string().optional(),
  wids: z.array(z.string()).optional(),
  ver: z.string().optional(),
});

const metadataSchema = z.object({ issuer: z.string(), jwks_uri: z.string() });
const jwksSchema = z.object({
  keys: z.array(z.object({ kid: z.string().optional(), kty: z.string(), n: z.string().optional(), e: z.string().optional() }).passthrough()),
});

function decodePart(part: string | undefined): unknown {
  try {
    return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Signing keys and issuer per tenant of one authority, read from `{authority}/{tid}/v2.0/.well-known/openid-configuration`.
 * Cached for an hour; an unknown `kid` refreshes once (Microsoft rolls its keys).
 */
export class AuthorityKeys {
  private readonly cache = new Map<string, { at: number; issuer: string; keys: Map<string, JsonWebKey> }>();

  constructor(
    private readonly fetchImpl: FetchLike,
    private readonly now: () => number = Date.now,
  ) {}

  async lookup(authorityHost: string, tenantId: string, kid: string): Promise<{ issuer: string; key: JsonWebKey | undefined }> {
    const cacheKey = `${authorityHost}|${tenantId}`;
    let entry = this.cache.get(cacheKey);
    if (!entry || this.now() - entry.at > 3_600_000 || !entry.keys.has(kid)) {
      entry = await this.load(authorityHost, tenantId);
      this.cache.set(cacheKey, entry);
    }
    return { issuer: entry.issuer, key: entry.keys.get(kid) };
  }

  private async load(authorityHost: string, tenantId: string) {
    const get = (url: string) => fetchJsonPatiently(this.fetchImpl, url, {}, url);
    const metadata = metadataSchema.parse(await get(`${authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`));
    // The keys come from the authority we are configured with, whatever the metadata document says.
    if (new URL(metadata.jwks_uri).origin !== new URL(authorityHost).origin) throw new Error('the JWKS is not served by the authority');
    const jwks = jwksSchema.parse(await get(metadata.jwks_uri));
    const keys = new Map<string, JsonWebKey>();
    for (const k of jwks.keys) if (k.kid && k.kty === 'RSA') keys.set(k.kid, k as JsonWebKey);
    return { at: this.now(), issuer: metadata.issuer, keys };
  }
}

/** Verifies an id_token of the v2.0 endpoint for our registration; the checks OpenID Connect Core §3.1.3.7 asks for. */
export async function verifyIdToken(
  idToken: string,
  expected: { authorityHost: string; clientId: string; nonce: string; nowMs: number },
  keys: AuthorityKeys,
): Promise<IdTokenCheck> {
  const parts = idToken.split('.');
  if (parts.length !== 3) return { ok: false, problem: 'the id_token is not a JWT' };
  const header = decodePart(parts[0]) as { alg?: unknown; kid?: unknown } | undefined;
  const parsed = claimsSchema.safeParse(decodePart(parts[1]));
  if (!header || !parsed.success) return { ok: false, problem: 'the id_token claims are not readable' };
  if (header.alg !== 'RS256' || typeof header.kid !== 'string') return { ok: false, problem: 'the id_token is not signed with RS256' };
  const claims = parsed.data;
  let authority: { issuer: string; key: JsonWebKey | undefined };
  try {
    authority = await keys.lookup(expected.authorityHost, claims.tid.toLowerCase(), header.kid);
  } catch (error) {
    return { ok: false, problem: `the authority's signing keys could not be read (${(error as Error).message})` };
  }
  if (!authority.key) return { ok: false, problem: 'the id_token is signed with a key the authority does not publish' };
  const signatureOk = verify(
    'sha256',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    createPublicKey({ key: authority.key, format: 'jwk' }),
    Buffer.from(parts[2] ?? '', 'base64url'),
  );
  if (!signatureOk) return { ok: false, problem: 'the id_token signature does not verify' };
  if (claims.iss !== authority.issuer) return { ok: false, problem: "the id_token was issued by another issuer than the tenant's" };
  if (claims.aud.toLowerCase() !== expected.clientId.toLowerCase()) return { ok: false, problem: 'the id_token was issued for another application' };
  const nowS = expected.nowMs / 1000;
  if (claims.exp + SKEW_S < nowS) return { ok: false, problem: 'the id_token has expired' };
  if (claims.nbf !== undefined && claims.nbf - SKEW_S > nowS) return { ok: false, problem: 'the id_token is not valid yet' };
  if (claims.nonce !== expected.nonce) return { ok: false, problem: 'the id_token does not belong to this consent link (nonce)' };
  // `idp` differs from `iss` for guests and other accounts homed elsewhere (partners through delegated access).
  const foreignIdp = claims.idp && claims.idp !== claims.iss ? claims.idp : null;
  return {
    ok: true,
    administrator: {
      tenantId: claims.tid.toLowerCase(),
      objectId: claims.oid ?? claims.sub ?? '',
      username: claims.preferred_username ?? '',
      globalAdministrator: (claims.wids ?? []).includes(GLOBAL_ADMINISTRATOR_ROLE),
      foreignIdp,
    },
  };
}

/** The signed-in tenant's identity as Graph's `organization` resource gives it. */
export interface TenantIdentity {
  id: string;
  displayName: string;
  verifiedDomains: string[];
  /** Set only in partner tenants (CSP, syndication, advisor): `resellerPartnerDelegatedAdmin`, `breadthPartner`, … */
  partnerTenantType: string | null;
}

const organizationSchema = z.object({
  value: z.array(
    z.object({
      id: z.string(),
      displayName: z.string().nullable().optional(),
      verifiedDomains: z.array(z.object({ name: z.string() })).optional(),
      partnerTenantType: z.string().nullable().optional(),
    }),
  ),
});

export async function readTenantIdentity(graphHost: string, delegatedToken: string, fetchImpl: FetchLike): Promise<TenantIdentity> {
  const url = `${graphHost}/v1.0/organization?$select=id,displayName,verifiedDomains,partnerTenantType`;
  const body = organizationSchema.parse(
    await fetchJsonPatiently(fetchImpl, url, { Authorization: `Bearer ${delegatedToken}` }, "Graph, for the signed-in tenant's organization"),
  );
  const org = body.value[0];
  if (!org) throw new Error('Graph returned no organization for the signed-in tenant');
  return {
    id: org.id.toLowerCase(),
    displayName: org.displayName ?? '',
    verifiedDomains: (org.verifiedDomains ?? []).map((d) => d.name),
    partnerTenantType: org.partnerTenantType ?? null,
  };
}

/**
 * GET of a JSON document during a sign-in, retried while Microsoft throttles (429, Retry-After honoured) or fails
 * (5xx, network) — a few attempts within seconds, since an administrator waits in the pop-up. Any other answer is
 * final. `what` names the call in the error; the URL's query and the token never appear in it.
 */
async function fetchJsonPatiently(fetchImpl: FetchLike, url: string, headers: Record<string, string>, what: string): Promise<unknown> {
  return withRetry(
    async () => {
      let res: Awaited<ReturnType<FetchLike>>;
      try {
        res = await fetchImpl(url, { signal: AbortSignal.timeout(15_000), headers: { ...headers, Accept: 'application/json' } });
      } catch (error) {
        throw new RetriableError(`${what} could not be reached (${(error as Error).message})`, 'network', undefined, { cause: error });
      }
      if (res.ok) return (await res.json()) as unknown;
      const message = `${what} answered ${res.status}`;
      if (res.status === 429 || res.status >= 500) {
        const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        // Longer than a pop-up can wait: say so now rather than keep the administrator watching a spinner.
        if (retryAfterMs !== undefined && retryAfterMs > SIGN_IN_MAX_WAIT_MS)
          throw new PermanentError(`${message}, asking to wait ${Math.ceil(retryAfterMs / 1000)} s`, 'microsoft_unavailable');
        throw new RetriableError(message, 'microsoft_unavailable', retryAfterMs);
      }
      throw new PermanentError(message, 'microsoft_refused');
    },
    { attempts: SIGN_IN_FETCH_ATTEMPTS, initialMs: 250, maxMs: 2_000 },
  );
}

/** Attempts of one sign-in GET: with 250 ms doubling to 2 s, about 4 s of waiting (more when Retry-After says so). */
const SIGN_IN_FETCH_ATTEMPTS = 5;
/** The longest Retry-After a sign-in waits for. */
const SIGN_IN_MAX_WAIT_MS = 5_000;
