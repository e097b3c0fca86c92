import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Cloud, ResourceKind } from '../app-roles.ts';
import { AUDIENCES, audienceKind } from '../app-roles.ts';
import type { SimContext } from '../context.ts';
import { applyTransportFault } from '../context.ts';
import type { SimRequest } from '../http.ts';
import { sendJson } from '../http.ts';
import type { AppRegistration, Tenant } from '../tenant-state.ts';
import { sendAadError, tenantNotFound } from './errors.ts';
import { decodeJwt, verifyAssertionSignature } from './jwt.ts';
import { uuidFor } from '../deterministic.ts';

/** `/{tenant}/oauth2/v2.0/token` (and the v1 `/{tenant}/oauth2/token`): client credentials only. */

const TOKEN_LIFETIME_S = 3599;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  appid: string;
  appidacr: string;
  idp: string;
  idtyp: 'app';
  oid: string;
  sub: string;
  tid: string;
  roles?: string[];
  ver: '1.0';
  [k: string]: unknown;
}

export async function handleToken(ctx: SimContext, req: SimRequest, res: ServerResponse, tenantSegment: string, v1: boolean): Promise<void> {
  const now = ctx.now();
  const origin = ctx.origin();
  const err = (status: number, error: string, code: number, description: string, headers?: Record<string, string>) =>
    sendAadError(res, origin, status, error, code, description, now, headers);

  if (req.method !== 'POST') {
    err(405, 'invalid_request', 900561, 'The endpoint only accepts POST requests. Received a GET request.');
    return;
  }
  const form = new URLSearchParams((await req.body()).toString('utf8'));
  const tenant = ctx.state.resolveTenant(tenantSegment);

  const fault = ctx.faults.take('token', tenant?.tenantId);
  if (fault) {
    if (fault.kind === 'throttle') {
      err(
        429,
        'temporarily_unavailable',
        50196,
        'The server terminated an operation because it encountered a client request loop. Please contact your app vendor.',
        { 'Retry-After': '5' },
      );
      return;
    }
    if (fault.kind === 'server-error') {
      err(503, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.');
      return;
    }
    if (fault.kind === 'aadsts') {
      const clientId = ctx.state.registrationFor(tenant?.settings.cloud ?? 'commercial').clientId;
      const refusal = aadstsRefusal(fault.aadsts ?? 0, clientId, tenant?.settings.name ?? tenantSegment, tenant?.tenantId ?? tenantSegment);
      err(refusal.status, refusal.error, fault.aadsts ?? 0, refusal.description);
      return;
    }
    if (await applyTransportFault(fault, res, '{"token_type":"Bearer","expires_in":')) return;
  }

  if (form.get('grant_type') === 'authorization_code') {
    redeemSignInCode(ctx, req, res, form, tenantSegment, now);
    return;
  }
  if (['common', 'organizations', 'consumers'].includes(tenantSegment.toLowerCase())) {
    err(400, 'invalid_request', 50059, 'No tenant-identifying information found in either the request or implied by any provided credentials.');
    return;
  }
  if (!tenant) {
    err(400, 'invalid_request', 90002, tenantNotFound(tenantSegment));
    return;
  }
  const grantType = form.get('grant_type');
  if (!grantType) {
    err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    return;
  }
  if (grantType !== 'client_credentials') {
    err(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
    return;
  }

  const { clientId, secret } = clientOf(req, form);
  if (!clientId) {
    err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    return;
  }
  // Only the registration in the tenant's own Entra instance exists there: a commercial registration's client id
  // is unknown in a US Government tenant (AADSTS700016), and the other way round.
  const app = ctx.state.findRegistration(clientId, tenant);
  if (!app) {
    err(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant.settings.name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
    return;
  }

  // requested resource
  let resource: string | null;
  if (v1) {
    resource = form.get('resource');
    if (!resource) {
      err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'resource'.");
      return;
    }
  } else {
    const scope = form.get('scope');
    if (!scope) {
      err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
      return;
    }
    const scopes = scope.split(/\s+/).filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
    const defaults = scopes.filter((s) => s.endsWith('/.default'));
    if (scopes.length !== 1 || defaults.length !== 1) {
      err(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
      return;
    }
    resource = (defaults[0] ?? '').slice(0, -'/.default'.length);
  }
  const kind = audienceKind(tenant.settings.cloud, resource);
  if (!kind) {
    err(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant.settings.name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    );
    return;
  }

  // the app's service principal in this tenant (a fresh consent reaches the token service only after a while)
  if (!tenant.servicePrincipal || tenant.servicePrincipal.visibleAtMs > now) {
    if (tenant.revokedConsent && !tenant.servicePrincipal) {
      err(
        401,
        'invalid_client',
        7000229,
        `The client application ${app.clientId} is missing service principal in the tenant ${tenant.tenantId}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119`,
      );
    } else {
      err(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${app.clientId}' was not found in the directory '${tenant.settings.name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    return;
  }

  // credentials
  const credential = checkCredentials(ctx, app, form, secret, [tenantSegment, tenant.tenantId]);
  if (!credential.ok) {
    err(credential.status, credential.error, credential.code, credential.message);
    return;
  }
  const appidacr = credential.appidacr;

  const audience = AUDIENCES[tenant.settings.cloud][kind];
  const token = issueAccessToken(ctx, tenant, kind, audience, appidacr, now);
  const body: Record<string, unknown> = v1
    ? {
        token_type: 'Bearer',
        expires_in: String(TOKEN_LIFETIME_S),
        ext_expires_in: String(TOKEN_LIFETIME_S),
        expires_on: String(Math.floor(now / 1000) + TOKEN_LIFETIME_S),
        not_before: String(Math.floor(now / 1000)),
        resource,
        access_token: token,
      }
    : { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, ext_expires_in: TOKEN_LIFETIME_S, access_token: token };
  sendJson(res, 200, body, { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache', 'x-ms-request-id': randomUUID() });
}

function checkAssertion(
  ctx: SimContext,
  app: AppRegistration,
  assertion: string,
  tenantSegments: string[],
  now: number,
): { code: number; message: string } | undefined {
  const decoded = decodeJwt(assertion);
  if (!decoded) return { code: 50027, message: 'JWT token is invalid or malformed.' };
  const { header, payload } = decoded;
  const cert = app.certificate;
  const x5t = typeof header.x5t === 'string' ? Buffer.from(header.x5t, 'base64url').toString('hex').toUpperCase() : undefined;
  const x5t256 = typeof header['x5t#S256'] === 'string' ? Buffer.from(header['x5t#S256'], 'base64url').toString('hex').toUpperCase() : undefined;
  if (x5t !== cert.thumbprint && x5t256 !== cert.thumbprintSha256) {
    return {
      code: 700027,
      message: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${x5t ?? x5t256 ?? ''}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.]`,
    };
  }
  if (payload.iss !== app.clientId || payload.sub !== app.clientId) {
    return {
      code: 700021,
      message:
        "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
    };
  }
  const aud = typeof payload.aud === 'string' ? payload.aud.toLowerCase() : '';
  const origin = ctx.origin().toLowerCase();
  const validAud = tenantSegments.flatMap((t) => [`${origin}/${t.toLowerCase()}/oauth2/v2.0/token`, `${origin}/${t.toLowerCase()}/oauth2/token`]);
  if (!validAud.includes(aud)) {
    return {
      code: 700212,
      message: `The audience claim value '${String(payload.aud)}' of the client assertion is invalid. It must be the token endpoint of the tenant.`,
    };
  }
  const exp = typeof payload.exp === 'number' ? payload.exp : 0;
  const nbf = typeof payload.nbf === 'number' ? payload.nbf : 0;
  const nowS = Math.floor(now / 1000);
  if (exp < nowS - 300 || nbf > nowS + 300) {
    return {
      code: 700024,
      message: `Client assertion is not within its valid time range. Current time: ${new Date(now).toISOString()}, assertion valid from ${new Date(nbf * 1000).toISOString()}, expiry time of assertion ${new Date(exp * 1000).toISOString()}.`,
    };
  }
  if (!verifyAssertionSignature(decoded, cert.certPem)) {
    return { code: 700027, message: 'Client assertion failed signature validation.' };
  }
  return undefined;
}

export function issueAccessToken(ctx: SimContext, tenant: Tenant, kind: ResourceKind, audience: string, appidacr: string, now: number): string {
  const sp = tenant.servicePrincipal;
  const iat = Math.floor(now / 1000);
  const roles = tenant.tokenRoles(kind, now);
  const app = ctx.state.registrationFor(tenant.settings.cloud);
  const claims: AccessTokenClaims = {
    aud: audience,
    iss: `https://sts.windows.net/${tenant.tenantId}/`,
    iat,
    nbf: iat,
    exp: iat + TOKEN_LIFETIME_S,
    aio: randomUUID().replace(/-/g, ''),
    app_displayname: app.displayName,
    appid: app.clientId,
    appidacr,
    idp: `https://sts.windows.net/${tenant.tenantId}/`,
    idtyp: 'app',
    oid: sp?.id ?? '',
    rh: '0.sim.',
    sub: sp?.id ?? '',
    tid: tenant.tenantId,
    uti: randomUUID().replace(/-/g, '').slice(0, 22),
    ver: '1.0',
    ...(roles.length > 0 ? { roles } : {}),
  };
  return ctx.signer.sign(claims);
}

export type TokenCheck =
  | { ok: true; claims: AccessTokenClaims; tenant: Tenant | undefined }
  | { ok: false; reason: 'missing' | 'malformed' | 'signature' | 'expired' | 'audience' };

/** Validates a bearer token for an API of `kind`; the audience must be that API's for some cloud. */
const verifiedTokens = new WeakMap<SimContext, Map<string, AccessTokenClaims>>();
const MAX_VERIFIED = 20_000;

export function checkAccessToken(ctx: SimContext, token: string | undefined, kind: ResourceKind): TokenCheck {
  if (!token) return { ok: false, reason: 'missing' };
  let cache = verifiedTokens.get(ctx);
  if (!cache) {
    cache = new Map();
    verifiedTokens.set(ctx, cache);
  }
  let claims = cache.get(token);
  if (!claims) {
    const decoded = decodeJwt(token);
    if (!decoded) return { ok: false, reason: 'malformed' };
    if (!ctx.signer.verifySignature(decoded)) return { ok: false, reason: 'signature' };
    claims = decoded.payload as AccessTokenClaims;
    if (cache.size >= MAX_VERIFIED) cache.clear();
    cache.set(token, claims);
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < ctx.now()) return { ok: false, reason: 'expired' };
  const tenant = typeof claims.tid === 'string' ? ctx.state.tenants.get(claims.tid) : undefined;
  const cloud: Cloud = tenant?.settings.cloud ?? 'commercial';
  if (claims.aud !== AUDIENCES[cloud][kind]) return { ok: false, reason: 'audience' };
  return { ok: true, claims, tenant };
}

type CredentialCheck = { ok: true; appidacr: string } | { ok: false; status: number; error: string; code: number; message: string };

/** The client's secret or certificate assertion, checked as the token endpoint does for every confidential grant. */
function checkCredentials(ctx: SimContext, app: AppRegistration, form: URLSearchParams, secret: string | null, tenantSegments: string[]): CredentialCheck {
  const assertion = form.get('client_assertion');
  if (assertion) {
    if (form.get('client_assertion_type') !== JWT_BEARER) {
      return {
        ok: false,
        status: 400,
        error: 'invalid_request',
        code: 70002,
        message: "The client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
      };
    }
    // The assertion carries the client's wall clock, not the simulator's (possibly advanced) clock.
    const problem = checkAssertion(ctx, app, assertion, tenantSegments, Date.now());
    if (problem) return { ok: false, status: 401, error: 'invalid_client', code: problem.code, message: problem.message };
    return { ok: true, appidacr: '2' };
  }
  if (secret) {
    if (secret !== app.clientSecret) {
      return {
        ok: false,
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        message: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      };
    }
    if (app.secretExpired) {
      return {
        ok: false,
        status: 401,
        error: 'invalid_client',
        code: 7000222,
        message: `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      };
    }
    return { ok: true, appidacr: '1' };
  }
  return {
    ok: false,
    status: 401,
    error: 'invalid_client',
    code: 7000218,
    message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  };
}

/** The documented refusals the fault API can inject, each with the status and error Microsoft answers. */
export const INJECTABLE_AADSTS = [700016, 700027, 700024, 7000112, 53003, 90038, 900432, 650052] as const;

export function aadstsRefusal(code: number, clientId: string, tenantName: string, tenantId: string): { status: number; error: string; description: string } {
  switch (code) {
    case 700016:
      return {
        status: 400,
        error: 'unauthorized_client',
        description: `Application with identifier '${clientId}' was not found in the directory '${tenantName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      };
    case 700027:
      return { status: 401, error: 'invalid_client', description: 'Client assertion failed signature validation.' };
    case 700024:
      return { status: 401, error: 'invalid_client', description: 'Client assertion is not within its valid time range.' };
    case 7000112:
      return { status: 400, error: 'unauthorized_client', description: `Application '${clientId}' is disabled.` };
    case 53003:
      return {
        status: 400,
        error: 'invalid_grant',
        description: 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.',
      };
    case 90038:
      return {
        status: 400,
        error: 'invalid_request',
        description: `Tenant '${tenantId}' belongs to another national cloud; the current cloud instance does not federate with it.`,
      };
    case 900432:
      return { status: 400, error: 'invalid_request', description: 'Confidential Client is not supported in Cross Cloud request.' };
    case 650052:
      return {
        status: 400,
        error: 'invalid_client',
        description: `The app needs access to a service that your organization '${tenantName}' has not subscribed to or enabled. Contact your IT Admin to review the configuration of your service subscriptions.`,
      };
    default:
      return { status: 400, error: 'invalid_request', description: 'The request is invalid.' };
  }
}

const GLOBAL_ADMINISTRATOR_TEMPLATE = '62e90394-69f5-4237-9190-012177145e10';

/**
 * `grant_type=authorization_code`: redeems a sign-in code (once, within its lifetime, for the same client and
 * redirect URI) for an id_token and a delegated Graph access token. The id_token names the tenant signed in to
 * (`tid`), the account's home identity provider when it is foreign (`idp`), and the directory roles (`wids`, as
 * with groupMembershipClaims "DirectoryRole" on the registration).
 */
function redeemSignInCode(ctx: SimContext, req: SimRequest, res: ServerResponse, form: URLSearchParams, tenantSegment: string, now: number): void {
  const origin = ctx.origin();
  const err = (status: number, error: string, code: number, description: string) => sendAadError(res, origin, status, error, code, description, now);
  const code = form.get('code');
  if (!code) return err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code'.");
  const { clientId, secret } = clientOf(req, form);
  if (!clientId) return err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
  const app = ctx.state.findRegistration(clientId);
  if (!app) return err(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantSegment}'.`);
  const grant = ctx.state.signIns.get(code);
  if (!grant || grant.clientId !== clientId.toLowerCase()) return err(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.');
  if (grant.redeemed)
    return err(
      400,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    );
  if (grant.expiresAtMs < now)
    return err(
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    );
  if (form.get('redirect_uri') !== grant.redirectUri)
    return err(400, 'invalid_grant', 70000, "Provided grant is invalid or malformed: the 'redirect_uri' does not match the one of the authorization request.");
  const generic = ['common', 'organizations'].includes(tenantSegment.toLowerCase());
  if (!generic && ctx.state.resolveTenant(tenantSegment)?.tenantId !== grant.tenantId)
    return err(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed: the code was issued for another tenant.');
  const credential = checkCredentials(ctx, app, form, secret, [tenantSegment, grant.tenantId]);
  if (!credential.ok) return err(credential.status, credential.error, credential.code, credential.message);
  const tenant = ctx.state.tenants.get(grant.tenantId);
  const home = ctx.state.tenants.get(grant.homeTenantId);
  const user = home?.users.find((u) => u.userPrincipalName.toLowerCase() === grant.upn.toLowerCase());
  if (!tenant || !home || !user) return err(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.');
  grant.redeemed = true;
  const iat = Math.floor(now / 1000);
  const foreign = home !== tenant;
  const oid = foreign ? uuidFor(`${tenant.tenantId}|guest|${user.id}`) : user.id;
  const idToken = ctx.signer.sign({
    aud: app.clientId,
    iss: `${origin}/${tenant.tenantId}/v2.0`,
    iat,
    nbf: iat,
    exp: iat + 3600,
    ...(foreign ? { idp: `https://sts.windows.net/${home.tenantId}/` } : {}),
    name: user.displayName,
    ...(grant.nonce ? { nonce: grant.nonce } : {}),
    oid,
    preferred_username: user.userPrincipalName,
    rh: '0.sim.',
    sub: uuidFor(`${app.clientId}|${tenant.tenantId}|${oid}`).replace(/-/g, ''),
    tid: tenant.tenantId,
    uti: randomUUID().replace(/-/g, '').slice(0, 22),
    ver: '2.0',
    ...(user.isAdmin ? { wids: [GLOBAL_ADMINISTRATOR_TEMPLATE, 'b79fbf4d-3ef9-4689-8143-76b194e85509'] } : { wids: ['b79fbf4d-3ef9-4689-8143-76b194e85509'] }),
  });
  const delegatedScopes = grant.scopes
    .map((sc) => sc.replace(/^https:\/\/[^/]+\//, ''))
    .filter((sc) => !['openid', 'profile', 'offline_access', 'email'].includes(sc));
  const accessToken = ctx.signer.sign({
    aud: AUDIENCES[tenant.settings.cloud].graph,
    iss: `https://sts.windows.net/${tenant.tenantId}/`,
    iat,
    nbf: iat,
    exp: iat + TOKEN_LIFETIME_S,
    appid: app.clientId,
    appidacr: credential.appidacr,
    idp: `https://sts.windows.net/${home.tenantId}/`,
    idtyp: 'user',
    oid,
    scp: delegatedScopes.join(' '),
    sub: oid,
    tid: tenant.tenantId,
    upn: user.userPrincipalName,
    ver: '1.0',
  });
  sendJson(
    res,
    200,
    {
      token_type: 'Bearer',
      scope: grant.scopes.join(' '),
      expires_in: TOKEN_LIFETIME_S,
      ext_expires_in: TOKEN_LIFETIME_S,
      access_token: accessToken,
      id_token: idToken,
    },
    { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache', 'x-ms-request-id': randomUUID() },
  );
}

/** client_id and client_secret from the form or HTTP Basic (client_secret_basic). */
function clientOf(req: SimRequest, form: URLSearchParams): { clientId: string | null; secret: string | null } {
  let clientId = form.get('client_id');
  let secret = form.get('client_secret');
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic?.[1]) {
    const [id, pw] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
    clientId ??= decodeURIComponent(id ?? '');
    secret ??= decodeURIComponent(pw ?? '');
  }
  return { clientId, secret };
}
