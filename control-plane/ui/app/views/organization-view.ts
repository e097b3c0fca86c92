/// <reference lib="dom" />
/**
 * One organization: header, tabs (Applications, Analysis, History), the Microsoft Manage connect flow and the
 * application view. Status is polled (every 2.5 s while something is expected to change) and the consent pop-up
 * is also watched for the callback's message, so the screen goes live without a reload.
 */
import { FLOW_WORDS as FLOW_TEXT, SIGN_IN_REMINDER } from '../../../messages.ts';
import { api } from '../api-client.ts';
import { openConsentPopup, watchConsent, type ConsentEnd, type ConsentSession } from '../consent-popup.ts';
import { badge, errorBanner, h, replaceChildren, uid, type Child } from '../dom.ts';
import type { HistoryEntry, MicrosoftManageApplication } from '../logic/api-types.ts';
import { describeError } from '../logic/error-message.ts';
import { CLOUD_LABELS, formatCount, formatTime, formatTimeShort, shorten } from '../logic/format.ts';
import { hasPendingUpgrade, pendingRoles, permissionRows, sourceRow, sourceRows, statusView } from '../logic/status-view.ts';
import { parseTenantInput } from '../logic/tenant-input.ts';
import { link, type Dispose } from '../navigation.ts';
import { html, render } from '../components/html.ts';
import { WorkProgressCard } from '../components/work-progress.ts';
import { workProgressOf } from '../logic/work-progress.ts';
import { renderAnalysis } from './analysis-view.ts';

type Tab = 'applications' | 'analysis' | 'history';

const FAST_POLL_MS = 2500;
const SLOW_POLL_MS = 10_000;

