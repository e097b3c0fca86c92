import { describe, expect, it } from 'vitest';
import { authenticate, hashToken, parseTokenTable, presentedToken } from '../../control-plane/auth.ts';

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
