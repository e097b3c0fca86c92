/// <reference lib="dom" />
/**
 * The cards of a Microsoft Manage application (Applications tab): status with reason and remedy, a pending
 * permission upgrade, auto-upgrade, the data sources, the permissions and disconnect. Each renders what the pure
 * logic (logic/status-view.ts) makes of the status answer; actions go to the tab's controller.
 */
import type { MicrosoftManageApplication } from '../logic/api-types.ts';
import { CLOUD_LABELS, formatCount, formatTime, formatTimeShort, shorten } from '../logic/format.ts';
import { pendingRoles, permissionRows, sourceRow, sourceRows, type StatusView } from '../logic/status-view.ts';
import type { ApplicationsController } from '../views/applications-controller.ts';
import { Badge, ErrorBanner, Fact } from './basics.ts';
import { html } from './html.ts';

type Props = { a: MicrosoftManageApplication; c: ApplicationsController };

export function StatusCard({ a, view, actions }: { a: MicrosoftManageApplication; view: StatusView; actions: unknown }) {
  return html`<section class="card status-card" aria-labelledby="app-status-h" data-testid="application-status" data-status=${view.status}>
    <div class="card-head"><h3 id="app-status-h">Microsoft Manage</h3><${Badge} text=${view.label} tone=${view.tone} /></div>
    ${
      view.status === 'waiting_for_first_events'
        ? html`<p>Connected. Waiting for the first events from Microsoft; first connectivity usually takes 30–60 seconds and data a few minutes.</p>`
        : null
    }
    ${view.reason ? html`<p class="reason"><strong>Reason: </strong>${view.reason}</p>` : null}
    ${
      view.stalls.length
        ? html`<ul class="stalls" data-testid="pipeline-stalls">
            ${view.stalls.map((s) => html`<li data-stage=${s.stage} data-since=${s.since}>${s.text}</li>`)}
          </ul>`
        : null
    }
    ${view.remedy ? html`<p class="remedy"><strong>What to do: </strong>${view.remedy}</p>` : null}
    <dl class="facts">
      <${Fact} term="Tenant">${a.tenantId ? html`<code>${a.tenantId}</code>` : 'not pinned yet'}<//>
      <${Fact} term="Cloud">${CLOUD_LABELS[a.cloud ?? ''] ?? a.cloud ?? '—'}<//>
      <${Fact} term="Connected">${formatTime(a.connectedAt)}<//>
      <${Fact} term="First event">${formatTime(a.firstEventAt)}<//>
      <${Fact} term="Last event">${formatTime(a.lastEventAt)}<//>
    </dl>
    ${actions}
  </section>`;
}

/** The Repair button of the status card. */
export function RepairButton({ c }: { c: ApplicationsController }) {
  return html`<button type="button" class="primary" data-focus-key="repair" disabled=${c.requesting === 'repair'} onClick=${() => c.startRepair()}>Repair</button>`;
}

export function PendingUpgradeCard({ a, c }: Props) {
  const roles = pendingRoles(a);
  const pausedRaw = a.pendingUpgrade?.pausedSources;
  const paused = Array.isArray(pausedRaw)
    ? pausedRaw.filter((x): x is string => typeof x === 'string').map((n) => sourceRow({ name: n, state: 'paused' }).label)
    : [];
  return html`<section class="card attention" aria-labelledby="pending-h" data-testid="pending-upgrade">
    <h3 id="pending-h">Pending permission upgrade</h3>
    <p>
      ${
        typeof a.pendingUpgrade?.why === 'string'
          ? a.pendingUpgrade.why
          : 'A newer version needs more Microsoft permissions. Sources that need them are paused until an administrator approves; the others keep flowing.'
      }
    </p>
    ${roles.length ? html`<p><strong>Permissions to approve:</strong></p><ul class="role-list">${roles.map((r) => html`<li><code>${r}</code></li>`)}</ul>` : null}
    ${paused.length ? html`<p><strong>Paused until approved: </strong>${paused.join(', ')}</p>` : null}
    <div class="actions">
      <button type="button" class="primary" data-focus-key="approve" disabled=${c.requesting === 'approve'} onClick=${() => c.startApprove()}>Approve</button>
      <span class="hint">Opens Microsoft’s consent page in a pop-up. Sign in as a Global Administrator of the customer tenant.</span>
    </div>
  </section>`;
}

