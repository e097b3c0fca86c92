/// <reference lib="dom" />
/**
 * The Applications tab's state and what changes it: status polling (every 2.5 s while something is expected to
 * change, 10 s otherwise), the consent flows in a pop-up (connect, approve an upgrade, repair) and the operator's
 * actions (auto-upgrade, disconnect). The components (components/applications-tab.ts) render its state and call
 * its methods; it calls `onChange` when they should render again. Kept apart from the components because a consent
 * flow outlives any one render: it holds the pop-up window, its watcher and timers.
 */
import { FLOW_WORDS } from '../../../messages.ts';
import { api } from '../api-client.ts';
import { openConsentPopup, watchConsent, type ConsentEnd, type ConsentSession } from '../consent-popup.ts';
import type { HistoryEntry, MicrosoftManageApplication } from '../logic/api-types.ts';
import { describeError } from '../logic/error-message.ts';
import { hasPendingUpgrade, statusView } from '../logic/status-view.ts';
import { workProgressOf } from '../logic/work-progress.ts';

const FAST_POLL_MS = 2500;
const SLOW_POLL_MS = 10_000;
/** How long a finished consent's success notice stays once the status has moved on. */
const SUCCESS_NOTICE_MS = 8000;

export type Mode = 'view' | 'choose' | 'form';
export type FlowKind = 'connect' | 'approve' | 'repair';

export interface Flow {
  kind: FlowKind;
  session: ConsentSession | null;
  url: string | null;
  blocked: boolean;
  done: boolean;
}

export interface Notice {
  tone: 'ok' | 'error';
  text: string;
}

export class ApplicationsController {
  app: MicrosoftManageApplication | null = null;
  loaded = false;
  mode: Mode = 'view';
  flow: Flow | null = null;
  flowResult: Notice | null = null;
  history: HistoryEntry[] | null = null;
  /** The latest failure: of the status poll (cleared by the next good one) or of a request the operator made. */
  error: { text: string; fromPoll: boolean } | null = null;
  /** Results of the operator's own actions (auto-upgrade, disconnect). */
  actionResult: Notice | null = null;
  /** The flow whose request is on its way (its button stays disabled). */
  requesting: FlowKind | null = null;
  /** The auto-upgrade the operator asked for, shown until the status says it (null: the status's). */
  autoUpgradeWanted: boolean | null = null;
  autoUpgradeBusy = false;
  disconnect: { confirming: boolean; busy: boolean; error: string | null } = { confirming: false, busy: false, error: null };
  /** A control (data-focus-key) to focus after the next render: the first control of a step the operator opened. */
  focusKey: string | null = null;

  private disposed = false;
  private lastJson = '';
  private flowDoneAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Each pollSoon() starts a new polling chain; older chains stop at their next step (never two timers). */
  private pollGeneration = 0;

  constructor(
    readonly orgId: string,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    void this.refresh().then(() => {
      this.changed();
      this.schedule(this.pollGeneration);
    });
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.flow?.session?.dispose();
  }

  private changed(): void {
    if (!this.disposed) this.onChange();
  }

  // -- status --------------------------------------------------------------------------------------------------

  async refresh(): Promise<void> {
    try {
      const next = await api.getApplication(this.orgId);
      if (this.disposed) return;
      this.loaded = true;
      const json = JSON.stringify(next);
      if (this.error?.fromPoll) this.error = null;
      if (json !== this.lastJson) {
        this.lastJson = json;
        this.app = next;
        if (this.autoUpgradeWanted !== null && next?.autoUpgrade === this.autoUpgradeWanted) this.autoUpgradeWanted = null;
        // A success notice of a finished consent gives way once the status has moved on.
        if (this.flowResult?.tone === 'ok' && this.flow?.done && Date.now() - this.flowDoneAt > SUCCESS_NOTICE_MS) this.flowResult = null;
        this.history = null;
        this.checkFlowByStatus();
        void this.loadHistory();
      }
    } catch (error) {
      if (this.disposed) return;
      this.error = { text: describeError(error), fromPoll: true };
      this.loaded = true;
    }
    this.changed();
  }

  private async loadHistory(): Promise<void> {
    try {
      const entries = await api.history(this.orgId);
      if (this.disposed) return;
      this.history = entries;
      this.changed();
    } catch {
      // The History tab shows the error; here the summary is optional.
    }
  }

  private schedule(generation: number): void {
    if (this.disposed || generation !== this.pollGeneration) return;
    const working = workProgressOf(this.app?.sources, Date.now()).some((w) => w.running);
    const fast = (this.flow !== null && !this.flow.done) || statusView(this.app).transient || working;
    this.timer = setTimeout(
      async () => {
        await this.refresh();
        this.schedule(generation);
      },
      fast ? FAST_POLL_MS : SLOW_POLL_MS,
    );
  }

  pollSoon(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.pollGeneration += 1;
    const generation = this.pollGeneration;
    void this.refresh().then(() => this.schedule(generation));
  }

  // -- steps -----------------------------------------------------------------------------------------------------

  /** Moves the connection flow to `next`, focusing that step's first control. */
  setMode(next: Mode, focusKey: string | null = null): void {
    this.mode = next;
    if (next !== 'view') this.flowResult = null;
    this.focusKey = focusKey;
    this.changed();
  }

  // -- consent flow ----------------------------------------------------------------------------------------------

