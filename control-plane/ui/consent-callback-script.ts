/**
 * The script the consent callback page (`GET /oauth/microsoft/callback`, rendered by the control plane) includes so
 * the operator UI that opened the consent pop-up learns the outcome at once and the pop-up closes itself. The UI
 * also polls the status endpoint, so a page without this script still works; this only makes it immediate.
 *
 * The message goes to `origin` only (the control plane's own public origin, where the UI runs), never to `*`.
 */

export interface ConsentCallbackOutcome {
  ok: boolean;
  orgId: string | null;
  /** Readable sentence shown in the UI, e.g. Microsoft's error for a declined consent. No secrets, no tokens. */
  message?: string | null;
}

/** A JSON literal safe inside an inline <script> (no `</script>`, no `<!--`, no U+2028/2029 breaking the line). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The JavaScript body (without <script> tags): posts `{type: 'm365-consent', ok, orgId, message}` to the opener on
 * `origin` and closes the window after a short pause; when there is no opener (the operator followed the fallback
 * link in a normal tab) it does nothing and the page's own text remains.
 */
export function consentCallbackScript(origin: string, outcome: ConsentCallbackOutcome): string {
  const payload = { type: 'm365-consent', ok: outcome.ok, orgId: outcome.orgId, message: outcome.message ?? null };
  return `(function(){try{var o=window.opener;if(!o||o.closed)return;o.postMessage(${scriptJson(payload)},${scriptJson(new URL(origin).origin)});setTimeout(function(){window.close();},${outcome.ok ? 600 : 2500});}catch(e){}})();`;
}

/** The same as a complete `<script>` element, optionally with a CSP nonce. */
export function consentCallbackScriptTag(origin: string, outcome: ConsentCallbackOutcome, nonce?: string): string {
  const n = nonce ? ` nonce="${nonce.replace(/[^A-Za-z0-9+/=_-]/g, '')}"` : '';
  return `<script${n}>${consentCallbackScript(origin, outcome)}</script>`;
}
