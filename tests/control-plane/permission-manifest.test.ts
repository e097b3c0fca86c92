import { describe, expect, it } from 'vitest';
import { SOURCES } from '../../runtime/index.ts';
import {
  AUTO_UPGRADE_ROLES,
  blockingRoles,
  diffPermissions,
  LATEST_MANIFEST_VERSION,
  manifestFor,
  manifestSources,
  MANIFEST_VERSIONS,
  requiredRoles,
  resourceOfRole,
} from '../../control-plane/permission-manifest.ts';

describe('permission manifest', () => {
  it('has at least three versions; the latest covers every source, each version every source it collects', () => {
    expect(MANIFEST_VERSIONS.length).toBeGreaterThanOrEqual(3);
    expect(LATEST_MANIFEST_VERSION).toBe(Math.max(...MANIFEST_VERSIONS));
    expect(manifestSources(manifestFor(LATEST_MANIFEST_VERSION))).toEqual([...SOURCES]);
    for (const v of MANIFEST_VERSIONS) {
      const m = manifestFor(v);
      for (const s of manifestSources(m)) expect(m.sources[s]?.length, `${v} ${s}`).toBeGreaterThan(0);
    }
    // Version 1 and 2 predate the Defender, provisioning and service-principal risk sources: not collected there.
    expect(manifestSources(manifestFor(2))).not.toContain('graph:securityAlerts');
    expect(diffPermissions(manifestFor(2), false, []).paused.map((p) => p.source)).not.toContain('graph:securityAlerts');
    expect(() => manifestFor(999)).toThrow(/unknown/);
  });

  it('version 3 asks each new source for its least-privileged role', () => {
    const m = manifestFor(3);
    expect(m.sources['graph:securityAlerts']).toEqual([{ resource: 'graph', role: 'SecurityAlert.Read.All' }]);
    expect(m.sources['graph:securityIncidents']).toEqual([{ resource: 'graph', role: 'SecurityIncident.Read.All' }]);
    expect(m.sources['graph:servicePrincipalRiskDetections']).toEqual([{ resource: 'graph', role: 'IdentityRiskEvent.Read.All' }]);
    expect(m.sources['graph:provisioning']).toEqual([{ resource: 'graph', role: 'AuditLog.Read.All' }]);
    // Least privilege (issue 13): registration details need AuditLog.Read.All only.
    expect(m.sources['graph:userRegistrationDetails']).toEqual([{ resource: 'graph', role: 'AuditLog.Read.All' }]);
    expect(requiredRoles(m, false)).not.toContain('UserAuthenticationMethod.Read.All');
  });

  it('version 3: DLP without ActivityFeed.ReadDlp flows without sensitive data instead of pausing', () => {
    const m = manifestFor(3);
    expect(requiredRoles(m, false)).not.toContain('ActivityFeed.ReadDlp');
    const diff = diffPermissions(m, false, requiredRoles(m, false));
    expect(diff.missing).toEqual([]);
    expect(diff.paused).toEqual([]);
    expect(diff.pollable).toContain('management:DLP.All');
    expect(diff.reduced).toEqual([{ source: 'management:DLP.All', missingRoles: ['ActivityFeed.ReadDlp'], without: 'the sensitive data DLP detected' }]);
    expect(diffPermissions(m, false, [...requiredRoles(m, false), 'ActivityFeed.ReadDlp']).reduced).toEqual([]);
    expect(resourceOfRole('ActivityFeed.ReadDlp')).toBe('management');
  });

  it('moving from version 2 to 3 pauses exactly the new sources whose roles are missing', () => {
    const v2Roles = requiredRoles(manifestFor(2), false);
    const diff = diffPermissions(manifestFor(3), false, v2Roles);
    expect(diff.missing.sort()).toEqual(['SecurityAlert.Read.All', 'SecurityIncident.Read.All']);
    expect(diff.paused.map((p) => p.source).sort()).toEqual(['graph:securityAlerts', 'graph:securityIncidents']);
    // Service-principal risk and provisioning need roles version 2 already had: they start flowing at once.
    expect(diff.pollable).toEqual(
      expect.arrayContaining(['graph:servicePrincipalRiskDetections', 'graph:provisioning', 'graph:userRegistrationDetails', 'management:DLP.All']),
    );
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
    expect(diff.pollable).toHaveLength(manifestSources(m).length - 1);
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

describe('permission manifest version 4: the Audit Search back-fill', () => {
  it('requests AuditLogsQuery.Read.All; without it no source pauses, only the back-fill is missing a role', () => {
    const m = manifestFor(4);
    expect(m.backfillRoles).toEqual([{ resource: 'graph', role: 'AuditLogsQuery.Read.All' }]);
    expect(requiredRoles(m, false)).toContain('AuditLogsQuery.Read.All');
    expect(resourceOfRole('AuditLogsQuery.Read.All')).toBe('graph');
    const v3Granted = requiredRoles(manifestFor(3), false);
    const diff = diffPermissions(m, false, v3Granted);
    expect(diff.missing).toEqual(['AuditLogsQuery.Read.All']);
    expect(diff.paused).toEqual([]);
    expect(diff.pollable).toEqual([...SOURCES]);
    expect(diff.backfillMissing).toEqual(['AuditLogsQuery.Read.All']);
    expect(blockingRoles(m, diff.missing)).toEqual([]);
    // A role a source needs still holds up collection next to it.
    expect(blockingRoles(m, ['AuditLogsQuery.Read.All', 'SecurityAlert.Read.All'])).toEqual(['SecurityAlert.Read.All']);
    expect(diffPermissions(m, false, [...v3Granted, 'AuditLogsQuery.Read.All']).backfillMissing).toEqual([]);
    // Earlier versions do not request the back-fill role.
    expect(requiredRoles(manifestFor(3), false)).not.toContain('AuditLogsQuery.Read.All');
    expect(diffPermissions(manifestFor(3), false, v3Granted).backfillMissing).toEqual([]);
  });
});
