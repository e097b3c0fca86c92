import { describe, expect, it } from 'vitest';
import { authenticate, canCreateOrganizations, hashToken, parseTokenTable, presentedToken, principalView, roleFor } from '../../control-plane/auth.ts';

describe('API tokens', () => {
  const adminHash = hashToken('admin-secret-token');
  const viewerHash = hashToken('viewer-secret-token');

  it('parses role:hash and role:label:hash entries', () => {
    const table = parseTokenTable(`admin:${adminHash}, viewer:soc-dashboard:${viewerHash}`);
    expect(table.map((t) => [t.role, t.label])).toEqual([
      ['admin', 'admin'],
      ['viewer', 'soc-dashboard'],
    ]);
  });

  it('finds the entry of a presented token and nothing for an unknown one', () => {
    const table = parseTokenTable(`admin:alice:${adminHash},viewer:${viewerHash}`);
    expect(authenticate(table, 'admin-secret-token')).toMatchObject({ role: 'admin', label: 'alice' });
    expect(authenticate(table, 'viewer-secret-token')).toMatchObject({ role: 'viewer' });
    expect(authenticate(table, 'admin-secret-token ')).toBeNull();
    expect(authenticate(table, '')).toBeNull();
  });

  it('rejects unknown roles, bad hashes and an empty table with the entry named', () => {
    expect(() => parseTokenTable(`root:${adminHash}`)).toThrow(/admin\[:label\]/);
    expect(() => parseTokenTable('admin:abc')).toThrow(/SHA-256/);
    expect(() => parseTokenTable(' , ')).toThrow(/no tokens/);
  });

  describe('scopes', () => {
    const analyst = hashToken('msp-analyst-token');

    it('gives an unscoped entry its role on every organization, present and future', () => {
      const [admin] = parseTokenTable(`admin:ops:${adminHash}:*`);
      expect(roleFor(admin!, 'org_anything1')).toBe('admin');
      expect(canCreateOrganizations(admin!)).toBe(true);
      const [viewer] = parseTokenTable(`viewer:${viewerHash}`);
      expect(roleFor(viewer!, 'org_anything1')).toBe('viewer');
      expect(canCreateOrganizations(viewer!)).toBe(false);
    });

    it('limits a scoped entry to the organizations it names', () => {
      const [entry] = parseTokenTable(`viewer:msp-analyst:${analyst}:org_aaaa1+org_bbbb2+org_cccc3`);
      expect(['org_aaaa1', 'org_bbbb2', 'org_cccc3', 'org_dddd4'].map((id) => roleFor(entry!, id))).toEqual(['viewer', 'viewer', 'viewer', null]);
      expect(canCreateOrganizations(entry!)).toBe(false);
    });

    it('merges the entries of one token into a role per organization, the higher role winning over *', () => {
      const table = parseTokenTable(`admin:msp-analyst:${analyst}:org_aaaa1, viewer:msp-analyst:${analyst}:org_bbbb2+org_cccc3, viewer:${viewerHash}`);
      expect(table).toHaveLength(2);
      const entry = authenticate(table, 'msp-analyst-token')!;
      expect([roleFor(entry, 'org_aaaa1'), roleFor(entry, 'org_bbbb2'), roleFor(entry, 'org_zzzz9')]).toEqual(['admin', 'viewer', null]);
      expect(entry.role).toBe('admin');
      expect(canCreateOrganizations(entry)).toBe(false);
      expect(principalView(entry)).toEqual({
        label: 'msp-analyst',
        allOrganizations: null,
        organizations: [
          { id: 'org_aaaa1', role: 'admin' },
          { id: 'org_bbbb2', role: 'viewer' },
          { id: 'org_cccc3', role: 'viewer' },
        ],
        canCreateOrganizations: false,
      });
      const mixed = parseTokenTable(`viewer:lead:${analyst}:*, admin:lead:${analyst}:org_aaaa1`)[0]!;
      expect([roleFor(mixed, 'org_aaaa1'), roleFor(mixed, 'org_other1')]).toEqual(['admin', 'viewer']);
    });

    it.each([
      [`viewer:a:${'1'.repeat(64)}:org_aaaa1+ORG!`, /ORG!.*organization id/],
      [`viewer:a:${'1'.repeat(64)}:`, /organization id/],
      [`viewer:a:${'1'.repeat(64)}:org_aaaa1:extra`, /admin\[:label\]/],
      [`viewer:a:${'1'.repeat(64)}:org_aaaa1, admin:b:${'1'.repeat(64)}:org_bbbb2`, /labelled both a and b/],
      [`viewer:a:${'1'.repeat(64)}:org_aaaa1, admin:a:${'1'.repeat(64)}:org_aaaa1`, /org_aaaa1 twice/],
      [`viewer:a:${'1'.repeat(64)}, admin:a:${'1'.repeat(64)}:*`, /scope \* twice/],
    ])('refuses %s', (text, message) => {
      expect(() => parseTokenTable(text)).toThrow(message);
    });

    it('never puts a hash into an error message', () => {
      const hash = 'a'.repeat(64);
      try {
        parseTokenTable(`viewer:a:${hash}:bad!`);
        expect.unreachable();
      } catch (error) {
        expect((error as Error).message).not.toContain(hash.slice(0, 16));
      }
    });
  });

  it('hashes like sha256sum', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('reads bearer and basic (token as password) credentials', () => {
    expect(presentedToken('Bearer abc.def')).toBe('abc.def');
    expect(presentedToken(`Basic ${Buffer.from('user:tok').toString('base64')}`)).toBe('tok');
    expect(presentedToken('Token abc')).toBeNull();
    expect(presentedToken(undefined)).toBeNull();
  });
});
