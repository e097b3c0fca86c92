import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { SimContext } from '../context.ts';
import type { SimRequest } from '../http.ts';
import { send } from '../http.ts';
import type { Tenant } from '../tenant-state.ts';
import { applicationNotFound, errorPage, sendAccountPicker } from './pages.ts';

/**
 * The OpenID Connect sign-in: `/{tenant}/oauth2/v2.0/authorize` with `response_type=code` (the authorization code
 * flow of Microsoft's "OpenID Connect on the Microsoft identity platform"). An account picker stands in for the
 * sign-in form; the chosen account gets a browser session (the role of Microsoft's ESTSAUTH cookie) that the
 * admin-consent page reuses, and the app gets a code redeemable once at the token endpoint for an id_token.
 *
 * A tenant-specific endpoint signs in that tenant's own accounts; an account of a partner tenant signs in there as
 * a delegated administrator (its `idp` is its home tenant). `organizations` signs every account in to its home.
 */

export const SESSION_COOKIE = 'ESTSAUTH';
const CODE_LIFETIME_MS = 10 * 60 * 1000;

export function sessionAccount(ctx: SimContext, req: SimRequest): string | undefined {
  const cookie = req.headers.cookie ?? '';
  const id = cookie
    .split(/;\s*/)
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
    ?.slice(SESSION_COOKIE.length + 1);
  return id ? ctx.state.sessions.get(id) : undefined;
}

function redirectWithError(res: ServerResponse, redirect: URL, state: string | null, error: string, code: number, description: string): void {
  const location = new URL(redirect);
  location.searchParams.set('error', error);
  location.searchParams.set('error_description', `AADSTS${code}: ${description}`);
  if (state !== null) location.searchParams.set('state', state);
  send(res, 302, '', { Location: location.toString() });
}

export async function handleAuthorize(ctx: SimContext, req: SimRequest, res: ServerResponse, tenantSegment: string): Promise<void> {
  const params = new URLSearchParams(req.url.search);
  if (req.method === 'POST') for (const [k, v] of new URLSearchParams((await req.body()).toString('utf8'))) params.set(k, v);
  const clientId = params.get('client_id') ?? '';
  const redirectUri = params.get('redirect_uri') ?? '';
  const state = params.get('state');
  const generic = ['common', 'organizations'].includes(tenantSegment.toLowerCase());
  const urlTenant = generic ? undefined : ctx.state.resolveTenant(tenantSegment);
  if (!generic && !urlTenant)
    return errorPage(
      res,
      90002,
      `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    );
  if (!clientId) return errorPage(res, 900144, "The request body must contain the following parameter: 'client_id'.");
  const app = ctx.state.findRegistration(clientId, urlTenant);
  if (!app) return applicationNotFound(res, clientId, urlTenant?.settings.name ?? tenantSegment);
  let redirect: URL;
  try {
    redirect = new URL(redirectUri);
  } catch {
    return errorPage(res, 900971, 'No reply address provided.');
  }
  if (app.redirectUris.length > 0 && !app.redirectUris.includes(redirectUri)) {
    return errorPage(
      res,
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'.`,
    );
  }
  if (params.get('response_type') !== 'code') {
    return redirectWithError(
      res,
      redirect,
      state,
      'unsupported_response_type',
      700054,
      `response_type '${params.get('response_type') ?? ''}' is not enabled for the application.`,
    );
  }
  const scopes = (params.get('scope') ?? '').split(/\s+/).filter(Boolean);
  if (!scopes.includes('openid')) {
    return redirectWithError(
      res,
      redirect,
      state,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope' with 'openid' for an OpenID Connect sign-in.",
    );
  }

  const carry: Record<string, string> = {};
  for (const key of ['client_id', 'response_type', 'redirect_uri', 'response_mode', 'scope', 'state', 'nonce']) {
    const value = params.get(key);
    if (value !== null) carry[key] = value;
  }
  // prompt=select_account always shows the picker unless the account is named (login_hint).
  const loginHint = params.get('login_hint') ?? (params.get('prompt') === 'select_account' ? undefined : sessionAccount(ctx, req));
  if (!loginHint) {
    sendAccountPicker(ctx, res, 'Sign in to your account', req.rawPath, carry);
    return;
  }
  const account = ctx.state.accountByUpn(loginHint);
  if (!account)
    return errorPage(
      res,
      50034,
      `The user account ${loginHint} does not exist in the directory. To sign into this application, the account must be added to the directory.`,
    );
  let signedInTo: Tenant = account.tenant;
  if (urlTenant && urlTenant !== account.tenant) {
    // Only a partner's administrators reach a customer tenant they are not a member of (delegated administration).
    if (!account.tenant.settings.partner) {
      return errorPage(
        res,
        50020,
        `User account '${loginHint}' from identity provider 'https://sts.windows.net/${account.tenant.tenantId}/' does not exist in tenant '${urlTenant.settings.name}' and cannot access the application '${app.clientId}'(${app.displayName}) in that tenant. The account needs to be added as an external user in the tenant first.`,
      );
    }
    signedInTo = urlTenant;
  }
  // Through /organizations the account's own directory decides: a registration of another Entra instance is unknown there.
  if (!ctx.state.findRegistration(clientId, signedInTo)) return applicationNotFound(res, clientId, signedInTo.settings.name);
  const code = `1.sim.${randomBytes(32).toString('base64url')}`;
  ctx.state.signIns.set(code, {
    clientId: app.clientId,
    redirectUri,
    nonce: params.get('nonce'),
    scopes,
    upn: account.user.userPrincipalName,
    tenantId: signedInTo.tenantId,
    homeTenantId: account.tenant.tenantId,
    expiresAtMs: ctx.now() + CODE_LIFETIME_MS,
    redeemed: false,
  });
  const session = randomBytes(24).toString('base64url');
  ctx.state.sessions.set(session, account.user.userPrincipalName);
  const location = new URL(redirect);
  location.searchParams.set('code', code);
  if (state !== null) location.searchParams.set('state', state);
  location.searchParams.set('session_state', randomBytes(16).toString('hex'));
  send(res, 302, '', { Location: location.toString(), 'Set-Cookie': `${SESSION_COOKIE}=${session}; Path=/; Secure; HttpOnly; SameSite=None` });
}
