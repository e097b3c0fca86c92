/// <reference lib="dom" />
/**
 * The organization's long work as progress bars (issue 17 item 7): the Audit Search back-fill and a re-fetch, each
 * a native <progress> (indeterminate while Microsoft runs the query) with its figures — done of total, rate, ETA —
 * read by logic/work-progress.ts from the connection status the page already polls.
 */
import { progressFigures, type WorkProgress } from '../logic/work-progress.ts';
import { Badge } from './basics.ts';
import { html } from './html.ts';

const TITLES: Record<WorkProgress['kind'], string> = { backfill: 'Back-fill (Audit Search)', refetch: 'Re-fetch from Microsoft' };
const PHASES: Record<WorkProgress['phase'], { label: string; tone: string }> = {
  querying: { label: 'Querying', tone: 'progress' },
  fetching: { label: 'Fetching', tone: 'progress' },
  catching_up: { label: 'Re-polling', tone: 'progress' },
  done: { label: 'Done', tone: 'ok' },
  failed: { label: 'Not done', tone: 'warning' },
};

export function WorkProgressItem({ progress }: { progress: WorkProgress }) {
  const phase = PHASES[progress.phase];
  const figures = progressFigures(progress);
  const title = TITLES[progress.kind];
  return html`<li class="work-progress" data-testid="work-progress" data-kind=${progress.kind} data-phase=${progress.phase} data-running=${String(progress.running)}>
    <div class="work-progress-head"><strong>${title}</strong> <${Badge} text=${phase.label} tone=${phase.tone} /></div>
    ${
      progress.phase === 'failed'
        ? null
        : progress.fraction === null
          ? html`<progress aria-label=${`${title}: ${phase.label}`}></progress>`
          : html`<progress max="100" value=${Math.round(progress.fraction * 1000) / 10} aria-label=${`${title}: ${figures}`}></progress>`
    }
    <p class="work-progress-figures small" data-testid="work-progress-figures">${figures}</p>
    <p class="work-progress-summary muted small">${progress.summary}</p>
  </li>`;
}

export function WorkProgressCard({ items }: { items: WorkProgress[] }) {
  if (items.length === 0) return null;
  return html`<section class="card" aria-labelledby="work-h" data-testid="long-work">
    <h3 id="work-h">Back-fill and re-fetch</h3>
    <ul class="work-progress-list">
      ${items.map((p) => html`<${WorkProgressItem} key=${p.kind} progress=${p} />`)}
    </ul>
  </section>`;
}
