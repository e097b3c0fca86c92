import type { ServerResponse } from 'node:http';
import type { SimContext } from '../context.ts';
import { send } from '../http.ts';

/** The HTML of the simulator's sign-in and consent pages (Microsoft's pages are HTML too; tests click them). */

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function simPage(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:Segoe UI,Arial,sans-serif;max-width:560px;margin:40px auto;color:#1b1b1b}
li{margin:4px 0}.box{border:1px solid #ccc;padding:24px}button{padding:6px 20px;margin-right:8px}</style></head>
<body><div class="box">${body}</div></body></html>`;
}

/** Microsoft's error page: the AADSTS code and message, no redirect to the app. */
export function errorPage(res: ServerResponse, code: number, message: string): void {
  send(
    res,
    400,
    simPage('Sign in to your account', `<h1>Sorry, but we’re having trouble signing you in.</h1><p id="error-code">AADSTS${code}: ${escapeHtml(message)}</p>`),
    { 'Content-Type': 'text/html; charset=utf-8' },
  );
}

/** AADSTS700016, as the sign-in pages show it: the application is not registered in (or not consented to by) the directory. */
export function applicationNotFound(res: ServerResponse, clientId: string, directory: string): void {
  errorPage(
    res,
    700016,
    `Application with identifier '${clientId}' was not found in the directory '${directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  );
}

export function hiddenFields(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
}

/** The account picker of the sign-in and consent pages: every tenant's administrator is a known account. */
export function sendAccountPicker(ctx: SimContext, res: ServerResponse, title: string, action: string, carry: Record<string, string>): void {
  const options = ctx.state
    .accounts()
    .map(
      (a) => `<option value="${escapeHtml(a.userPrincipalName)}">${escapeHtml(a.userPrincipalName)}${a.tenant.settings.partner ? ' (partner)' : ''}</option>`,
    )
    .join('');
  send(
    res,
    200,
    simPage(
      title,
      `<h1>Pick an account</h1><form method="get" action="${escapeHtml(action)}">${hiddenFields(carry)}
<label for="login_hint">Account</label> <select id="login_hint" name="login_hint">${options}</select>
<button type="submit" id="next">Next</button></form>`,
    ),
    { 'Content-Type': 'text/html; charset=utf-8' },
  );
}
