/**
 * How the UI names the signed-in token's scope (GET /api/v1/me), e.g. "Signed in as msp-analyst · 3 organizations
 * (viewer)". Pure, unit-tested.
 */
import type { Principal } from './api-types.ts';

export function scopeText(p: Principal): string {
  if (p.allOrganizations) return `Signed in as ${p.label} · every organization (${p.allOrganizations})`;
  const roles = [...new Set(p.organizations.map((o) => o.role))].sort().join(', ');
  const count = p.organizations.length;
  return `Signed in as ${p.label} · ${count} organization${count === 1 ? '' : 's'} (${roles || 'none'})`;
}