export function AutoUpgradeCard({ a, c }: Props) {
  const checked = c.autoUpgradeWanted ?? a.autoUpgrade === true;
  return html`<section class="card" aria-labelledby="auto-upgrade-h">
    <h3 id="auto-upgrade-h">Permissions Auto-Upgrade</h3>
    <div class="field checkbox-field">
      <input
        id="auto-upgrade"
        type="checkbox"
        checked=${checked}
        disabled=${c.autoUpgradeBusy}
        data-focus-key="auto-upgrade"
        aria-describedby="auto-upgrade-note"
        onChange=${(e: Event) => void c.setAutoUpgrade((e.currentTarget as HTMLInputElement).checked)}
      />
      <label for="auto-upgrade">Enable Permissions Auto-Upgrade</label>
    </div>
    <p id="auto-upgrade-note" class="hint">
      This governs authorization only: when a newer version needs more Microsoft permissions, auto-upgrade grants them to the application by itself; when off, the upgrade waits here for an administrator to approve. It does not change which data is collected.
    </p>
  </section>`;
}

export function SourcesCard({ a }: { a: MicrosoftManageApplication }) {
  const rows = sourceRows(a);
  return html`<section class="card" aria-labelledby="sources-h">
    <h3 id="sources-h">Data sources</h3>
    ${
      rows.length === 0
        ? html`<p class="muted">No source has reported yet.</p>`
        : html`<table class="data-table responsive" aria-labelledby="sources-h">
            <thead><tr>${['Source', 'State', 'Details', 'Last event', 'Events (24 h)'].map((t) => html`<th scope="col">${t}</th>`)}</tr></thead>
            <tbody>
              ${rows.map(
                (r) => html`<tr key=${r.name} data-source=${r.name}>
                  <th scope="row" data-label="Source">${r.label}<div class="muted small"><code>${r.name}</code></div></th>
                  <td data-label="State"><${Badge} text=${r.stateLabel} tone=${r.tone} /></td>
                  <td data-label="Details" title=${r.detail && r.detail.length > 180 ? r.detail : undefined}>
                    ${r.detail ? shorten(r.detail) : '—'}
                    ${
                      r.gaps.length > 0
                        ? html`<ul class="gaps small" aria-label="Data not served by Microsoft">${r.gaps.slice(0, 3).map((g) => html`<li>${g}</li>`)}</ul>`
                        : null
                    }
                  </td>
                  <td data-label="Last event" class="nowrap" title=${formatTime(r.lastEventAt)}>${formatTimeShort(r.lastEventAt)}</td>
                  <td data-label="Events (24 h)" class="num">${formatCount(r.events24h)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}

export function PermissionsCard({ a }: { a: MicrosoftManageApplication }) {
  const perms = permissionRows(a);
  const granted = perms.filter((p) => p.granted).length;
  return html`<section class="card" aria-labelledby="perms-h">
    <h3 id="perms-h">Permissions</h3>
    <p>${granted} of ${perms.length} required application permissions granted.</p>
    ${
      perms.length
        ? html`<table class="data-table" aria-labelledby="perms-h">
            <thead><tr><th scope="col">Permission</th><th scope="col">Required</th><th scope="col">Granted</th></tr></thead>
            <tbody>
              ${perms.map(
                (p) => html`<tr key=${p.role} data-role=${p.role}>
                  <th scope="row"><code>${p.role}</code></th>
                  <td>Yes</td>
                  <td>${p.granted ? html`<${Badge} text="Granted" tone="ok" />` : html`<${Badge} text="Missing" tone="error" />`}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : null
    }
  </section>`;
}

export function DisconnectCard({ c }: { c: ApplicationsController }) {
  const d = c.disconnect;
  return html`<section class="card" aria-labelledby="disconnect-h">
    <h3 id="disconnect-h">Disconnect</h3>
    <p>Stops collecting from this tenant. Events already collected stay.</p>
    <button type="button" class="danger" data-focus-key="disconnect" onClick=${() => c.askDisconnect(true)}>Disconnect</button>
    <div aria-live="polite">
      ${
        d.confirming
          ? html`<div class="confirm" role="group" aria-label="Confirm disconnect">
              <p>Disconnect this tenant? Polling stops; events already collected stay searchable.</p>
              <button type="button" class="danger" data-focus-key="disconnect-confirm" disabled=${d.busy} onClick=${() => void c.confirmDisconnect()}>Yes, disconnect</button>
              <button type="button" onClick=${() => c.askDisconnect(false)}>Keep connected</button>
            </div>`
          : d.error
            ? html`<${ErrorBanner} text=${d.error} />`
            : null
      }
    </div>
  </section>`;
}
