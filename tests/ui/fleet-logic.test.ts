import { describe, expect, it } from 'vitest';
import { linePoints } from '../../control-plane/ui/app/components/activity-chart.ts';
import { applyFilter, bucketCounts, DEFAULT_FILTER, fleetRows, reasonsOf } from '../../control-plane/ui/app/logic/fleet.ts';
import type { Organization } from '../../control-plane/ui/app/logic/api-types.ts';

const org = (id: string, name: string, status: string | null, reason: string | null = null, tenantId: string | null = null): Organization => ({
  id,
  name,
  connection: status ? { status, reason, tenantId, cloud: 'commercial' } : null,
});

const orgs = [
  org('o1', 'Contoso', 'active', null, '11111111-1111-1111-1111-111111111111'),
  org('o2', 'Fabrikam', 'needs_attention', 'consent_revoked'),
  org('o3', 'Adatum', 'needs_attention', 'upgrade_pending'),
  org('o4', 'Northwind', null),
  org('o5', 'Tailspin', 'waiting_for_first_events'),
];
const activity = [
  { orgId: 'o1', lastEventAt: '2026-11-30T10:00:00Z', events7d: 100, quiet: false },
  { orgId: 'o2', lastEventAt: '2026-11-20T10:00:00Z', events7d: 0, quiet: true },
  { orgId: 'o3', lastEventAt: '2026-11-30T11:00:00Z', events7d: 5, quiet: false },
];

describe('fleet logic', () => {
  const rows = fleetRows(orgs, activity);

  it('counts by status, pending upgrades and quiet', () => {
    expect(bucketCounts(rows)).toEqual({ all: 5, active: 1, needs_attention: 2, pending_upgrade: 1, waiting: 1, not_connected: 1, quiet: 1 });
    expect(
      reasonsOf(rows)
        .map((r) => r.code)
        .sort(),
    ).toEqual(['consent_revoked', 'upgrade_pending']);
  });

  it('filters by status, reason and name or tenant', () => {
    expect(applyFilter(rows, { ...DEFAULT_FILTER, bucket: 'needs_attention' }).map((r) => r.id)).toEqual(['o3', 'o2']);
    expect(applyFilter(rows, { ...DEFAULT_FILTER, reason: 'consent_revoked' }).map((r) => r.id)).toEqual(['o2']);
    expect(applyFilter(rows, { ...DEFAULT_FILTER, text: '1111-1111' }).map((r) => r.id)).toEqual(['o1']);
    expect(applyFilter(rows, { ...DEFAULT_FILTER, text: 'north' }).map((r) => r.id)).toEqual(['o4']);
  });

  it('sorts by last event either way, organizations without events last', () => {
    expect(applyFilter(rows, { ...DEFAULT_FILTER, sort: 'last-event-newest' }).map((r) => r.id)).toEqual(['o3', 'o1', 'o2', 'o4', 'o5']);
    expect(applyFilter(rows, { ...DEFAULT_FILTER, sort: 'last-event-oldest' }).map((r) => r.id)).toEqual(['o2', 'o1', 'o3', 'o4', 'o5']);
  });

  it('draws the chart lines inside the chart', () => {
    const points = linePoints([0, 5, 10], 10)
      .split(' ')
      .map((p) => p.split(',').map(Number));
    expect(points).toHaveLength(3);
    expect(points[0]![1]).toBeGreaterThan(points[2]![1]!);
    expect(points.every(([x, y]) => x! >= 0 && x! <= 720 && y! >= 0 && y! <= 180)).toBe(true);
  });
});
