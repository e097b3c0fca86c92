import { describe, expect, it } from 'vitest';
import { scopeText } from '../../control-plane/ui/app/logic/principal.ts';

describe('scopeText', () => {
  it('names an unscoped token by its role on every organization', () => {
    expect(scopeText({ label: 'ops', allOrganizations: 'admin', organizations: [], canCreateOrganizations: true })).toBe(
      'Signed in as ops · every organization (admin)',
    );
  });

  it("counts a scoped token's organizations and names its roles", () => {
    const organizations = [
      { id: 'org_aaaa1', role: 'admin' as const },
      { id: 'org_bbbb2', role: 'viewer' as const },
    ];
    expect(scopeText({ label: 'msp', allOrganizations: null, organizations, canCreateOrganizations: false })).toBe(
      'Signed in as msp · 2 organizations (admin, viewer)',
    );
    expect(scopeText({ label: 'msp', allOrganizations: null, organizations: organizations.slice(1), canCreateOrganizations: false })).toBe(
      'Signed in as msp · 1 organization (viewer)',
    );
  });
});
