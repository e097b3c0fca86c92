/// <reference lib="dom" />
/**
 * Connecting an organization: the empty state, the application chooser, the Microsoft Manage form, and the notice
 * of a consent flow in progress or ended (pop-up open, blocked with the fallback link, outcome).
 */
import { FLOW_WORDS, SIGN_IN_REMINDER } from '../../../messages.ts';
import { CLOUD_LABELS } from '../logic/format.ts';
import { parseTenantInput } from '../logic/tenant-input.ts';
import type { ApplicationsController } from '../views/applications-controller.ts';
import { ErrorBanner } from './basics.ts';
import { html, useRef, useState } from './html.ts';

type C = { c: ApplicationsController };

/** Opens the chooser, focusing its tile. */
export function NewApplicationButton({ c }: C) {
  return html`<button type="button" class="primary" data-focus-key="new-application" onClick=${() => c.setMode('choose', 'tile-microsoft-manage')}>+ New Application</button>`;
}

export function ConnectAgainButton({ c }: C) {
  return html`<button type="button" class="primary" data-focus-key="connect-again" onClick=${() => c.setMode('form', 'connect-auto')}>Connect again</button>`;
}

export function EmptyState({ c }: C) {
  return html`<section class="card empty-state">
    <h3>No applications yet</h3>
    <p>Connect this organization’s Microsoft 365 tenant to start collecting audit and sign-in events.</p>
    <${NewApplicationButton} c=${c} />
  </section>`;
}

export function Chooser({ c }: C) {
  return html`<section class="card">
    <h3>New application</h3>
    <p>Choose the application to add to this organization.</p>
    <div class="tiles">
      <button type="button" class="tile" data-focus-key="tile-microsoft-manage" onClick=${() => c.setMode('form', 'connect-auto')}>
        <span class="tile-logo" aria-hidden="true"><span></span><span></span><span></span><span></span></span>
        <span class="tile-title">Microsoft Manage</span>
        <span class="tile-text">Microsoft 365 audit logs and Entra ID sign-ins, audits and risk, by admin consent.</span>
      </button>
    </div>
    <div class="actions"><button type="button" onClick=${() => c.setMode('view')}>Cancel</button></div>
  </section>`;
}

export function ConnectForm({ c }: C) {
  const [autoUpgrade, setAutoUpgrade] = useState(true);
  const [tenant, setTenant] = useState('');
  const [cloud, setCloud] = useState('commercial');
  const [fieldError, setFieldError] = useState<string | null>(null);
  const tenantInput = useRef<HTMLInputElement>(null);
  const submit = (event: Event) => {
    event.preventDefault();
    const parsed = parseTenantInput(tenant);
    if ('error' in parsed) {
      setFieldError(parsed.error);
      tenantInput.current?.focus();
      return;
    }
    setFieldError(null);
    c.startConnect({ autoUpgrade, cloud, ...(parsed.tenant ? { tenant: parsed.tenant } : {}) });
  };
  const value = (e: Event) => (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;
  return html`<form class="card connect-form" onSubmit=${submit}>
    <h3>Microsoft Manage</h3>
    <div class="field checkbox-field">
      <input id="connect-auto" name="autoUpgrade" type="checkbox" checked=${autoUpgrade} data-focus-key="connect-auto" aria-describedby="connect-auto-note"
        onChange=${(e: Event) => setAutoUpgrade((e.currentTarget as HTMLInputElement).checked)} />
      <label for="connect-auto">Enable Auto-Upgrade (Recommended)</label>
    </div>
    <p id="connect-auto-note" class="hint">
      When a new version needs more Microsoft permissions, they are granted automatically instead of waiting for your approval. This governs authorization only.
    </p>
    <div class="field">
      <label for="connect-tenant">Tenant ID or domain (optional)</label>
      <input id="connect-tenant" name="tenant" type="text" autocomplete="off" spellcheck="false" aria-describedby="connect-tenant-hint"
        placeholder="contoso.onmicrosoft.com" ref=${tenantInput} value=${tenant} aria-invalid=${fieldError ? 'true' : undefined}
        onInput=${(e: Event) => setTenant(value(e))} />
      <p id="connect-tenant-hint" class="hint">Pins the connection to this tenant. Leave empty to pin the tenant of the administrator who consents.</p>
    </div>
    <div class="field">
      <label for="connect-cloud">Microsoft cloud</label>
      <select id="connect-cloud" name="cloud" value=${cloud} onChange=${(e: Event) => setCloud(value(e))}>
        ${Object.entries(CLOUD_LABELS).map(([v, label]) => html`<option value=${v}>${label}</option>`)}
      </select>
    </div>
    <div aria-live="polite">${fieldError ? html`<${ErrorBanner} text=${fieldError} />` : null}</div>
    <div class="actions connect-actions">
      <button type="submit" class="primary" aria-describedby="connect-reminder" data-focus-key="connect" disabled=${c.requesting === 'connect'}>Connect</button>
      <button type="button" onClick=${() => c.setMode('view')}>Cancel</button>
      <p id="connect-reminder" class="reminder" role="note">
        <strong>Sign in as a Global Administrator of the customer tenant</strong>, never with a CSP partner account. Consent from any other tenant is refused.
      </p>
    </div>
  </form>`;
}

/** A consent flow in progress (preparing, pop-up open, pop-up blocked with the link) or how it ended. */
export function FlowNotice({ c }: C) {
  const flow = c.flow;
  if (flow && !flow.done) {
    if (flow.url === null) return html`<div class="notice notice-progress" role="status">Preparing Microsoft’s consent page…</div>`;
    if (flow.blocked)
      return html`<div class="notice notice-warning" role="alert" data-testid="popup-blocked">
        <p><strong>Your browser blocked the consent pop-up window.</strong></p>
        <p>
          To allow it, click the blocked pop-up icon at the right end of the address bar and choose “Always allow pop-ups and redirects” from this site, then try again. Or open Microsoft’s consent page with this link; this page notices by itself when the consent is done:
        </p>
        <p><a href=${flow.url} target="_blank" rel="opener" class="button-link" data-testid="consent-link">Open Microsoft’s consent page</a></p>
        <p class="muted">${SIGN_IN_REMINDER}</p>
      </div>`;
    return html`<div class="notice notice-progress" role="status" data-testid="consent-waiting">
      <p>Complete the consent in the pop-up window to ${FLOW_WORDS[flow.kind].action}.</p>
      <p class="muted">${SIGN_IN_REMINDER} This page updates by itself when you are done.</p>
      <p><button type="button" class="link-button" onClick=${() => c.focusPopup()}>Show the pop-up window</button></p>
    </div>`;
  }
  const result = c.flowResult;
  if (!result) return null;
  return html`<div class=${`notice notice-${result.tone === 'ok' ? 'ok' : 'error'}`} role=${result.tone === 'ok' ? 'status' : 'alert'} data-testid="consent-result">${result.text}</div>`;
}
