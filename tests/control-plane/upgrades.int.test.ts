import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCES } from '../../runtime/index.ts';
import { manifestFor, manifestSources } from '../../control-plane/permission-manifest.ts';
import { UPGRADE_ROLES, V1_MANIFEST_ROLES, V3_NEW_ROLES } from '../helpers/app-registration-roles.ts';
import { startHarness, type Harness } from './helpers/harness.ts';

/**
 * A release moves every connected organization from manifest version 1 to 2 (configuration
 * PERMISSION_MANIFEST_VERSION): with auto-upgrade the control plane assigns the new role through Graph
 * appRoleAssignedTo and re-verifies; without it the upgrade waits for approval, the source that needs the role is
 * paused and the others keep flowing; approval runs a new consent.
 */
/** How many sources manifest version 2 collects (the sources of version 3 did not exist yet). */
const V2_SOURCES = manifestSources(manifestFor(2)).length;

describe('permission upgrades', () => {
  let h: Harness;
  let auto: { orgId: string; tenantId: string };
  let manual: { orgId: string; tenantId: string; admin: string };
  let noGrant: { orgId: string };

  beforeAll(async () => {
    h = await startHarness({ env: { PERMISSION_MANIFEST_VERSION: '1' }, appRoles: [...V1_MANIFEST_ROLES, ...UPGRADE_ROLES] });
    const ta = await h.tenant();
    auto = { orgId: await h.connectOrg(ta, { autoUpgrade: true }), tenantId: ta.tenantId };
    const tb = await h.tenant();
    manual = { orgId: await h.connectOrg(tb, { autoUpgrade: false }), tenantId: tb.tenantId, admin: tb.adminAccount };
    // An organization that chose auto-upgrade while the app registration did not yet declare the roles it needs.
    await h.control.patchApp({ requiredRoles: V1_MANIFEST_ROLES });
    const tc = await h.tenant();
    noGrant = { orgId: await h.connectOrg(tc, { autoUpgrade: true }) };
    await h.control.patchApp({ requiredRoles: [...V1_MANIFEST_ROLES, ...UPGRADE_ROLES] });
  });
  afterAll(async () => {
    await h?.close();
  });

  const status = async (orgId: string) => (await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`)).body;
  const actions = async (orgId: string) =>
    (await h.api('GET', `/organizations/${orgId}/history`)).body.items.map((i: { action: string }) => i.action) as string[];

  it('starts on manifest version 1 with every source flowing', async () => {
    for (const orgId of [auto.orgId, manual.orgId]) {
      const s = await status(orgId);
      expect(s).toMatchObject({ status: 'waiting_for_first_events', manifestVersion: 1, pendingUpgrade: null });
      expect(s.permissions.granted).not.toContain('UserAuthenticationMethod.Read.All');
    }
    expect((await status(auto.orgId)).permissions.required).toEqual(expect.arrayContaining(UPGRADE_ROLES));
    expect((await status(manual.orgId)).permissions.required).not.toContain('AppRoleAssignment.ReadWrite.All');
  });

  it('auto-upgrade without the role-assignment grant waits for consent but pauses no source', async () => {
    const s = await status(noGrant.orgId);
    expect(s).toMatchObject({ status: 'needs_attention', reason: 'upgrade_pending' });
    expect([...s.pendingUpgrade.missingRoles].sort()).toEqual([...UPGRADE_ROLES].sort());
    expect(s.pendingUpgrade.why).toContain('AppRoleAssignment.ReadWrite.All');
    expect(s.pendingUpgrade.pausedSources).toEqual([]);
    expect(s.sources.filter((x: { state: string }) => x.state === 'paused')).toEqual([]);
  });

  it('after moving to version 2, auto-upgrade assigns the new role in the tenant and re-verifies', async () => {
    await h.restart({ PERMISSION_MANIFEST_VERSION: '2' });
    await h.cp.verifyNow();

    const s = await status(auto.orgId);
    expect(s).toMatchObject({ status: 'waiting_for_first_events', manifestVersion: 2, pendingUpgrade: null, reason: null });
    expect(s.permissions.granted).toContain('UserAuthenticationMethod.Read.All');
    expect(s.permissions.missing).toEqual([]);
    // The assignment really happened in the customer tenant.
    const tenant = await h.control.getTenant(auto.tenantId);
    expect(tenant.servicePrincipal?.roles).toContain('UserAuthenticationMethod.Read.All');
    expect(await actions(auto.orgId)).toEqual(expect.arrayContaining(['manifest.changed', 'upgrade.assigned', 'permissions.changed']));
    const value = await h.tenantsValue(auto.orgId);
    expect(value?.connection).toMatchObject({ manifestVersion: 2, polling: { enabled: true, paused: [] } });
    expect(value?.connection?.polling.sources).toContain('graph:userRegistrationDetails');
  });

  it('without auto-upgrade the upgrade is pending: only the source needing the new role pauses', async () => {
    const s = await status(manual.orgId);
    expect(s).toMatchObject({ status: 'needs_attention', reason: 'upgrade_pending', manifestVersion: 2 });
    expect(s.pendingUpgrade.missingRoles).toEqual(['UserAuthenticationMethod.Read.All']);
    expect(s.pendingUpgrade.pausedSources).toEqual(['graph:userRegistrationDetails']);
    expect(new URL(s.pendingUpgrade.consentUrl).pathname).toBe(`/${manual.tenantId}/oauth2/v2.0/authorize`);
    const asViewer = (await h.api('GET', `/organizations/${manual.orgId}/applications/microsoft-manage`, undefined, 'test-viewer-token-0123456789')).body;
    expect(asViewer.pendingUpgrade).toMatchObject({ missingRoles: ['UserAuthenticationMethod.Read.All'], consentUrl: null });
    expect(s.sources.find((x: { name: string }) => x.name === 'graph:userRegistrationDetails')).toMatchObject({ state: 'paused', reason: 'upgrade_pending' });
    const value = await h.tenantsValue(manual.orgId);
    expect(value?.connection?.polling.paused).toEqual([
      { source: 'graph:userRegistrationDetails', reason: 'upgrade_pending', missingRoles: ['UserAuthenticationMethod.Read.All'] },
    ]);
    expect(value?.connection?.polling.sources).toHaveLength(V2_SOURCES - 1);
    expect(value?.connection?.polling.enabled).toBe(true);
    const tenant = await h.control.getTenant(manual.tenantId);
    expect(tenant.servicePrincipal?.roles).not.toContain('UserAuthenticationMethod.Read.All');
  });

  it('approving the upgrade runs a new consent; afterwards every source flows', async () => {
    // The release also declares the new permission on the app registration.
    await h.control.patchApp({ requiredRoles: [...V1_MANIFEST_ROLES, ...UPGRADE_ROLES, 'UserAuthenticationMethod.Read.All'] });
    const viewer = await h.api(
      'POST',
      `/organizations/${manual.orgId}/applications/microsoft-manage/upgrades/approve`,
      undefined,
      'test-viewer-token-0123456789',
    );
    expect(viewer.status).toBe(403);
    const approve = await h.api('POST', `/organizations/${manual.orgId}/applications/microsoft-manage/upgrades/approve`);
    expect(approve.status).toBe(200);
    const result = await h.consent(approve.body.consentUrl, manual.admin);
    expect(result.status).toBe(200);
    const s = await status(manual.orgId);
    expect(s).toMatchObject({ status: 'waiting_for_first_events', pendingUpgrade: null, reason: null });
    expect(await actions(manual.orgId)).toEqual(expect.arrayContaining(['upgrade.pending', 'upgrade.approved', 'upgrade.completed']));
    const value = await h.tenantsValue(manual.orgId);
    expect(value?.connection?.polling.paused).toEqual([]);
    expect(value?.connection?.polling.sources).toHaveLength(V2_SOURCES);
    const again = await h.api('POST', `/organizations/${manual.orgId}/applications/microsoft-manage/upgrades/approve`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('no_pending_upgrade');
  });

  it('switching auto-upgrade changes only what is required for authorization handling', async () => {
    const on = await h.api('PATCH', `/organizations/${manual.orgId}/applications/microsoft-manage`, { autoUpgrade: true });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ autoUpgrade: true, pendingUpgrade: null });
    expect(on.body.permissions.required).toEqual(expect.arrayContaining(UPGRADE_ROLES));
    const off = await h.api('PATCH', `/organizations/${auto.orgId}/applications/microsoft-manage`, { autoUpgrade: false });
    expect(off.body.autoUpgrade).toBe(false);
    expect(off.body.permissions.required).not.toContain('AppRoleAssignment.ReadWrite.All');
    expect((await h.tenantsValue(auto.orgId))?.connection?.polling.sources).toHaveLength(V2_SOURCES);
    expect(await actions(auto.orgId)).toContain('connection.auto_upgrade_changed');
  });

  it('version 3: the organization now on auto-upgrade gets the Defender roles; the other pauses only the Defender sources', async () => {
    // The release declares the new roles on the app registration (auto-upgrade assigns only what the tenant's Graph offers).
    await h.control.patchApp({ requiredRoles: [...V1_MANIFEST_ROLES, ...UPGRADE_ROLES, 'UserAuthenticationMethod.Read.All', ...V3_NEW_ROLES] });
    await h.restart({ PERMISSION_MANIFEST_VERSION: '3' });
    await h.cp.verifyNow();
    // The previous test switched auto-upgrade on for `manual` and off for `auto`.
    const upgraded = await status(manual.orgId);
    expect(upgraded).toMatchObject({ manifestVersion: 3, pendingUpgrade: null });
    expect(upgraded.permissions.granted).toEqual(expect.arrayContaining(V3_NEW_ROLES));
    expect((await h.control.getTenant(manual.tenantId)).servicePrincipal?.roles).toEqual(expect.arrayContaining(V3_NEW_ROLES));
    const upgradedValue = await h.tenantsValue(manual.orgId);
    expect(upgradedValue?.connection?.polling.paused).toEqual([]);
    expect(upgradedValue?.connection?.polling.sources).toEqual(
      expect.arrayContaining(['graph:securityAlerts', 'graph:securityIncidents', 'graph:provisioning', 'graph:servicePrincipalRiskDetections']),
    );

    const pending = await status(auto.orgId);
    expect(pending).toMatchObject({ status: 'needs_attention', reason: 'upgrade_pending', manifestVersion: 3 });
    expect([...pending.pendingUpgrade.missingRoles].sort()).toEqual([...V3_NEW_ROLES].sort());
    expect([...pending.pendingUpgrade.pausedSources].sort()).toEqual(['graph:securityAlerts', 'graph:securityIncidents']);
    const value = await h.tenantsValue(auto.orgId);
    // Everything else keeps flowing, the sources new in version 3 that need roles granted long ago included.
    expect(value?.connection?.polling.sources).toEqual(
      expect.arrayContaining(['graph:provisioning', 'graph:servicePrincipalRiskDetections', 'graph:signIns', 'management:DLP.All']),
    );
    expect(value?.connection?.polling.sources).toHaveLength(SOURCES.length - 2);
  });

  it('version 3: a tenant that declined ActivityFeed.ReadDlp collects DLP without sensitive data and the status says so', async () => {
    await h.control.patchApp({ requiredRoles: [...V1_MANIFEST_ROLES.filter((r) => r !== 'ActivityFeed.ReadDlp'), ...V3_NEW_ROLES] });
    const t = await h.tenant();
    const orgId = await h.connectOrg(t, { autoUpgrade: false });
    const s = await status(orgId);
    expect(s).toMatchObject({ manifestVersion: 3, pendingUpgrade: null, reason: null });
    expect(s.permissions.required).not.toContain('ActivityFeed.ReadDlp');
    const dlp = s.sources.find((x: { name: string }) => x.name === 'management:DLP.All');
    expect(dlp.state).not.toBe('paused');
    expect(dlp.message).toContain('without the sensitive data DLP detected: ActivityFeed.ReadDlp not granted');
    // Least privilege: registration details flow with AuditLog.Read.All alone.
    expect(s.sources.find((x: { name: string }) => x.name === 'graph:userRegistrationDetails').state).not.toBe('paused');
    expect((await h.tenantsValue(orgId))?.connection?.polling.sources).toHaveLength(SOURCES.length);
  });
  it('version 4: auto-upgrade gets the back-fill role; a tenant without it sees the upgrade pending, every source flowing, still not held up', async () => {
    const v3Roles = [...V1_MANIFEST_ROLES.filter((r) => r !== 'ActivityFeed.ReadDlp'), ...V3_NEW_ROLES];
    await h.control.patchApp({ requiredRoles: v3Roles });
    const t = await h.tenant();
    const declined = await h.connectOrg(t, { autoUpgrade: false });
    // The release declares the back-fill role on the app registration; the organization consented before it.
    await h.control.patchApp({ requiredRoles: [...v3Roles, ...UPGRADE_ROLES, 'AuditLogsQuery.Read.All'] });
    await h.restart({ PERMISSION_MANIFEST_VERSION: '4' });
    await h.cp.verifyNow();

    const s = await status(declined);
    expect(s).toMatchObject({ manifestVersion: 4 });
    expect(s.pendingUpgrade.missingRoles).toEqual(['AuditLogsQuery.Read.All']);
    expect(s.pendingUpgrade.pausedSources).toEqual([]);
    // The pending back-fill role alone never makes the connection need attention.
    expect(s.status).not.toBe('needs_attention');
    expect(s.reason).toBeNull();
    const value = await h.tenantsValue(declined);
    expect(value?.connection?.polling.paused).toEqual([]);
    expect(value?.connection?.polling.sources).toHaveLength(SOURCES.length);
    expect(value?.connection?.polling.backfillMissingRoles).toEqual(['AuditLogsQuery.Read.All']);
    expect(await actions(declined)).toContain('upgrade.pending');

    // `manual` has auto-upgrade on since the earlier test: the control plane assigns the role itself.
    const upgraded = await status(manual.orgId);
    expect(upgraded).toMatchObject({ manifestVersion: 4, pendingUpgrade: null });
    expect(upgraded.permissions.granted).toContain('AuditLogsQuery.Read.All');
    expect((await h.control.getTenant(manual.tenantId)).servicePrincipal?.roles).toContain('AuditLogsQuery.Read.All');
    expect((await h.tenantsValue(manual.orgId))?.connection?.polling.backfillMissingRoles).toEqual([]);
  });
});
