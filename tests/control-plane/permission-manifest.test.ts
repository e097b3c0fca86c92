import { describe, expect, it } from 'vitest';
import { SOURCES } from '../../runtime/index.ts';
import { AUTO_UPGRADE_ROLES, diffPermissions, LATEST_MANIFEST_VERSION, manifestFor, MANIFEST_VERSIONS, requiredRoles } from '../../control-plane/permission-manifest.ts';

describe('permission manifest', () => {
  it('has at least two versions and covers every source in each', () => {
    expect(MANIFEST_VERSIONS.length).toBeGreaterThanOrEqual(2);
    expect(LATEST_MANIFEST_VERSION).toBe(Math.max(...MANIFEST_VERSIONS));
    for (const v of MANIFEST_VERSIONS) {
      const m = manifestFor(v);
      for (const s of SOURCES) expect(m.sources[s].length, `${v} ${s}`).toBeGreaterThan(0);
    }
    expect(() => manifestFor(999)).toThrow(/unknown/);
  });

  it('asks for the auto-upgrade roles only with auto-upgrade', () => {
    const m = manifestFor(1);
    const off = requiredRoles(m, false);
    const on = requiredRoles(m, true);
    for (const r of AUTO_UPGRADE_ROLES) {
      expect(off).not.toContain(r.role);
      expect(on).toContain(r.role);
    }
    expect(off).toContain('ActivityFeed.Read');
    expect(off).toContain('ActivityFeed.ReadDlp');
    expect(off).toContain('AuditLog.Read.All');
  });

  it('pauses only the sources whose roles are missing', () => {
    const m = manifestFor(1);
    const granted = requiredRoles(m, false).filter((r) => r !== 'ActivityFeed.ReadDlp');
    const diff = diffPermissions(m, false, granted);
    expect(diff.missing).toEqual(['ActivityFeed.ReadDlp']);
    expect(diff.paused).toEqual([{ source: 'management:DLP.All', missingRoles: ['ActivityFeed.ReadDlp'] }]);
    expect(diff.pollable).toHaveLength(SOURCES.length - 1);
    expect(diff.canAutoUpgrade).toBe(false);
  });

  it('moving from version 1 to 2 needs new roles that pause registration details', () => {
    const v1Roles = requiredRoles(manifestFor(1), true);
    const diff = diffPermissions(manifestFor(2), true, v1Roles);
    expect(diff.missing).toContain('UserAuthenticationMethod.Read.All');
    expect(diff.paused.map((p) => p.source)).toContain('graph:userRegistrationDetails');
    expect(diff.canAutoUpgrade).toBe(true);
    expect(diffPermissions(manifestFor(2), false, v1Roles).canAutoUpgrade).toBe(false);
  });
});
