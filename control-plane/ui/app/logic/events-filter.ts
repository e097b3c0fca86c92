/** Analysis filters ↔ the events API query string; pure. */

export interface EventFilters {
  dataset: string;
  action: string;
  user: string;
  outcome: string;
  /** `datetime-local` input values (local time, no zone) or ISO strings. */
  from: string;
  to: string;
  size: number;
}

export const DEFAULT_FILTERS: EventFilters = { dataset: '', action: '', user: '', outcome: '', from: '', to: '', size: 50 };

export const DATASETS: Array<{ value: string; label: string }> = [
  { value: '', label: 'All datasets' },
  { value: 'azure.signinlogs', label: 'Sign-ins (azure.signinlogs)' },
  { value: 'o365.audit', label: 'Microsoft 365 audit (o365.audit)' },
  { value: 'azure.auditlogs', label: 'Directory audits (azure.auditlogs)' },
  { value: 'azure.identity_protection', label: 'Identity protection (azure.identity_protection)' },
  { value: 'azure.registration_details', label: 'MFA / SSPR registration (azure.registration_details)' },
];

export const OUTCOMES: Array<{ value: string; label: string }> = [
  { value: '', label: 'Any outcome' },
  { value: 'success', label: 'Success' },
  { value: 'failure', label: 'Failure' },
  { value: 'unknown', label: 'Unknown' },
];

/** A datetime-local value ("2026-11-26T07:30") is local time; the API wants an absolute ISO instant. */
export function toIsoInstant(value: string): string | null {
  const v = value.trim();
  if (!v) return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function eventsQueryString(filters: EventFilters): string {
  const q = new URLSearchParams();
  for (const key of ['dataset', 'action', 'user', 'outcome'] as const) {
    const v = filters[key].trim();
    if (v) q.set(key, v);
  }
  const from = toIsoInstant(filters.from);
  const to = toIsoInstant(filters.to);
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  q.set('size', String(filters.size));
  return q.toString();
}

/** A readable complaint about the filters before they are sent, or null when they are fine. */
export function validateFilters(filters: EventFilters): string | null {
  if (filters.from.trim() && !toIsoInstant(filters.from)) return 'The “From” time is not a valid date and time.';
  if (filters.to.trim() && !toIsoInstant(filters.to)) return 'The “To” time is not a valid date and time.';
  const from = toIsoInstant(filters.from);
  const to = toIsoInstant(filters.to);
  if (from && to && from > to) return 'The “From” time is after the “To” time.';
  return null;
}
