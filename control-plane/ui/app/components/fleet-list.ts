/// <reference lib="dom" />
/**
 * The fleet view (issue 17 item 6): counts by status, the organizations that went quiet, and the list filterable by
 * status, reason and name/tenant/id and sortable by last event. Pure filtering lives in logic/fleet.ts.
 */
import { formatTime } from '../logic/format.ts';
import { BUCKET_LABELS, DEFAULT_FILTER, applyFilter, bucketCounts, reasonsOf, type FleetBucket, type FleetFilter, type FleetRow } from '../logic/fleet.ts';
import type { Route } from '../logic/routes.ts';
import { navigate } from '../navigation.ts';
import { AppLink } from './basics.ts';
import { html, useMemo, useState } from './html.ts';

const orgRoute = (id: string): Route => ({ view: 'organization', orgId: id, tab: 'applications' });

function StatusCounts({ counts, active, onPick }: { counts: Record<FleetBucket, number>; active: FleetBucket; onPick: (b: FleetBucket) => void }) {
  return html`<ul class="fleet-counts" aria-label="Organizations by status">
    ${(Object.keys(BUCKET_LABELS) as FleetBucket[]).map(
      (b) =>
        html`<li>
          <button type="button" class=${`fleet-count fleet-count-${b}`} aria-pressed=${active === b ? 'true' : 'false'} data-bucket=${b} onClick=${() => onPick(b)}>
            <span class="fleet-count-number">${counts[b]}</span> <span class="fleet-count-label">${BUCKET_LABELS[b]}</span>
          </button>
        </li>`,
    )}
  </ul>`;
}

function QuietList({ rows }: { rows: FleetRow[] }) {
  const quiet = rows.filter((r) => r.quiet);
  if (quiet.length === 0) return null;
  return html`<section class="fleet-quiet" aria-labelledby="fleet-quiet-h">
    <h3 id="fleet-quiet-h">Went quiet (${quiet.length})</h3>
    <p class="muted small">No events for longer than four times their usual gap (and at least 2 h).</p>
    <ul data-testid="quiet-list">
      ${quiet.map((r) => html`<li data-org-id=${r.id}><${AppLink} route=${orgRoute(r.id)}>${r.name}<//> <span class="muted small">last event ${formatTime(r.lastEventAt)}</span></li>`)}
    </ul>
  </section>`;
}

function Filters({ filter, rows, onChange }: { filter: FleetFilter; rows: FleetRow[]; onChange: (f: FleetFilter) => void }) {
  const reasons = reasonsOf(rows);
  const value = (e: Event) => (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;
  return html`<div class="fleet-filters" role="search">
    <label>Find <input type="search" name="fleet-text" value=${filter.text} placeholder="name, tenant or id" autocomplete="off" onInput=${(e: Event) => onChange({ ...filter, text: value(e) })} /></label>
    <label>Status <select name="fleet-status" value=${filter.bucket} onChange=${(e: Event) => onChange({ ...filter, bucket: value(e) as FleetBucket })}>
      ${(Object.keys(BUCKET_LABELS) as FleetBucket[]).map((b) => html`<option value=${b}>${BUCKET_LABELS[b]}</option>`)}
    </select></label>
    <label>Reason <select name="fleet-reason" value=${filter.reason} onChange=${(e: Event) => onChange({ ...filter, reason: value(e) })}>
      <option value="">Any reason</option>
      ${reasons.map((r) => html`<option value=${r.code}>${r.text}</option>`)}
    </select></label>
    <label>Sort <select name="fleet-sort" value=${filter.sort} onChange=${(e: Event) => onChange({ ...filter, sort: value(e) as FleetFilter['sort'] })}>
      <option value="name">Name</option>
      <option value="last-event-newest">Last event, newest first</option>
      <option value="last-event-oldest">Last event, oldest first</option>
    </select></label>
  </div>`;
}

function Row({ row, highlight }: { row: FleetRow; highlight: boolean }) {
  return html`<tr data-org-id=${row.id} class=${highlight ? 'highlight' : undefined}>
    <td data-label="Name"><${AppLink} route=${orgRoute(row.id)}>${row.name}<//></td>
    <td data-label="Id"><code>${row.id}</code>${row.tenantId ? html`<div class="muted small">tenant ${row.tenantId}</div>` : null}</td>
    <td data-label="Connection">
      <span class=${`badge badge-${row.tone}`}>${row.statusLabel}</span>
      ${row.reason && row.status === 'needs_attention' ? html`<div class="muted small">${row.reason}</div>` : null}
      ${row.quiet ? html`<div class="muted small quiet-flag">went quiet</div>` : null}
    </td>
    <td data-label="Last event" class="last-event">${row.lastEventAt ? formatTime(row.lastEventAt) : '—'}</td>
    <td class="actions-cell">
      <button type="button" class="icon-button" aria-label=${`Edit ${row.name}`} title=${`Edit ${row.name}`} onClick=${() => navigate(orgRoute(row.id))}>
        <span aria-hidden="true">✎</span>
      </button>
    </td>
  </tr>`;
}

/** Rows shown at once; the rest is one click away (300 rows render fine, 3 000 would not need to). */
export const PAGE_ROWS = 100;

export function FleetList({ rows, highlight }: { rows: FleetRow[]; highlight?: string | undefined }) {
  const [filter, setFilter] = useState<FleetFilter>(DEFAULT_FILTER);
  const [limit, setLimit] = useState(PAGE_ROWS);
  const counts = useMemo(() => bucketCounts(rows), [rows]);
  const shown = useMemo(() => applyFilter(rows, filter), [rows, filter]);
  const change = (f: FleetFilter) => {
    setFilter(f);
    setLimit(PAGE_ROWS);
  };
  return html`<div class="fleet">
    <${StatusCounts} counts=${counts} active=${filter.bucket} onPick=${(b: FleetBucket) => change({ ...filter, bucket: b })} />
    <${QuietList} rows=${rows} />
    <${Filters} filter=${filter} rows=${rows} onChange=${change} />
    <p class="muted small" aria-live="polite" data-testid="fleet-shown">${shown.length} of ${rows.length} organizations</p>
    <table class="data-table responsive" aria-label="Organizations">
      <thead>
        <tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Connection</th><th scope="col">Last event</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr>
      </thead>
      <tbody>${shown.slice(0, limit).map((row) => html`<${Row} key=${row.id} row=${row} highlight=${row.id === highlight} />`)}</tbody>
    </table>
    ${shown.length > limit ? html`<button type="button" class="link-button" onClick=${() => setLimit(limit + PAGE_ROWS)}>Show ${Math.min(PAGE_ROWS, shown.length - limit)} more</button>` : null}
  </div>`;
}
