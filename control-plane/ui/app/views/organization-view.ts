/// <reference lib="dom" />
/**
 * One organization: breadcrumb, name, tabs (Applications, Analysis, History) and the chosen tab, as Preact
 * components (decision 0180). The Applications tab polls the status (every 2.5 s while something is expected to
 * change) and watches the consent pop-up for the callback's message, so the screen goes live without a reload.
 */
import { api } from '../api-client.ts';
import { ApplicationsTab } from '../components/applications-tab.ts';
import { AppLink, ErrorBanner } from '../components/basics.ts';
import { HistoryTab } from '../components/history.ts';
import { html, render, useEffect, useRef, useState } from '../components/html.ts';
import { describeError } from '../logic/error-message.ts';
import type { Dispose } from '../navigation.ts';
import { renderAnalysis } from './analysis-view.ts';

type Tab = 'applications' | 'analysis' | 'history';

const TABS: ReadonlyArray<{ id: Tab; label: string }> = [
  { id: 'applications', label: 'Applications' },
  { id: 'analysis', label: 'Analysis' },
  { id: 'history', label: 'History' },
];

/** The Analysis tab is still plain DOM code: it owns the container this renders, and nothing else touches it. */
function AnalysisTab({ orgId }: { orgId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => (box.current ? renderAnalysis(box.current, orgId) : undefined), [orgId]);
  return html`<div ref=${box}></div>`;
}

function OrganizationPage({ orgId, tab }: { orgId: string; tab: Tab }) {
  const [name, setName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let disposed = false;
    api
      .getOrganization(orgId)
      .then((org) => {
        if (disposed) return;
        setName(org.name);
        document.title = `${org.name} · ${TABS.find((t) => t.id === tab)?.label ?? ''} · M365 SIEM`;
      })
      .catch((e: unknown) => !disposed && setError(describeError(e)));
    return () => {
      disposed = true;
    };
  }, [orgId, tab]);
  const shown = name ?? orgId;
  return html`
    <nav class="breadcrumb" aria-label="Breadcrumb">
      <${AppLink} route=${{ view: 'organizations' }}>Organizations<//><span aria-hidden="true"> / </span><span>${shown}</span>
    </nav>
    <h1>${shown}</h1>
    <div>${error ? html`<${ErrorBanner} text=${error} />` : null}</div>
    <nav class="tabs" aria-label="Organization sections">
      <ul>
        ${TABS.map(
          (t) =>
            html`<li>
              <${AppLink} route=${{ view: 'organization', orgId, tab: t.id }} class=${t.id === tab ? 'tab active' : 'tab'} aria-current=${t.id === tab ? 'page' : undefined}>${t.label}<//>
            </li>`,
        )}
      </ul>
    </nav>
    <div class="tab-content">
      ${tab === 'applications' ? html`<${ApplicationsTab} orgId=${orgId} />` : tab === 'analysis' ? html`<${AnalysisTab} orgId=${orgId} />` : html`<${HistoryTab} orgId=${orgId} />`}
    </div>
  `;
}

export function renderOrganization(main: HTMLElement, orgId: string, tab: Tab): Dispose {
  render(html`<${OrganizationPage} orgId=${orgId} tab=${tab} />`, main);
  return () => render(null, main);
}
