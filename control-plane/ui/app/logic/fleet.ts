/**
 * The fleet view's pure logic (issue 17 item 6): each organization's fleet row from the organization list and the
 * fleet activity, the counts by status, and the filter and sort the operator picks. Unit-tested.
 */
import type { Organization, OrganizationActivity } from './api-types.ts';
import { statusView } from './status-view.ts';

export interface FleetRow {
  id: string;
  name: string;
  tenantId: string | null;
  status: string;
  statusLabel: string;
  tone: string;
  reason: string | null;
  reasonCode: string | null;
  pendingUpgrade: boolean;
  lastEventAt: string | null;
  events7d: number | null;
  quiet: boolean;
}

export type FleetBucket = 'all' | 'active' | 'needs_attention' | 'pending_upgrade' | 'waiting' | 'not_connected' | 'quiet';
export type FleetSort = 'name' | 'last-event-newest' | 'last-event-oldest';

export interface FleetFilter {
  bucket: FleetBucket;
  reason: string;
  text: string;
  sort: FleetSort;
}

export const DEFAULT_FILTER: FleetFilter = { bucket: 'all', reason: '', text: '', sort: 'name' };

export const BUCKET_LABELS: Record<FleetBucket, string> = {
  all: 'All',
  active: 'Active',
  needs_attention: 'Needs attention',
  pending_upgrade: 'Pending upgrade',
  waiting: 'Connecting or waiting',
  not_connected: 'Not connected',
  quiet: 'Went quiet',
};

export function fleetRows(orgs: readonly Organization[], activity: readonly OrganizationActivity[]): FleetRow[] {
  const byId = new Map(activity.map((a) => [a.orgId, a]));
  return orgs.map((org) => {
    const connection = org.connection ?? null;
    const view = statusView(connection ? { status: connection.status ?? 'not_connected', reason: connection.reason ?? null } : null);
    const a = byId.get(org.id);
    const reasonCode = connection?.reason ?? null;
    return {
      id: org.id,
      name: org.name,
      tenantId: connection?.tenantId ?? null,
      status: view.status,
      statusLabel: view.label,
      tone: view.tone,
      reason: view.reason,
      reasonCode,
      pendingUpgrade: /upgrade/i.test(reasonCode ?? ''),
      lastEventAt: a?.lastEventAt ?? null,
      events7d: a?.events7d ?? null,
      quiet: a?.quiet === true,
    };
  });
}

export function inBucket(row: FleetRow, bucket: FleetBucket): boolean {
  switch (bucket) {
    case 'all':
      return true;
    case 'active':
      return row.status === 'active';
    case 'needs_attention':
      return row.status === 'needs_attention';
    case 'pending_upgrade':
      return row.pendingUpgrade;
    case 'waiting':
      return row.status === 'connecting' || row.status === 'waiting_for_first_events';
    case 'not_connected':
      return row.status === 'not_connected' || row.status === 'disconnected';
    case 'quiet':
      return row.quiet;
  }
}

export function bucketCounts(rows: readonly FleetRow[]): Record<FleetBucket, number> {
  const counts = Object.fromEntries(Object.keys(BUCKET_LABELS).map((b) => [b, 0])) as Record<FleetBucket, number>;
  for (const row of rows) for (const bucket of Object.keys(counts) as FleetBucket[]) if (inBucket(row, bucket)) counts[bucket] += 1;
  return counts;
}

/** The distinct reasons present, for the reason filter (code and words). */
export function reasonsOf(rows: readonly FleetRow[]): Array<{ code: string; text: string }> {
  const seen = new Map<string, string>();
  for (const row of rows) if (row.reasonCode && !seen.has(row.reasonCode)) seen.set(row.reasonCode, row.reason ?? row.reasonCode);
  return [...seen].map(([code, text]) => ({ code, text })).sort((a, b) => a.text.localeCompare(b.text));
}

function matchesText(row: FleetRow, text: string): boolean {
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  return [row.name, row.id, row.tenantId ?? ''].some((v) => v.toLowerCase().includes(needle));
}

const lastEventMs = (row: FleetRow) => (row.lastEventAt ? Date.parse(row.lastEventAt) : null);

/** Rows without any event sort last either way: "newest" and "oldest" are about organizations that had events. */
export function applyFilter(rows: readonly FleetRow[], filter: FleetFilter): FleetRow[] {
  const kept = rows.filter((r) => inBucket(r, filter.bucket) && (!filter.reason || r.reasonCode === filter.reason) && matchesText(r, filter.text));
  const byName = (a: FleetRow, b: FleetRow) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  if (filter.sort === 'name') return kept.sort(byName);
  const direction = filter.sort === 'last-event-newest' ? -1 : 1;
  return kept.sort((a, b) => {
    const x = lastEventMs(a);
    const y = lastEventMs(b);
    if (x === null || y === null) return x === y ? byName(a, b) : x === null ? 1 : -1;
    return (x - y) * direction || byName(a, b);
  });
}
