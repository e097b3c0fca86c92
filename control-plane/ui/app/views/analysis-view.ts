/// <reference lib="dom" />
/**
 * Analysis: the organization's recent Microsoft events from OpenSearch (through the control plane's events API),
 * filterable by dataset, action, user, outcome and time; each row expands to the whole document.
 */
import { api } from '../api-client.ts';
import { badge, errorBanner, h, replaceChildren, uid } from '../dom.ts';
import type { EventSummary } from '../logic/api-types.ts';
import { describeError } from '../logic/error-message.ts';
import { DATASETS, DEFAULT_FILTERS, OUTCOMES, eventsQueryString, validateFilters, type EventFilters } from '../logic/events-filter.ts';
import { formatTime, formatTimeShort } from '../logic/format.ts';
import type { Dispose } from '../navigation.ts';
import { ActivityChart } from '../components/activity-chart.ts';
import { html, render as renderComponent } from '../components/html.ts';

const SIZES = [25, 50, 100, 200];

/** Filters survive tab switches within the session (per organization). */
const remembered = new Map<string, EventFilters>();

export function renderAnalysis(container: HTMLElement, orgId: string): Dispose {
  let disposed = false;
  let filters: EventFilters = { ...(remembered.get(orgId) ?? DEFAULT_FILTERS) };
  const ids = {
    dataset: uid('f-dataset'),
    action: uid('f-action'),
    user: uid('f-user'),
    outcome: uid('f-outcome'),
    from: uid('f-from'),
    to: uid('f-to'),
    size: uid('f-size'),
  };

  const dataset = h(
    'select',
    { id: ids.dataset, name: 'dataset' },
    DATASETS.map((d) => h('option', { value: d.value, selected: d.value === filters.dataset }, d.label)),
  );
  const action = h('input', { id: ids.action, name: 'action', type: 'text', value: filters.action, autocomplete: 'off', placeholder: 'e.g. FileAccessed' });
  const user = h('input', { id: ids.user, name: 'user', type: 'text', value: filters.user, autocomplete: 'off', placeholder: 'name or e-mail' });
  const outcome = h(
    'select',
    { id: ids.outcome, name: 'outcome' },
    OUTCOMES.map((o) => h('option', { value: o.value, selected: o.value === filters.outcome }, o.label)),
  );
  const from = h('input', { id: ids.from, name: 'from', type: 'datetime-local', value: filters.from });
  const to = h('input', { id: ids.to, name: 'to', type: 'datetime-local', value: filters.to });
  const size = h(
    'select',
    { id: ids.size, name: 'size' },
    SIZES.map((n) => h('option', { value: String(n), selected: n === filters.size }, String(n))),
  );
  const results = h('div', { 'aria-live': 'polite', 'aria-busy': 'false', 'data-testid': 'events' });
  const apply = h('button', { type: 'submit', class: 'primary' }, 'Apply filters');

  const field = (id: string, label: string, control: HTMLElement) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Event filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        filters = {
          dataset: dataset.value,
          action: action.value,
          user: user.value,
          outcome: outcome.value,
          from: from.value,
          to: to.value,
          size: Number(size.value) || DEFAULT_FILTERS.size,
        };
        remembered.set(orgId, filters);
        void load();
      },
    },
    field(ids.dataset, 'Dataset', dataset),
    field(ids.action, 'Action', action),
    field(ids.user, 'User', user),
    field(ids.outcome, 'Outcome', outcome),
    field(ids.from, 'From (local time)', from),
    field(ids.to, 'To (local time)', to),
    field(ids.size, 'Show', size),
    h(
      'div',
      { class: 'actions filter-actions' },
      apply,
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            filters = { ...DEFAULT_FILTERS };
            remembered.delete(orgId);
            dataset.value = '';
            action.value = '';
            user.value = '';
            outcome.value = '';
            from.value = '';
            to.value = '';
            size.value = String(DEFAULT_FILTERS.size);
            void load();
          },
        },
        'Reset',
      ),
    ),
  );

  async function load(): Promise<void> {
    const problem = validateFilters(filters);
    if (problem) {
      replaceChildren(results, errorBanner(problem));
      return;
    }
    results.setAttribute('aria-busy', 'true');
    apply.disabled = true;
    try {
      const page = await api.events(orgId, eventsQueryString(filters));
      if (disposed) return;
      const events = page?.events ?? [];
      replaceChildren(
        results,
        h(
          'p',
          { class: 'result-count', role: 'status' },
          events.length === 0 ? 'No events match these filters.' : `Showing ${events.length} of ${page.total} matching events, newest first.`,
        ),
        events.length ? eventsTable(events) : null,
      );
    } catch (error) {
      if (!disposed) replaceChildren(results, errorBanner(describeError(error)));
    } finally {
      results.setAttribute('aria-busy', 'false');
      apply.disabled = false;
    }
  }

  const chartRoot = h('div');
  renderComponent(html`<${ActivityChart} orgId=${orgId} />`, chartRoot);
  replaceChildren(
    container,
    h('section', { class: 'card', 'aria-labelledby': 'activity-h' }, h('h2', { id: 'activity-h' }, 'Events per hour, last 7 days'), chartRoot),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'analysis-h' },
      h('h2', { id: 'analysis-h' }, 'Analysis'),
      h(
        'p',
        null,
        'Recent Microsoft events of this organization, as indexed in OpenSearch. Use it to confirm that sign-in and file activity arrives for the intended organization.',
      ),
      form,
    ),
    h('section', { class: 'card' }, h('h2', { class: 'visually-hidden' }, 'Events'), results),
  );
  void load();
  return () => {
    disposed = true;
    renderComponent(null, chartRoot);
  };
}