export function renderOrganization(main: HTMLElement, orgId: string, tab: Tab): Dispose {
  let disposed = false;
  const title = h('h1', null, orgId);
  const headerError = h('div');
  const tabs: Array<{ id: Tab; label: string }> = [
    { id: 'applications', label: 'Applications' },
    { id: 'analysis', label: 'Analysis' },
    { id: 'history', label: 'History' },
  ];
  const content = h('div', { class: 'tab-content' });
  replaceChildren(
    main,
    h(
      'nav',
      { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
      link({ view: 'organizations' }, 'Organizations'),
      h('span', { 'aria-hidden': 'true' }, ' / '),
      h('span', null, orgId),
    ),
    title,
    headerError,
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Organization sections' },
      h(
        'ul',
        null,
        tabs.map((t) =>
          h(
            'li',
            null,
            link({ view: 'organization', orgId, tab: t.id }, t.label, t.id === tab ? { 'aria-current': 'page', class: 'tab active' } : { class: 'tab' }),
          ),
        ),
      ),
    ),
    content,
  );
  api
    .getOrganization(orgId)
    .then((org) => {
      if (disposed) return;
      title.textContent = org.name;
      const crumb = main.querySelector('.breadcrumb span:last-child');
      if (crumb) crumb.textContent = org.name;
      document.title = `${org.name} · ${tabs.find((t) => t.id === tab)?.label ?? ''} · M365 SIEM`;
    })
    .catch((error: unknown) => {
      if (!disposed) replaceChildren(headerError, errorBanner(describeError(error)));
    });

  let disposeTab: Dispose;
  if (tab === 'applications') disposeTab = renderApplications(content, orgId);
  else if (tab === 'analysis') disposeTab = renderAnalysis(content, orgId);
  else disposeTab = renderHistoryTab(content, orgId);
  return () => {
    disposed = true;
    disposeTab();
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Applications tab

type Mode = 'view' | 'choose' | 'form';
type FlowKind = 'connect' | 'approve' | 'repair';

interface Flow {
  kind: FlowKind;
  session: ConsentSession | null;
  url: string | null;
  blocked: boolean;
  done: boolean;
}

const FLOW_WORDS: Readonly<Record<FlowKind, { action: string; success: string }>> = FLOW_TEXT;

function renderApplications(container: HTMLElement, orgId: string): Dispose {
  let disposed = false;
  let app: MicrosoftManageApplication | null = null;
  let loaded = false;
  let lastJson = '';
  let mode: Mode = 'view';
  let flow: Flow | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let history: HistoryEntry[] | null = null;

  const flowBox = h('div', { class: 'flow', 'aria-live': 'polite' });
  const errorBox = h('div', { 'aria-live': 'assertive' });
  /** Results of the operator's own actions (auto-upgrade, disconnect): outside the body so a redraw keeps them. */
  const actionBox = h('div', { 'aria-live': 'polite', 'data-testid': 'action-result' });
  const body = h('div');
  replaceChildren(container, h('h2', { class: 'visually-hidden' }, 'Applications'), errorBox, flowBox, actionBox, body);

  function showError(error: unknown): void {
    replaceChildren(errorBox, errorBanner(describeError(error)));
  }
  function clearError(): void {
    replaceChildren(errorBox);
  }

  async function refresh(): Promise<void> {
    try {
      const next = await api.getApplication(orgId);
      if (disposed) return;
      loaded = true;
      const json = JSON.stringify(next);
      if (errorBox.querySelector('[data-source="poll"]')) clearError();
      if (json !== lastJson) {
        lastJson = json;
        app = next;
        // A success notice of a finished consent gives way once the status has moved on.
        if (flowResult?.tone === 'ok' && flow?.done && Date.now() - flowDoneAt > 8000) {
          flowResult = null;
          drawFlow();
        }
        history = null;
        checkFlowByStatus();
        draw();
        void loadHistory();
      }
    } catch (error) {
      if (disposed) return;
      replaceChildren(errorBox, h('div', { class: 'notice notice-error', role: 'alert', 'data-source': 'poll' }, describeError(error)));
      if (!loaded) {
        loaded = true;
        draw();
      }
    }
  }

  async function loadHistory(): Promise<void> {
    try {
      const entries = await api.history(orgId);
      if (disposed) return;
      history = entries;
      const box = body.querySelector('[data-section="history"]');
      if (box) replaceChildren(box as HTMLElement, ...historySection(history, orgId, 10));
    } catch {
      // The History tab shows the error; here the summary is optional.
    }
  }

  /** Each pollSoon() starts a new polling chain; older chains stop at their next step (never two timers). */
  let pollGeneration = 0;
  function schedule(generation: number): void {
    if (disposed || generation !== pollGeneration) return;
    const working = workProgressOf(app?.sources, Date.now()).some((w) => w.running);
    const fast = (flow !== null && !flow.done) || statusView(app).transient || working;
    timer = setTimeout(
      async () => {
        await refresh();
        schedule(generation);
      },
      fast ? FAST_POLL_MS : SLOW_POLL_MS,
    );
  }
  function pollSoon(): void {
    if (timer !== undefined) clearTimeout(timer);
    pollGeneration += 1;
    const generation = pollGeneration;
    void refresh().then(() => schedule(generation));
  }

  // -- consent flow ---------------------------------------------------------------------------------------------

  async function startFlow(kind: FlowKind, request: () => Promise<{ consentUrl: string }>, trigger: HTMLButtonElement): Promise<void> {
    clearError();
    replaceChildren(actionBox);
    flow?.session?.dispose();
    // Open the window inside the click so popup blockers see the user's gesture; point it at Microsoft afterwards.
    let popup: Window | null = null;
    try {
      popup = window.open('about:blank', 'm365-consent', 'popup=yes,width=620,height=720,resizable=yes,scrollbars=yes');
    } catch {
      popup = null;
    }
    trigger.disabled = true;
    const current: Flow = { kind, session: null, url: null, blocked: popup === null, done: false };
    flow = current;
    drawFlow();
    let consentUrl: string;
    try {
      consentUrl = (await request()).consentUrl;
    } catch (error) {
      popup?.close();
      flow = null;
      drawFlow();
      showError(error);
      trigger.disabled = false;
      return;
    }
    if (disposed) {
      popup?.close();
      return;
    }
    current.url = consentUrl;
    if (popup) {
      try {
        popup.location.href = consentUrl;
        popup.focus();
      } catch {
        popup = null;
      }
    }
    // A pop-up that could not be pre-opened gets one more direct attempt (some browsers allow it).
    current.session = popup ? watchConsent(popup, orgId) : openConsentPopup(consentUrl, orgId);
    current.blocked = current.session.popup === null;
    drawFlow();
    if (kind === 'connect') mode = 'view';
    pollSoon();
    void current.session.ended.then((end) => finishFlow(current, end));
  }

  function finishFlow(current: Flow, end: ConsentEnd): void {
    if (disposed || flow !== current || current.done) return;
    if (end.kind === 'message') {
      current.done = true;
      if (end.message.ok) setFlowResult('ok', end.message.message ?? FLOW_WORDS[current.kind].success);
      else
        setFlowResult(
          'error',
          `Consent was not completed. ${end.message.message ?? 'The administrator cancelled or Microsoft refused the consent.'} You can try again.`,
        );
      pollSoon();
      return;
    }
    // Closed, or landed on the callback page without a message: the status decides, the page's words explain.
    if (end.kind === 'landed') {
      try {
        current.session?.popup?.close();
      } catch {
        /* already closed */
      }
    }
    void refresh().then(() => {
      if (disposed || flow !== current || current.done) return;
      current.done = true;
      const pageSaysOk = end.kind === 'landed' && end.httpStatus !== null ? end.httpStatus < 400 : null;
      if (pageSaysOk ?? consentSucceededByStatus(current.kind)) setFlowResult('ok', FLOW_WORDS[current.kind].success);
      else if (end.kind === 'landed')
        setFlowResult('error', `Consent was not completed. ${[end.title, end.text].filter(Boolean).join(': ')} You can try again.`);
      else
        setFlowResult(
          'error',
          `Consent was not completed: the consent window was closed before the administrator accepted. Try again to ${FLOW_WORDS[current.kind].action}.`,
        );
      draw();
    });
  }

  /** With the fallback link there is no window to watch: the status tells when the consent went through. */
  function checkFlowByStatus(): void {
    if (!flow || flow.done || flow.url === null) return;
    if (!flow.blocked) return;
    if (consentSucceededByStatus(flow.kind)) {
      flow.session?.dispose();
      flow.done = true;
      setFlowResult('ok', FLOW_WORDS[flow.kind].success);
    }
  }

  function consentSucceededByStatus(kind: FlowKind): boolean {
    const status = app?.status ?? 'not_connected';
    if (kind === 'connect') return !['not_connected', 'connecting', 'disconnected'].includes(status) && app?.tenantId != null;
    if (kind === 'approve') return !hasPendingUpgrade(app);
    return status !== 'needs_attention';
  }

  let flowResult: { tone: 'ok' | 'error'; text: string } | null = null;
  let flowDoneAt = 0;
  function setFlowResult(tone: 'ok' | 'error', text: string): void {
    flowResult = { tone, text };
    flowDoneAt = Date.now();
    drawFlow();
    draw();
  }

  function drawFlow(): void {
    if (flow && !flow.done) {
      flowResult = null;
      if (flow.url === null) {
        replaceChildren(flowBox, h('div', { class: 'notice notice-progress', role: 'status' }, 'Preparing Microsoft’s consent page…'));
        return;
      }
      if (flow.blocked) {
        replaceChildren(
          flowBox,
          h(
            'div',
            { class: 'notice notice-warning', role: 'alert', 'data-testid': 'popup-blocked' },
            h('p', null, h('strong', null, 'Your browser blocked the consent pop-up window.')),
            h(
              'p',
              null,
              'To allow it, click the blocked pop-up icon at the right end of the address bar and choose “Always allow pop-ups and redirects” from this site, then try again. Or open Microsoft’s consent page with this link; this page notices by itself when the consent is done:',
            ),
            h(
              'p',
              null,
              h('a', { href: flow.url, target: '_blank', rel: 'opener', class: 'button-link', 'data-testid': 'consent-link' }, 'Open Microsoft’s consent page'),
            ),
            h('p', { class: 'muted' }, SIGN_IN_REMINDER),
          ),
        );
        return;
      }
      replaceChildren(
        flowBox,
        h(
          'div',
          { class: 'notice notice-progress', role: 'status', 'data-testid': 'consent-waiting' },
          h('p', null, `Complete the consent in the pop-up window to ${FLOW_WORDS[flow.kind].action}.`),
          h('p', { class: 'muted' }, `${SIGN_IN_REMINDER} This page updates by itself when you are done.`),
          h(
            'p',
            null,
            h(
              'button',
              {
                type: 'button',
                class: 'link-button',
                onclick: () => {
                  try {
                    flow?.session?.popup?.focus();
                  } catch {
                    /* closed */
                  }
                },
              },
              'Show the pop-up window',
            ),
          ),
        ),
      );
      return;
    }
    if (flowResult) {
      replaceChildren(
        flowBox,
        h(
          'div',
          {
            class: `notice notice-${flowResult.tone === 'ok' ? 'ok' : 'error'}`,
            role: flowResult.tone === 'ok' ? 'status' : 'alert',
            'data-testid': 'consent-result',
          },
          flowResult.text,
        ),
      );
    } else replaceChildren(flowBox);
  }

  // -- drawing ---------------------------------------------------------------------------------------------------

  /** Rebuilds the body, keeping keyboard focus on the same control when it still exists. */
  function draw(): void {
    if (disposed) return;
    const focusKey = (document.activeElement as HTMLElement | null)?.dataset?.focusKey;
    replaceChildren(body, ...bodyContent());
    if (focusKey) (body.querySelector(`[data-focus-key="${focusKey}"]`) as HTMLElement | null)?.focus();
  }

  function bodyContent(): Child[] {
    if (!loaded) return [h('p', { class: 'muted' }, 'Loading…')];
    const view = statusView(app);
    if (view.showConnect && mode === 'choose') return [chooser()];
    if ((view.showConnect || view.canReconnect) && mode === 'form') return [connectForm()];
    if (!app || app.status === 'not_connected') {
      return [
        h(
          'section',
          { class: 'card empty-state' },
          h('h3', null, 'No applications yet'),
          h('p', null, 'Connect this organization’s Microsoft 365 tenant to start collecting audit and sign-in events.'),
          newApplicationButton(),
        ),
      ];
    }
    return applicationView(app);
  }

  /** A button that moves the connection flow to `next` and focus to that step's first control. */
  function flowButton(label: string, focusKey: string, next: Mode, focusSelector: string): HTMLButtonElement {
    return h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-focus-key': focusKey,
        onclick: () => {
          mode = next;
          flowResult = null;
          drawFlow();
          draw();
          (body.querySelector(focusSelector) as HTMLElement | null)?.focus();
        },
      },
      label,
    );
  }

  function newApplicationButton(): HTMLButtonElement {
    return flowButton('+ New Application', 'new-application', 'choose', '[data-focus-key="tile-microsoft-manage"]');
  }

  function chooser(): HTMLElement {
    return h(
      'section',
      { class: 'card' },
      h('h3', null, 'New application'),
      h('p', null, 'Choose the application to add to this organization.'),
      h(
        'div',
        { class: 'tiles' },
        h(
          'button',
          {
            type: 'button',
            class: 'tile',
            'data-focus-key': 'tile-microsoft-manage',
            onclick: () => {
              mode = 'form';
              draw();
              (body.querySelector('input[name="autoUpgrade"]') as HTMLElement | null)?.focus();
            },
          },
          h('span', { class: 'tile-logo', 'aria-hidden': 'true' }, h('span', null), h('span', null), h('span', null), h('span', null)),
          h('span', { class: 'tile-title' }, 'Microsoft Manage'),
          h('span', { class: 'tile-text' }, 'Microsoft 365 audit logs and Entra ID sign-ins, audits and risk, by admin consent.'),
        ),
      ),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              mode = 'view';
              draw();
            },
          },
          'Cancel',
        ),
      ),
    );
  }

  function connectForm(): HTMLElement {
    const autoId = uid('auto');
    const tenantId = uid('tenant');
    const tenantHint = uid('tenant-hint');
    const cloudId = uid('cloud');
    const reminderId = uid('reminder');
    const fieldError = h('div', { 'aria-live': 'polite' });
    const auto = h('input', { id: autoId, name: 'autoUpgrade', type: 'checkbox', checked: true, 'aria-describedby': `${autoId}-note` });
    const tenant = h('input', {
      id: tenantId,
      name: 'tenant',
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': tenantHint,
      placeholder: 'contoso.onmicrosoft.com',
    });
    const cloud = h(
      'select',
      { id: cloudId, name: 'cloud' },
      Object.entries(CLOUD_LABELS).map(([value, label]) => h('option', { value, selected: value === 'commercial' }, label)),
    );
    const connect = h('button', { type: 'submit', class: 'primary', 'aria-describedby': reminderId, 'data-focus-key': 'connect' }, 'Connect');
    return h(
      'form',
      {
        class: 'card connect-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const parsed = parseTenantInput(tenant.value);
          if ('error' in parsed) {
            replaceChildren(fieldError, errorBanner(parsed.error));
            tenant.setAttribute('aria-invalid', 'true');
            tenant.focus();
            return;
          }
          tenant.removeAttribute('aria-invalid');
          replaceChildren(fieldError);
          const body = { autoUpgrade: auto.checked, cloud: cloud.value, ...(parsed.tenant ? { tenant: parsed.tenant } : {}) };
          void startFlow('connect', () => api.connect(orgId, body), connect).finally(() => {
            if (!disposed && flow?.url == null) connect.disabled = false;
          });
        },
      },
      h('h3', null, 'Microsoft Manage'),
      h('div', { class: 'field checkbox-field' }, auto, h('label', { for: autoId }, 'Enable Auto-Upgrade (Recommended)')),
      h(
        'p',
        { id: `${autoId}-note`, class: 'hint' },
        'When a new version needs more Microsoft permissions, they are granted automatically instead of waiting for your approval. This governs authorization only.',
      ),
      h(
        'div',
        { class: 'field' },
        h('label', { for: tenantId }, 'Tenant ID or domain (optional)'),
        tenant,
        h('p', { id: tenantHint, class: 'hint' }, 'Pins the connection to this tenant. Leave empty to pin the tenant of the administrator who consents.'),
      ),
      h('div', { class: 'field' }, h('label', { for: cloudId }, 'Microsoft cloud'), cloud),
      fieldError,
      h(
        'div',
        { class: 'actions connect-actions' },
        connect,
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              mode = 'view';
              draw();
            },
          },
          'Cancel',
        ),
        h(
          'p',
          { id: reminderId, class: 'reminder', role: 'note' },
          h('strong', null, 'Sign in as a Global Administrator of the customer tenant'),
          ', never with a CSP partner account. Consent from any other tenant is refused.',
        ),
      ),
    );
  }

  function applicationView(a: MicrosoftManageApplication): Child[] {
    const view = statusView(a, (iso) => formatTime(iso));
    const out: Child[] = [];

    // Status
    const buttons: Child[] = [];
    if (view.showRepair) {
      const repair: HTMLButtonElement = h(
        'button',
        { type: 'button', class: 'primary', 'data-focus-key': 'repair', onclick: () => void startFlow('repair', () => api.repair(orgId), repair) },
        'Repair',
      );
      buttons.push(repair);
    }
    if (view.showConnect) buttons.push(newApplicationButton());
    if (view.canReconnect && (flow === null || flow.done)) {
      buttons.push(flowButton('Connect again', 'connect-again', 'form', 'input[name="autoUpgrade"]'));
    }
    out.push(
      h(
        'section',
        { class: 'card status-card', 'aria-labelledby': 'app-status-h', 'data-testid': 'application-status', 'data-status': view.status },
        h('div', { class: 'card-head' }, h('h3', { id: 'app-status-h' }, 'Microsoft Manage'), badge(view.label, view.tone)),
        view.status === 'waiting_for_first_events'
          ? h('p', null, 'Connected. Waiting for the first events from Microsoft; first connectivity usually takes 30–60 seconds and data a few minutes.')
          : null,
        view.reason ? h('p', { class: 'reason' }, h('strong', null, 'Reason: '), view.reason) : null,
        view.stalls.length
          ? h(
              'ul',
              { class: 'stalls', 'data-testid': 'pipeline-stalls' },
              view.stalls.map((s) => h('li', { 'data-stage': s.stage, 'data-since': s.since }, s.text)),
            )
          : null,
        view.remedy ? h('p', { class: 'remedy' }, h('strong', null, 'What to do: '), view.remedy) : null,
        h(
          'dl',
          { class: 'facts' },
          fact('Tenant', a.tenantId ? h('code', null, a.tenantId) : 'not pinned yet'),
          fact('Cloud', CLOUD_LABELS[a.cloud ?? ''] ?? a.cloud ?? '—'),
          fact('Connected', formatTime(a.connectedAt)),
          fact('First event', formatTime(a.firstEventAt)),
          fact('Last event', formatTime(a.lastEventAt)),
        ),
        buttons.length ? h('div', { class: 'actions' }, buttons) : null,
      ),
    );

    // Pending upgrade
    if (hasPendingUpgrade(a)) {
      const roles = pendingRoles(a);
      const pausedRaw = a.pendingUpgrade?.pausedSources;
      const paused = Array.isArray(pausedRaw)
        ? pausedRaw.filter((x): x is string => typeof x === 'string').map((n) => sourceRow({ name: n, state: 'paused' }).label)
        : [];
      const approve: HTMLButtonElement = h(
        'button',
        { type: 'button', class: 'primary', 'data-focus-key': 'approve', onclick: () => void startFlow('approve', () => api.approveUpgrade(orgId), approve) },
        'Approve',
      );
      out.push(
        h(
          'section',
          { class: 'card attention', 'aria-labelledby': 'pending-h', 'data-testid': 'pending-upgrade' },
          h('h3', { id: 'pending-h' }, 'Pending permission upgrade'),
          h(
            'p',
            null,
            typeof a.pendingUpgrade?.why === 'string'
              ? a.pendingUpgrade.why
              : 'A newer version needs more Microsoft permissions. Sources that need them are paused until an administrator approves; the others keep flowing.',
          ),
          roles.length ? h('p', null, h('strong', null, 'Permissions to approve:')) : null,
          roles.length
            ? h(
                'ul',
                { class: 'role-list' },
                roles.map((r) => h('li', null, h('code', null, r))),
              )
            : null,
          paused.length ? h('p', null, h('strong', null, 'Paused until approved: '), paused.join(', ')) : null,
          h(
            'div',
            { class: 'actions' },
            approve,
            h('span', { class: 'hint' }, 'Opens Microsoft’s consent page in a pop-up. Sign in as a Global Administrator of the customer tenant.'),
          ),
        ),
      );
    }

    // Back-fill and re-fetch progress (a component in a container of its own, decision 0180)
    const work = workProgressOf(a.sources, Date.now());
    if (work.length > 0) {
      const box = h('div', { class: 'work-box' });
      render(html`<${WorkProgressCard} items=${work} />`, box);
      out.push(box);
    }

    // Auto-upgrade
    if (view.showDisconnect) out.push(autoUpgradeSection(a));

    // Sources
    const rows = sourceRows(a);
    out.push(
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'sources-h' },
        h('h3', { id: 'sources-h' }, 'Data sources'),
        rows.length === 0
          ? h('p', { class: 'muted' }, 'No source has reported yet.')
          : h(
              'table',
              { class: 'data-table responsive', 'aria-labelledby': 'sources-h' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['Source', 'State', 'Details', 'Last event', 'Events (24 h)'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h(
                'tbody',
                null,
                rows.map((r) =>
                  h(
                    'tr',
                    { 'data-source': r.name },
                    h('th', { scope: 'row', 'data-label': 'Source' }, r.label, h('div', { class: 'muted small' }, h('code', null, r.name))),
                    h('td', { 'data-label': 'State' }, badge(r.stateLabel, r.tone)),
                    h(
                      'td',
                      { 'data-label': 'Details', title: r.detail && r.detail.length > 180 ? r.detail : null },
                      r.detail ? shorten(r.detail) : '—',
                      r.gaps.length > 0
                        ? h(
                            'ul',
                            { class: 'gaps small', 'aria-label': 'Data not served by Microsoft' },
                            r.gaps.slice(0, 3).map((g) => h('li', null, g)),
                          )
                        : null,
                    ),
                    h('td', { 'data-label': 'Last event', class: 'nowrap', title: formatTime(r.lastEventAt) }, formatTimeShort(r.lastEventAt)),
                    h('td', { 'data-label': 'Events (24 h)', class: 'num' }, formatCount(r.events24h)),
                  ),
                ),
              ),
            ),
      ),
    );

    // Permissions
    const perms = permissionRows(a);
    const grantedCount = perms.filter((p) => p.granted).length;
    out.push(
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'perms-h' },
        h('h3', { id: 'perms-h' }, 'Permissions'),
        h('p', null, `${grantedCount} of ${perms.length} required application permissions granted.`),
        perms.length
          ? h(
              'table',
              { class: 'data-table', 'aria-labelledby': 'perms-h' },
              h(
                'thead',
                null,
                h('tr', null, h('th', { scope: 'col' }, 'Permission'), h('th', { scope: 'col' }, 'Required'), h('th', { scope: 'col' }, 'Granted')),
              ),
              h(
                'tbody',
                null,
                perms.map((p) =>
                  h(
                    'tr',
                    { 'data-role': p.role },
                    h('th', { scope: 'row' }, h('code', null, p.role)),
                    h('td', null, 'Yes'),
                    h('td', null, p.granted ? badge('Granted', 'ok') : badge('Missing', 'error')),
                  ),
                ),
              ),
            )
          : null,
      ),
    );

    // Disconnect
    if (view.showDisconnect) out.push(disconnectSection());

    out.push(h('section', { class: 'card', 'aria-labelledby': 'history-h', 'data-section': 'history' }, ...historySection(history, orgId, 10)));
    return out;
  }

  function autoUpgradeSection(a: MicrosoftManageApplication): HTMLElement {
    const id = uid('auto-upgrade');
    const box = h('input', {
      id,
      type: 'checkbox',
      checked: a.autoUpgrade === true,
      'data-focus-key': 'auto-upgrade',
      'aria-describedby': `${id}-note`,
      onchange: async () => {
        const wanted = box.checked;
        box.disabled = true;
        try {
          await api.setAutoUpgrade(orgId, wanted);
          replaceChildren(
            actionBox,
            h(
              'p',
              { class: 'notice notice-ok', role: 'status' },
              wanted ? 'Auto-upgrade is on.' : 'Auto-upgrade is off: new permissions will wait for your approval.',
            ),
          );
          pollSoon();
        } catch (error) {
          box.checked = !wanted;
          replaceChildren(actionBox, errorBanner(describeError(error)));
        } finally {
          box.disabled = false;
        }
      },
    });
    return h(
      'section',
      { class: 'card', 'aria-labelledby': `${id}-h` },
      h('h3', { id: `${id}-h` }, 'Permissions Auto-Upgrade'),
      h('div', { class: 'field checkbox-field' }, box, h('label', { for: id }, 'Enable Permissions Auto-Upgrade')),
      h(
        'p',
        { id: `${id}-note`, class: 'hint' },
        'This governs authorization only: when a newer version needs more Microsoft permissions, auto-upgrade grants them to the application by itself; when off, the upgrade waits here for an administrator to approve. It does not change which data is collected.',
      ),
    );
  }

  function disconnectSection(): HTMLElement {
    const region = h('div', { 'aria-live': 'polite' });
    const ask: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-focus-key': 'disconnect',
        onclick: () => {
          const confirm: HTMLButtonElement = h(
            'button',
            {
              type: 'button',
              class: 'danger',
              onclick: async () => {
                confirm.disabled = true;
                try {
                  await api.disconnect(orgId);
                  flow = null;
                  flowResult = null;
                  drawFlow();
                  replaceChildren(
                    actionBox,
                    h('p', { class: 'notice notice-ok', role: 'status' }, 'Disconnected. Polling stopped; the data already collected stays.'),
                  );
                  pollSoon();
                } catch (error) {
                  replaceChildren(region, errorBanner(describeError(error)));
                }
              },
            },
            'Yes, disconnect',
          );
          replaceChildren(
            region,
            h(
              'div',
              { class: 'confirm', role: 'group', 'aria-label': 'Confirm disconnect' },
              h('p', null, 'Disconnect this tenant? Polling stops; events already collected stay searchable.'),
              confirm,
              h(
                'button',
                {
                  type: 'button',
                  onclick: () => {
                    replaceChildren(region);
                    ask.focus();
                  },
                },
                'Keep connected',
              ),
            ),
          );
          confirm.focus();
        },
      },
      'Disconnect',
    );
    return h(
      'section',
      { class: 'card', 'aria-labelledby': 'disconnect-h' },
      h('h3', { id: 'disconnect-h' }, 'Disconnect'),
      h('p', null, 'Stops collecting from this tenant. Events already collected stay.'),
      ask,
      region,
    );
  }

  void refresh().then(() => {
    draw();
    schedule(pollGeneration);
  });
  return () => {
    disposed = true;
    if (timer !== undefined) clearTimeout(timer);
    flow?.session?.dispose();
  };
}

