import type { ServerResponse } from 'node:http';
import { resourceOfRole } from '../app-roles.ts';
import type { SimContext } from '../context.ts';
import type { SimRequest } from '../http.ts';
import { send } from '../http.ts';
import type { Tenant } from '../tenant-state.ts';
import { sessionAccount } from './authorize.ts';
import { applicationNotFound, errorPage, escapeHtml, hiddenFields, sendAccountPicker, simPage } from './pages.ts';

/**
 * Admin consent: `/{tenant}/adminconsent` (v1) and `/{tenant}/v2.0/adminconsent`. An HTML page lets the
 * operator (or a test's browser) pick the signed-in account, then Accept or Cancel. Accept grants every
 * role the app registration declares (what `/.default` means) to the app's service principal in the
 * signed-in account's tenant — for `common`/`organizations` that can be a CSP partner's own tenant.
 */

const esc = escapeHtml;
const page = simPage;
const hidden = hiddenFields;

export async function handleAdminConsent(ctx: SimContext, req: SimRequest, res: ServerResponse, tenantSegment: string, v2: boolean): Promise<void> {
  const params = new URLSearchParams(req.url.search);
  if (req.method === 'POST') {
    for (const [k, v] of new URLSearchParams((await req.body()).toString('utf8'))) params.set(k, v);
  }
  const clientId = params.get('client_id') ?? '';
  const redirectUri = params.get('redirect_uri') ?? '';
  const state = params.get('state');
  const scope = params.get('scope') ?? '';
  const generic = ['common', 'organizations'].includes(tenantSegment.toLowerCase());

  if (v2 && tenantSegment.toLowerCase() === 'common') {
    errorPage(res, 90130, 'Application is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.');
    return;
  }
  const urlTenant = generic ? undefined : ctx.state.resolveTenant(tenantSegment);
  if (!generic && !urlTenant) {
    errorPage(res, 90002, `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    return;
  }
  if (!clientId) {
    errorPage(res, 900144, "The request body must contain the following parameter: 'client_id'.");
    return;
  }
  const app = ctx.state.findRegistration(clientId, urlTenant);
  if (!app) {
    applicationNotFound(res, clientId, urlTenant?.settings.name ?? tenantSegment);
    return;
  }
  let redirect: URL;
  try {
    redirect = new URL(redirectUri);
  } catch {
    errorPage(res, 900971, 'No reply address provided.');
    return;
  }
  if (app.redirectUris.length > 0 && !app.redirectUris.includes(redirectUri)) {
    errorPage(
      res,
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.`,
    );
    return;
  }
  if (v2 && !/\/\.default$/.test(scope.split(' ')[0] ?? '')) {
    const bad = new URL(redirect);
    bad.searchParams.set('error', 'invalid_request');
    bad.searchParams.set(
      'error_description',
      `AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. Application permissions can only be requested with the '/.default' scope.`,
    );
    if (state !== null) bad.searchParams.set('state', state);
    send(res, 302, '', { Location: bad.toString() });
    return;
  }

  const carry: Record<string, string> = { client_id: clientId, redirect_uri: redirectUri };
  if (state !== null) carry.state = state;
  if (v2) carry.scope = scope;
  // The browser session of the sign-in that came first (Microsoft's ESTSAUTH cookie), else the account picker.
  const loginHint = params.get('login_hint') ?? sessionAccount(ctx, req);

  if (!loginHint) {
    sendAccountPicker(ctx, res, 'Pick an account', req.rawPath, carry);
    return;
  }

  const account = ctx.state.accountByUpn(loginHint);
  if (!account) {
    errorPage(
      res,
      50034,
      `The user account ${loginHint} does not exist in the directory. To sign into this application, the account must be added to the directory.`,
    );
    return;
  }
  if (urlTenant && account.tenant !== urlTenant) {
    errorPage(
      res,
      50020,
      `User account '${loginHint}' from identity provider 'https://sts.windows.net/${account.tenant.tenantId}/' does not exist in tenant '${urlTenant.settings.name}' and cannot access the application '${app.clientId}'(${app.displayName}) in that tenant. The account needs to be added as an external user in the tenant first.`,
    );
    return;
  }
  if (!account.user.isAdmin) {
    errorPage(res, 90094, 'The grant requires admin permission.');
    return;
  }
  const target: Tenant = account.tenant;
  // Through /organizations the account's own directory decides: a registration of another Entra instance is unknown there.
  if (!ctx.state.findRegistration(clientId, target)) {
    applicationNotFound(res, clientId, target.settings.name);
    return;
  }
  const action = params.get('action');

  if (req.method !== 'POST' || (action !== 'accept' && action !== 'cancel')) {
    const roles = app.requiredRoles
      .map((r) => `<li data-role="${esc(r)}">${esc(r)} <small>(${esc(resourceOfRole(r)?.displayName ?? 'unknown resource')}, application)</small></li>`)
      .join('');
    const fields = hidden({ ...carry, login_hint: account.user.userPrincipalName });
    send(
      res,
      200,
      page(
        'Permissions requested',
        `<p id="account">${esc(account.user.userPrincipalName)}</p><h1>Permissions requested</h1>
<p>Accept for your organization (${esc(target.settings.name)})</p><p><b>${esc(app.displayName)}</b></p>
<p>This app would like to:</p><ul id="permissions">${roles}</ul>
<form method="post" action="${esc(req.rawPath)}" style="display:inline">${fields}<input type="hidden" name="action" value="cancel"><button type="submit" id="cancel">Cancel</button></form>
<form method="post" action="${esc(req.rawPath)}" style="display:inline">${fields}<input type="hidden" name="action" value="accept"><button type="submit" id="accept">Accept</button></form>`,
      ),
      { 'Content-Type': 'text/html; charset=utf-8' },
    );
    return;
  }

  const location = new URL(redirect);
  if (action === 'accept') {
    const now = ctx.now();
    target.revokedConsent = false;
    target.grantRoles(app.requiredRoles, now, { propagate: true });
    const sp = target.servicePrincipal;
    if (sp) sp.consentedBy = account.user.userPrincipalName;
    location.searchParams.set('admin_consent', 'True');
    location.searchParams.set('tenant', target.tenantId);
    if (state !== null) location.searchParams.set('state', state);
    if (v2) location.searchParams.set('scope', scope);
  } else if (v2) {
    location.searchParams.set('error', 'consent_required');
    location.searchParams.set('error_description', 'AADSTS65004: The resource owner or authorization server denied the request.');
    location.searchParams.set('admin_consent', 'True');
    if (state !== null) location.searchParams.set('state', state);
  } else {
    location.searchParams.set('error', 'permission_denied');
    location.searchParams.set('error_description', 'The admin canceled the request');
    if (state !== null) location.searchParams.set('state', state);
  }
  send(res, 302, '', { Location: location.toString() });
}
