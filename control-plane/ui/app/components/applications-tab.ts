/// <reference lib="dom" />
/**
 * The Applications tab of an organization: the connect flow, then the Microsoft Manage application — status,
 * pending upgrade, back-fill and re-fetch progress, auto-upgrade, sources, permissions, disconnect and the latest
 * history. State and polling live in the controller (views/applications-controller.ts); this renders it.
 */
import type { MicrosoftManageApplication } from '../logic/api-types.ts';
import { formatTime } from '../logic/format.ts';
import { hasPendingUpgrade, statusView } from '../logic/status-view.ts';
import { workProgressOf } from '../logic/work-progress.ts';
import { ApplicationsController } from '../views/applications-controller.ts';
import { AutoUpgradeCard, DisconnectCard, PendingUpgradeCard, PermissionsCard, RepairButton, SourcesCard, StatusCard } from './application-cards.ts';
import { ErrorBanner } from './basics.ts';
import { Chooser, ConnectAgainButton, ConnectForm, EmptyState, FlowNotice, NewApplicationButton } from './connect.ts';
import { HistorySummary } from './history.ts';
import { html, useEffect, useRef, useState } from './html.ts';
import { WorkProgressCard } from './work-progress.ts';

function ApplicationView({ a, c }: { a: MicrosoftManageApplication; c: ApplicationsController }) {
  const view = statusView(a, (iso) => formatTime(iso));
  const canConnectAgain = view.canReconnect && (c.flow === null || c.flow.done);
  const buttons = [
    view.showRepair ? html`<${RepairButton} key="repair" c=${c} />` : null,
    view.showConnect ? html`<${NewApplicationButton} key="new" c=${c} />` : null,
    canConnectAgain ? html`<${ConnectAgainButton} key="again" c=${c} />` : null,
  ].filter(Boolean);
  const work = workProgressOf(a.sources, Date.now());
  return html`
    <${StatusCard} a=${a} view=${view} actions=${buttons.length ? html`<div class="actions">${buttons}</div>` : null} />
    ${hasPendingUpgrade(a) ? html`<${PendingUpgradeCard} a=${a} c=${c} />` : null}
    ${work.length > 0 ? html`<${WorkProgressCard} items=${work} />` : null}
    ${view.showDisconnect ? html`<${AutoUpgradeCard} a=${a} c=${c} />` : null}
    <${SourcesCard} a=${a} />
    <${PermissionsCard} a=${a} />
    ${view.showDisconnect ? html`<${DisconnectCard} c=${c} />` : null}
    <${HistorySummary} entries=${c.history} orgId=${c.orgId} limit=${10} />
  `;
}

function Body({ c }: { c: ApplicationsController }) {
  if (!c.loaded) return html`<p class="muted">Loading…</p>`;
  const view = statusView(c.app);
  if (view.showConnect && c.mode === 'choose') return html`<${Chooser} c=${c} />`;
  if ((view.showConnect || view.canReconnect) && c.mode === 'form') return html`<${ConnectForm} c=${c} />`;
  if (!c.app || c.app.status === 'not_connected') return html`<${EmptyState} c=${c} />`;
  return html`<${ApplicationView} a=${c.app} c=${c} />`;
}

export function ApplicationsTab({ orgId }: { orgId: string }) {
  const [, setTick] = useState(0);
  const controller = useRef<ApplicationsController | null>(null);
  const root = useRef<HTMLDivElement>(null);
  if (controller.current === null || controller.current.orgId !== orgId) controller.current = new ApplicationsController(orgId, () => setTick((t) => t + 1));
  const c = controller.current;
  useEffect(() => {
    c.start();
    return () => c.dispose();
  }, [c]);
  // A step the operator opened gets the keyboard focus on its first control, once it is on screen.
  useEffect(() => {
    if (c.focusKey === null) return;
    const target = root.current?.querySelector<HTMLElement>(`[data-focus-key="${c.focusKey}"]`);
    if (target) {
      target.focus();
      c.focusKey = null;
    }
  });
  const error = c.error;
  const action = c.actionResult;
  return html`<div ref=${root}>
    <h2 class="visually-hidden">Applications</h2>
    <div aria-live="assertive">${error ? html`<${ErrorBanner} text=${error.text} data-source=${error.fromPoll ? 'poll' : undefined} />` : null}</div>
    <div class="flow" aria-live="polite"><${FlowNotice} c=${c} /></div>
    <div aria-live="polite" data-testid="action-result">
      ${action ? (action.tone === 'ok' ? html`<p class="notice notice-ok" role="status">${action.text}</p>` : html`<${ErrorBanner} text=${action.text} />`) : null}
    </div>
    <div><${Body} c=${c} /></div>
  </div>`;
}