function fact(term: string, value: Child): Child[] {
  return [h('dt', null, term), h('dd', null, value)];
}

// ---------------------------------------------------------------------------------------------------------------
// History

function entryTime(e: HistoryEntry): string | undefined {
  return [e.at, e.time, e.timestamp, e.occurredAt as string | undefined].find((v) => typeof v === 'string');
}
function entryWho(e: HistoryEntry): string {
  const v = e.actor ?? e.who ?? (e.by as string | undefined) ?? (e.user as string | undefined);
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return String(o.label ?? o.name ?? o.role ?? o.id ?? 'system');
  }
  return 'system';
}
function entryWhat(e: HistoryEntry): string {
  const v = e.what ?? e.action ?? e.type ?? (e.event as string | undefined) ?? (e.change as string | undefined);
  return typeof v === 'string' ? v : '—';
}
function entryDetail(e: HistoryEntry): string {
  const d = e.details ?? e.detail ?? e.message ?? e.summary;
  if (d === undefined || d === null) return '';
  if (typeof d === 'string') return d;
  if (typeof d === 'object' && !Array.isArray(d)) {
    return Object.entries(d as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join('; ');
  }
  return String(d);
}

function historyTable(entries: HistoryEntry[]): HTMLElement {
  const sorted = entries.slice().sort((a, b) => (entryTime(b) ?? '').localeCompare(entryTime(a) ?? ''));
  return h(
    'table',
    { class: 'data-table responsive history' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['When', 'Who', 'What', 'Details'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      null,
      sorted.map((e) =>
        h(
          'tr',
          null,
          h('td', { 'data-label': 'When', class: 'nowrap', title: formatTime(entryTime(e)) }, formatTimeShort(entryTime(e))),
          h('td', { 'data-label': 'Who', class: 'nowrap' }, entryWho(e)),
          h('td', { 'data-label': 'What', class: 'nowrap' }, entryWhat(e)),
          h('td', { 'data-label': 'Details' }, entryDetail(e) || '—'),
        ),
      ),
    ),
  );
}

function historySection(entries: HistoryEntry[] | null, orgId: string, limit: number): Child[] {
  const heading = h('h3', { id: 'history-h' }, 'History');
  if (entries === null) return [heading, h('p', { class: 'muted' }, 'Loading history…')];
  if (entries.length === 0) return [heading, h('p', { class: 'muted' }, 'No changes recorded yet.')];
  const sorted = entries.slice().sort((a, b) => (entryTime(b) ?? '').localeCompare(entryTime(a) ?? ''));
  return [
    heading,
    historyTable(sorted.slice(0, limit)),
    sorted.length > limit ? h('p', null, link({ view: 'organization', orgId, tab: 'history' }, `All ${sorted.length} changes`)) : null,
  ];
}

function renderHistoryTab(container: HTMLElement, orgId: string): Dispose {
  let disposed = false;
  const box = h(
    'section',
    { class: 'card', 'aria-labelledby': 'history-tab-h', 'aria-busy': 'true' },
    h('h2', { id: 'history-tab-h' }, 'History'),
    h('p', { class: 'muted' }, 'Loading history…'),
  );
  replaceChildren(container, box);
  api
    .history(orgId)
    .then((entries) => {
      if (disposed) return;
      box.setAttribute('aria-busy', 'false');
      replaceChildren(
        box,
        h('h2', { id: 'history-tab-h' }, 'History'),
        h('p', null, 'Every change to this organization and its connection: who, when, what.'),
        entries.length ? historyTable(entries) : h('p', { class: 'muted' }, 'No changes recorded yet.'),
      );
    })
    .catch((error: unknown) => {
      if (!disposed) replaceChildren(box, h('h2', { id: 'history-tab-h' }, 'History'), errorBanner(describeError(error)));
    });
  return () => {
    disposed = true;
  };
}