function outcomeTone(outcome: string | null | undefined): string {
  if (outcome === 'success') return 'ok';
  if (outcome === 'failure') return 'error';
  return 'neutral';
}

function eventsTable(events: EventSummary[]): HTMLElement {
  const rows = events.flatMap((e) => {
    const detailId = uid('event-detail');
    const detail = h(
      'tr',
      { id: detailId, class: 'event-detail', hidden: true },
      h('td', { colspan: '7' }, h('pre', { tabindex: '0', 'aria-label': 'Event document (JSON)' }, JSON.stringify(e.document, null, 2))),
    );
    const toggle: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        'aria-expanded': 'false',
        'aria-controls': detailId,
        onclick: () => {
          const open = toggle.getAttribute('aria-expanded') !== 'true';
          toggle.setAttribute('aria-expanded', String(open));
          detail.hidden = !open;
        },
      },
      'Details',
    );
    return [
      h(
        'tr',
        { class: 'event-row', 'data-event-id': e.id, 'data-dataset': e.dataset ?? '' },
        h('td', { 'data-label': 'Time', class: 'nowrap', title: formatTime(e['@timestamp']) }, formatTimeShort(e['@timestamp'])),
        h('td', { 'data-label': 'Dataset', class: 'nowrap' }, e.dataset ?? '—'),
        h('td', { 'data-label': 'Action' }, e.action ?? '—'),
        h('td', { 'data-label': 'User' }, e.user ?? '—'),
        h('td', { 'data-label': 'Outcome' }, e.outcome ? badge(e.outcome, outcomeTone(e.outcome)) : '—'),
        h('td', { 'data-label': 'Source IP' }, e.sourceIp ?? '—'),
        h('td', { class: 'actions-cell' }, toggle),
      ),
      detail,
    ];
  });
  const headers = ['Time', 'Dataset', 'Action', 'User', 'Outcome', 'Source IP'].map((t) => h('th', { scope: 'col' }, t));
  const table = h(
    'table',
    { class: 'data-table responsive events-table', 'aria-label': 'Events' },
    h('thead', null, h('tr', null, headers, h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Detail')))),
    h('tbody', null, rows),
  );
  return h('div', { class: 'table-scroll' }, table);
}