  startConnect(body: { autoUpgrade: boolean; cloud: string; tenant?: string }): void {
    void this.startFlow('connect', () => api.connect(this.orgId, body));
  }
  startApprove(): void {
    void this.startFlow('approve', () => api.approveUpgrade(this.orgId));
  }
  startRepair(): void {
    void this.startFlow('repair', () => api.repair(this.orgId));
  }

  private async startFlow(kind: FlowKind, request: () => Promise<{ consentUrl: string }>): Promise<void> {
    this.error = null;
    this.actionResult = null;
    this.flow?.session?.dispose();
    // Open the window inside the click so popup blockers see the user's gesture; point it at Microsoft afterwards.
    let popup: Window | null = null;
    try {
      popup = window.open('about:blank', 'm365-consent', 'popup=yes,width=620,height=720,resizable=yes,scrollbars=yes');
    } catch {
      popup = null;
    }
    this.requesting = kind;
    const current: Flow = { kind, session: null, url: null, blocked: popup === null, done: false };
    this.flow = current;
    this.flowResult = null;
    this.changed();
    let consentUrl: string;
    try {
      consentUrl = (await request()).consentUrl;
    } catch (error) {
      popup?.close();
      this.flow = null;
      this.requesting = null;
      this.error = { text: describeError(error), fromPoll: false };
      this.changed();
      return;
    }
    if (this.disposed) {
      popup?.close();
      return;
    }
    this.requesting = null;
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
    current.session = popup ? watchConsent(popup, this.orgId) : openConsentPopup(consentUrl, this.orgId);
    current.blocked = current.session.popup === null;
    if (kind === 'connect') this.mode = 'view';
    this.changed();
    this.pollSoon();
    void current.session.ended.then((end) => this.finishFlow(current, end));
  }

  focusPopup(): void {
    try {
      this.flow?.session?.popup?.focus();
    } catch {
      /* closed */
    }
  }

  private finishFlow(current: Flow, end: ConsentEnd): void {
    if (this.disposed || this.flow !== current || current.done) return;
    if (end.kind === 'message') {
      current.done = true;
      if (end.message.ok) this.setFlowResult('ok', end.message.message ?? FLOW_WORDS[current.kind].success);
      else
        this.setFlowResult(
          'error',
          `Consent was not completed. ${end.message.message ?? 'The administrator cancelled or Microsoft refused the consent.'} You can try again.`,
        );
      this.pollSoon();
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
    void this.refresh().then(() => {
      if (this.disposed || this.flow !== current || current.done) return;
      current.done = true;
      const pageSaysOk = end.kind === 'landed' && end.httpStatus !== null ? end.httpStatus < 400 : null;
      if (pageSaysOk ?? this.consentSucceededByStatus(current.kind)) this.setFlowResult('ok', FLOW_WORDS[current.kind].success);
      else if (end.kind === 'landed')
        this.setFlowResult('error', `Consent was not completed. ${[end.title, end.text].filter(Boolean).join(': ')} You can try again.`);
      else
        this.setFlowResult(
          'error',
          `Consent was not completed: the consent window was closed before the administrator accepted. Try again to ${FLOW_WORDS[current.kind].action}.`,
        );
    });
  }

  /** With the fallback link there is no window to watch: the status tells when the consent went through. */
  private checkFlowByStatus(): void {
    const flow = this.flow;
    if (!flow || flow.done || flow.url === null || !flow.blocked) return;
    if (this.consentSucceededByStatus(flow.kind)) {
      flow.session?.dispose();
      flow.done = true;
      this.setFlowResult('ok', FLOW_WORDS[flow.kind].success);
    }
  }

  private consentSucceededByStatus(kind: FlowKind): boolean {
    const status = this.app?.status ?? 'not_connected';
    if (kind === 'connect') return !['not_connected', 'connecting', 'disconnected'].includes(status) && this.app?.tenantId != null;
    if (kind === 'approve') return !hasPendingUpgrade(this.app);
    return status !== 'needs_attention';
  }

  private setFlowResult(tone: Notice['tone'], text: string): void {
    this.flowResult = { tone, text };
    this.flowDoneAt = Date.now();
    this.changed();
  }

  // -- the operator's actions --------------------------------------------------------------------------------------

  async setAutoUpgrade(wanted: boolean): Promise<void> {
    this.autoUpgradeWanted = wanted;
    this.autoUpgradeBusy = true;
    this.changed();
    try {
      await api.setAutoUpgrade(this.orgId, wanted);
      this.actionResult = { tone: 'ok', text: wanted ? 'Auto-upgrade is on.' : 'Auto-upgrade is off: new permissions will wait for your approval.' };
      this.pollSoon();
    } catch (error) {
      this.autoUpgradeWanted = null;
      this.actionResult = { tone: 'error', text: describeError(error) };
    } finally {
      this.autoUpgradeBusy = false;
      this.changed();
    }
  }

  askDisconnect(confirming: boolean): void {
    this.disconnect = { confirming, busy: false, error: null };
    this.focusKey = confirming ? 'disconnect-confirm' : 'disconnect';
    this.changed();
  }

  async confirmDisconnect(): Promise<void> {
    this.disconnect = { ...this.disconnect, busy: true };
    this.changed();
    try {
      await api.disconnect(this.orgId);
      this.flow = null;
      this.flowResult = null;
      this.disconnect = { confirming: false, busy: false, error: null };
      this.actionResult = { tone: 'ok', text: 'Disconnected. Polling stopped; the data already collected stays.' };
      this.pollSoon();
    } catch (error) {
      // The question gives way to the reason; Disconnect can be asked again.
      this.disconnect = { confirming: false, busy: false, error: describeError(error) };
    }
    this.changed();
  }
}
