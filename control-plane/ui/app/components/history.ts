/// <reference lib="dom" />
/**
 * An organization's history: every change to it and its connection, newest first — the whole list on the History
 * tab, the latest ten on the Applications tab with a link to the rest.
 */
import { api } from '../api-client.ts';
import type { HistoryEntry } from '../logic/api-types.ts';
import { describeError } from '../logic/error-message.ts';
import { formatTime, formatTimeShort } from '../logic/format.ts';
import { AppLink, ErrorBanner } from './basics.ts';
import { html, useEffect, useState } from './html.ts';

// The contract's fields (decision 0196), read leniently: a missing one shows as a dash, never breaks the table.
const entryTime = (e: HistoryEntry): string | undefined => e.at;
const entryWho = (e: HistoryEntry): string => e.actor?.label ?? e.actor?.role ?? 'system';
const entryWhat = (e: HistoryEntry): string => e.action ?? '—';
const entryDetail = (e: HistoryEntry): string =>
  Object.entries(e.detail ?? {})
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('; ');

const newestFirst = (entries: HistoryEntry[]) => entries.slice().sort((a, b) => (entryTime(b) ?? '').localeCompare(entryTime(a) ?? ''));

export function HistoryTable({ entries }: { entries: HistoryEntry[] }) {
  return html`<table class="data-table responsive history">
    <thead><tr>${['When', 'Who', 'What', 'Details'].map((t) => html`<th scope="col">${t}</th>`)}</tr></thead>
    <tbody>
      ${newestFirst(entries).map(
        (e) => html`<tr>
          <td data-label="When" class="nowrap" title=${formatTime(entryTime(e))}>${formatTimeShort(entryTime(e))}</td>
          <td data-label="Who" class="nowrap">${entryWho(e)}</td>
          <td data-label="What" class="nowrap">${entryWhat(e)}</td>
          <td data-label="Details">${entryDetail(e) || '—'}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** The latest `limit` changes (null: still loading), with a link to all of them. */
export function HistorySummary({ entries, orgId, limit }: { entries: HistoryEntry[] | null; orgId: string; limit: number }) {
  const body =
    entries === null
      ? html`<p class="muted">Loading history…</p>`
      : entries.length === 0
        ? html`<p class="muted">No changes recorded yet.</p>`
        : html`<${HistoryTable} entries=${newestFirst(entries).slice(0, limit)} />
            ${entries.length > limit ? html`<p><${AppLink} route=${{ view: 'organization', orgId, tab: 'history' }}>All ${entries.length} changes<//></p>` : null}`;
  return html`<section class="card" aria-labelledby="history-h" data-section="history"><h3 id="history-h">History</h3>${body}</section>`;
}

export function HistoryTab({ orgId }: { orgId: string }) {
  const [state, setState] = useState<{ entries?: HistoryEntry[]; error?: string }>({});
  useEffect(() => {
    let disposed = false;
    api
      .history(orgId)
      .then((entries) => !disposed && setState({ entries }))
      .catch((error: unknown) => !disposed && setState({ error: describeError(error) }));
    return () => {
      disposed = true;
    };
  }, [orgId]);
  const heading = html`<h2 id="history-tab-h">History</h2>`;
  const loading = state.entries === undefined && state.error === undefined;
  return html`<section class="card" aria-labelledby="history-tab-h" aria-busy=${loading ? 'true' : 'false'}>
    ${heading}
    ${
      state.error !== undefined
        ? html`<${ErrorBanner} text=${state.error} />`
        : state.entries === undefined
          ? html`<p class="muted">Loading history…</p>`
          : html`<p>Every change to this organization and its connection: who, when, what.</p>
              ${state.entries.length ? html`<${HistoryTable} entries=${state.entries} />` : html`<p class="muted">No changes recorded yet.</p>`}`
    }
  </section>`;
}
