import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASONS } from '../../control-plane/status.ts';
import { uniqueName } from '../helpers/resources.ts';
import { eventually, startHarness, statusReport, type Harness } from './helpers/harness.ts';

/**
 * A connection's life after consent: status from token verification and from the pollers' reports on
 * m365.status, revoked consent and repair, expired secret, deleted tenant, missing licence, audit logging off,
 * disconnect, and a restart that rebuilds everything from m365.tenants.
 */
describe('connection lifecycle', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const status = async (orgId: string) => (await h.api('GET', `/organizations/${orgId}/applications/microsoft-manage`)).body;
  const verify = async (orgId: string) => {
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/verify`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const actions = async (orgId: string) =>
    (await h.api('GET', `/organizations/${orgId}/history`)).body.items.map((i: { action: string }) => i.action) as string[];

  it('becomes active once the pollers report events', async () => {
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    expect((await status(orgId)).status).toBe('waiting_for_first_events');
    await h.publishStatus(statusReport(orgId, tenant.tenantId, 'graph:directoryAudits'));
    const active = await eventually(
      async () => {
        const s = await status(orgId);
        return s.status === 'active' ? s : null;
      },
      20_000,
      'active',
    );
    expect(active.lastEventAt).toBeTruthy();
    expect(active.sources.find((s: { name: string }) => s.name === 'graph:directoryAudits')).toMatchObject({ state: 'ok', events24h: 5 });
  });

  it('reports revoked consent with a repair remedy, and repair brings the connection back', async () => {
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    await h.control.revokeConsent(tenant.tenantId);
    const broken = await verify(orgId);
    expect(broken).toMatchObject({ status: 'needs_attention', reason: 'consent_revoked', remedy: REASONS.consent_revoked.remedy });
    expect(broken.message).toMatch(/AADSTS(700016|7000229)/);
    expect(await actions(orgId)).toContain('verification.failed');
    // Polling stays enabled: when consent is back the pollers resume from their cursors and fill the gap.
    expect((await h.tenantsValue(orgId))?.connection?.polling.enabled).toBe(true);

    const repair = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/repair`);
    expect(repair.status).toBe(200);
    const result = await h.consent(repair.body.consentUrl, tenant.adminAccount);
    expect(result.status).toBe(200);
    const fixed = await status(orgId);
    expect(fixed).toMatchObject({ status: 'waiting_for_first_events', reason: null });
    expect(await actions(orgId)).toEqual(expect.arrayContaining(['connection.repair_started', 'verification.recovered']));
  });

  it('reports an expired client secret, and recovers when the secret is valid again', async () => {
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    await h.control.setSecretExpired(true);
    try {
      const broken = await verify(orgId);
      expect(broken).toMatchObject({ status: 'needs_attention', reason: 'secret_expired', remedy: REASONS.secret_expired.remedy });
      expect(broken.message).toContain('AADSTS7000222');
    } finally {
      await h.control.setSecretExpired(false);
    }
    expect((await verify(orgId)).status).toBe('waiting_for_first_events');
  });

  it('reports a tenant that no longer exists', async () => {
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    await h.control.deleteTenant(tenant.tenantId);
    const broken = await verify(orgId);
    expect(broken).toMatchObject({ status: 'needs_attention', reason: 'tenant_not_found', remedy: REASONS.tenant_not_found.remedy });
  });

  it('marks only the report that needs a missing Entra ID licence, and the connection stays active', async () => {
    const tenant = await h.tenant({ licences: { entraP1: false, entraP2: false } });
    const orgId = await h.connectOrg(tenant);
    await h.publishStatus(
      statusReport(orgId, tenant.tenantId, 'graph:signIns', {
        state: 'unavailable_licence',
        reason: 'licence_missing',
        licenceRequired: 'Microsoft Entra ID P1',
        message: 'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
        lastEventAt: null,
        firstEventAt: null,
        counts: { recordsPublished: 0, duplicatesSkipped: 0, deadLettered: 0, errors: 1, events24h: 0 },
      }),
    );
    await h.publishStatus(statusReport(orgId, tenant.tenantId, 'management:Audit.Exchange'));
    const view = await eventually(
      async () => {
        const s = await status(orgId);
        const signIns = s.sources.find((x: { name: string }) => x.name === 'graph:signIns');
        return s.status === 'active' && signIns.state === 'unavailable_licence' ? s : null;
      },
      20_000,
      'licence state',
    );
    const signIns = view.sources.find((x: { name: string }) => x.name === 'graph:signIns');
    expect(signIns).toMatchObject({ reason: 'licence_missing', remedy: REASONS.licence_missing.remedy });
    expect(view.reason).toBeNull();
  });

  it("reports audit logging off from the pollers' status with its remedy", async () => {
    const tenant = await h.tenant({ auditLogging: false });
    const orgId = await h.connectOrg(tenant);
    await h.publishStatus(
      statusReport(orgId, tenant.tenantId, 'management:Audit.General', {
        state: 'failing',
        reason: 'audit_logging_off',
        lastEventAt: null,
        firstEventAt: null,
      }),
    );
    const view = await eventually(
      async () => {
        const s = await status(orgId);
        return s.reason === 'audit_logging_off' ? s : null;
      },
      20_000,
      'audit_logging_off',
    );
    expect(view).toMatchObject({ status: 'needs_attention', remedy: REASONS.audit_logging_off.remedy });
  });

  it('disconnects: polling stops, the tenant stays pinned and history says who did it', async () => {
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    const staleRepair = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/repair`);
    const res = await h.api('DELETE', `/organizations/${orgId}/applications/microsoft-manage`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'disconnected', tenantId: tenant.tenantId });
    const value = await h.tenantsValue(orgId);
    expect(value?.connection).toMatchObject({ status: 'disconnected', tenantId: tenant.tenantId, polling: { enabled: false } });
    const history = (await h.api('GET', `/organizations/${orgId}/history`)).body.items;
    expect(history.at(-1)).toMatchObject({ action: 'connection.disconnected', actor: { role: 'admin', label: 'test-operator' } });
    // Another tenant cannot be connected to this organization afterwards.
    const other = await h.tenant();
    const reconnect = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: other.tenantId,
    });
    expect(reconnect.status).toBe(409);
    expect(reconnect.body.error.code).toBe('tenant_pinned');
    // Repair is for broken connections, not disconnected ones; a repair link from before does nothing.
    expect((await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/repair`)).status).toBe(409);
    const stale = await h.consent(staleRepair.body.consentUrl, tenant.adminAccount);
    expect(stale).toMatchObject({ stage: 'callback', status: 409 });
    expect((await status(orgId)).status).toBe('disconnected');
    // Connecting again resumes polling for the same tenant.
    const again = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, { autoUpgrade: false, cloud: 'commercial' });
    expect(again.status).toBe(201);
    expect(new URL(again.body.consentUrl).pathname).toBe(`/${tenant.tenantId}/oauth2/v2.0/authorize`);
    expect((await h.consent(again.body.consentUrl, tenant.adminAccount)).status).toBe(200);
    expect(await status(orgId)).toMatchObject({ status: 'waiting_for_first_events', tenantId: tenant.tenantId });
    expect((await h.tenantsValue(orgId))?.connection?.polling.enabled).toBe(true);
  });

  it('rebuilds organizations, connections, history and used consent states from m365.tenants after a restart', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg('Survives restarts');
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: tenant.tenantId,
    });
    const consent = await h.consent(res.body.consentUrl, tenant.adminAccount);
    expect(consent.status).toBe(200);
    await h.api('PATCH', `/organizations/${orgId}`, { name: 'Renamed before restart' });
    const before = await status(orgId);
    const historyBefore = (await h.api('GET', `/organizations/${orgId}/history`)).body.items;

    await h.restart();

    const org = await h.api('GET', `/organizations/${orgId}`);
    expect(org.body).toMatchObject({ id: orgId, name: 'Renamed before restart' });
    const after = await status(orgId);
    expect(after).toMatchObject({ status: before.status, tenantId: tenant.tenantId, connectedAt: before.connectedAt, permissions: before.permissions });
    expect((await h.api('GET', `/organizations/${orgId}/history`)).body.items).toEqual(historyBefore);
    // The consumed nonce survived: the same callback is still refused.
    const replay = await fetch(consent.callbackUrl ?? '');
    expect(replay.status).toBe(409);
    const list = await h.api('GET', '/organizations');
    expect(list.body.items.map((o: { id: string }) => o.id)).toContain(orgId);
  });

  it('refuses the sign-in with the reason when our own credential is refused, and writes nothing', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg('Expired secret during sign-in');
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: tenant.tenantId,
    });
    await h.control.setSecretExpired(true);
    try {
      // The sign-in's code is redeemed with the registration's secret: an expired one stops the flow there.
      const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
      expect(result).toMatchObject({ stage: 'callback', status: 400 });
      expect(result.html).toContain('could not be verified');
      expect(result.html).toContain('client secret has expired');
    } finally {
      await h.control.setSecretExpired(false);
    }
    expect(await status(orgId)).toMatchObject({ status: 'connecting' });
    expect((await h.tenantsValue(orgId))?.connection?.polling.enabled).toBe(false);
  });

  it('answers the consent with a 4xx page and needs attention when the connection cannot be verified', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg('Application disabled during consent');
    const res = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: tenant.tenantId,
    });
    // App-only tokens of this tenant are refused (AADSTS7000112); the administrator's sign-in is not affected.
    const fault = await h.control.injectFault({ target: 'token', kind: 'aadsts', aadsts: 7000112, tenantId: tenant.tenantId });
    try {
      const result = await h.consent(res.body.consentUrl, tenant.adminAccount);
      expect(result).toMatchObject({ stage: 'callback', status: 424 });
      expect(result.html).toContain('could not be verified');
      expect(result.html).toContain('application is disabled');
    } finally {
      await h.control.clearFault(fault.id);
    }
    expect(await status(orgId)).toMatchObject({ status: 'needs_attention', reason: 'application_disabled' });
    expect((await h.tenantsValue(orgId))?.connection?.polling.enabled).toBe(false);
  });

  it('keeps history in its own topic, bounded in bytes: 300 long renames all succeed and the value ingest reads stays small', async () => {
    const maxBytes = 64 * 1024;
    await h.restart({ CONTROL_PLANE_HISTORY_MAX_BYTES: String(maxBytes) });
    const orgId = await h.createOrg('Often renamed');
    for (let i = 0; i < 300; i++) {
      const res = await h.api('PATCH', `/organizations/${orgId}`, { name: `${'Often renamed organization '.repeat(7)}${i}` });
      expect(res.status, `rename ${i}`).toBe(200);
    }
    const items = (await h.api('GET', `/organizations/${orgId}/history`)).body.items;
    expect(items.at(-1).detail.to).toMatch(/ 299$/);
    expect(items.length).toBeGreaterThan(50);
    const tenantsValue = (await h.kafka.readCompactedToEnd(h.topics.tenants, uniqueName('cp-reader'))).get(orgId);
    expect(tenantsValue!.length).toBeLessThan(2048);
    expect(JSON.parse(tenantsValue!.toString('utf8')).controlPlane.history).toBeUndefined();
    const chunks = [...(await h.kafka.readCompactedToEnd(`${h.topics.tenants}.history`, uniqueName('cp-reader'))).entries()].filter(
      ([key, v]) => key.startsWith(`${orgId}|`) && v !== null,
    );
    // Compaction may not have run yet: count only the latest value per key, as compaction will keep.
    expect(chunks.reduce((n, [, v]) => n + v!.length, 0)).toBeLessThanOrEqual(maxBytes);
    // A restart rebuilds the same history from the topic.
    await h.restart();
    expect((await h.api('GET', `/organizations/${orgId}/history`)).body.items).toEqual(items);
  });

  it('re-verifies periodically and notices revoked consent without anyone asking', async () => {
    await h.restart({ CONTROL_PLANE_VERIFY_INTERVAL_SECONDS: '1' });
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    await h.control.revokeConsent(tenant.tenantId);
    const view = await eventually(
      async () => {
        const s = await status(orgId);
        return s.reason === 'consent_revoked' ? s : null;
      },
      20_000,
      'periodic verification',
    );
    expect(view.status).toBe('needs_attention');
    await h.restart({ CONTROL_PLANE_VERIFY_INTERVAL_SECONDS: '0' });
  });

  it('deletes an organization with a tombstone', async () => {
    const orgId = await h.createOrg('Short-lived');
    expect((await h.api('DELETE', `/organizations/${orgId}`)).status).toBe(204);
    expect((await h.api('GET', `/organizations/${orgId}`)).status).toBe(404);
    expect(await h.tenantsValue(orgId)).toBeNull();
  });
});
