import { describe, expect, it } from 'vitest';
import type { MicrosoftManageApplication } from '../../control-plane/ui/app/logic/api-types.ts';
import { pendingRoles, permissionRows, sourceRow, statusView } from '../../control-plane/ui/app/logic/status-view.ts';

const base: MicrosoftManageApplication = {
  status: 'active',
  reason: null,
  remedy: null,
  tenantId: '11111111-2222-3333-4444-555555555555',
  cloud: 'commercial',
  autoUpgrade: true,
  permissions: { required: ['AuditLog.Read.All', 'ActivityFeed.Read'], granted: ['ActivityFeed.Read', 'AuditLog.Read.All'], missing: [] },
  pendingUpgrade: null,
  sources: [],
};

describe('statusView', () => {
  it('shows no application as not connected with the connect offer and no polling', () => {
    const v = statusView(null);
    expect(v).toMatchObject({ label: 'Not connected', showConnect: true, showDisconnect: false, transient: false, showRepair: false });
  });

  it('shows Active in green without actions to repair or approve', () => {
    const v = statusView(base);
    expect(v).toMatchObject({ label: 'Active', tone: 'ok', showRepair: false, showApprove: false, showConnect: false, showDisconnect: true, transient: false });
  });

  it('names each stalled stage with since when, and keeps polling so the recovery shows', () => {
    const v = statusView({
      ...base,
      status: 'needs_attention',
      reason: 'pipeline_stalled',
      remedy: 'Check the stalled stage',
      pipelineStalls: [{ stage: 'normalize', topic: 'm365.raw', partition: 2, since: '2026-01-10T11:59:10.000Z', lagRecords: 12_000 }],
    });
    expect(v).toMatchObject({ label: 'Needs attention', tone: 'error', transient: true, showRepair: false, reason: expect.stringContaining('pipeline stage') });
    expect(v.stalls).toEqual([
      {
        stage: 'normalize',
        since: '2026-01-10T11:59:10.000Z',
        text: 'Normalize stage stalled since 2026-01-10T11:59:10.000Z on m365.raw partition 2; 12,000 records wait.',
      },
    ]);
    expect(statusView(base).stalls).toEqual([]);
  });

  it('keeps polling while connecting and while waiting for first events', () => {
    expect(statusView({ ...base, status: 'connecting' })).toMatchObject({ transient: true, label: 'Waiting for consent', tone: 'progress' });
    expect(statusView({ ...base, status: 'waiting_for_first_events' })).toMatchObject({ transient: true, label: 'Waiting for first events' });
  });

  it('offers Repair for a revoked consent and words a reason code', () => {
    const v = statusView({ ...base, status: 'needs_attention', reason: 'consent_revoked', remedy: 'Run Repair and sign in as a Global Administrator.' });
    expect(v.showRepair).toBe(true);
    expect(v.tone).toBe('error');
    expect(v.reason).toMatch(/revoked/);
    expect(v.remedy).toMatch(/Repair/);
  });

  it('does not offer Repair for problems a consent cannot fix', () => {
    for (const reason of ['audit_logging_off', 'throttled', 'lagging', 'secret_expired']) {
      expect(statusView({ ...base, status: 'needs_attention', reason, remedy: 'Wait.' }).showRepair, reason).toBe(false);
    }
  });

  it('offers Approve, not Repair, for a pending upgrade', () => {
    const v = statusView({
      ...base,
      status: 'needs_attention',
      reason: 'upgrade_pending',
      remedy: 'Approve the pending upgrade.',
      pendingUpgrade: { missing: ['IdentityRiskyUser.Read.All'], consentUrl: 'https://login.example/consent' },
    });
    expect(v.showApprove).toBe(true);
    expect(v.showRepair).toBe(false);
  });

  it('offers the Connect form again after a disconnect', () => {
    expect(statusView({ ...base, status: 'disconnected' })).toMatchObject({ showConnect: true, showDisconnect: false, label: 'Disconnected' });
  });

  it('humanizes an unknown status instead of hiding it', () => {
    expect(statusView({ ...base, status: 'rate_limited_forever' }).label).toBe('Rate limited forever');
  });
});

describe('pendingRoles', () => {
  it('reads the roles from the pending upgrade, whatever its key, else the missing permissions', () => {
    expect(pendingRoles({ ...base, pendingUpgrade: { roles: ['A'] } })).toEqual(['A']);
    expect(pendingRoles({ ...base, pendingUpgrade: { missing: ['B'] } })).toEqual(['B']);
    expect(pendingRoles({ ...base, permissions: { missing: ['C'] }, pendingUpgrade: { consentUrl: 'x' } })).toEqual(['C']);
    expect(pendingRoles(base)).toEqual([]);
  });
});

describe('permissionRows', () => {
  it('lists missing required permissions first', () => {
    const rows = permissionRows({ ...base, permissions: { required: ['A.Read', 'B.Read', 'C.Read'], granted: ['A.Read', 'C.Read'], missing: ['B.Read'] } });
    expect(rows).toEqual([
      { role: 'B.Read', granted: false },
      { role: 'A.Read', granted: true },
      { role: 'C.Read', granted: true },
    ]);
  });
});

describe('sourceRow', () => {
  it('lists the intervals Microsoft will never serve, newest first, with why', () => {
    const r = sourceRow({
      name: 'management:Audit.Exchange',
      state: 'degraded',
      reason: 'data_loss_risk',
      gaps: [
        { from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', cause: 'subscription_started', recordedAt: '2026-11-02T00:00:00Z' },
        { from: '2026-11-20T10:00:00Z', to: '2026-11-20T12:30:00Z', cause: 'subscription_restarted', recordedAt: '2026-11-20T12:30:00Z' },
      ],
    });
    expect(r.gaps).toEqual([
      'Not served by Microsoft: 2026-11-20T10:00:00Z – 2026-11-20T12:30:00Z (subscription was stopped, then restarted)',
      'Not served by Microsoft: 2026-11-01T00:00:00Z – 2026-11-02T00:00:00Z (before the subscription started)',
    ]);
    expect(sourceRow({ name: 'graph:signIns', state: 'ok' }).gaps).toEqual([]);
  });

  it('says which report is empty for lack of which licence', () => {
    const r = sourceRow({ name: 'graph:riskyUsers', state: 'unavailable_licence', reason: 'licence_missing' });
    expect(r.licenceMissing).toBe('Microsoft Entra ID P2');
    expect(r.detail).toBe('This report is empty because the tenant has no Microsoft Entra ID P2 licence.');
    expect(r.label).toBe('Risky users (Graph)');
  });

  it('prefers the licence the API names (in the source message, as ingest writes it) over the source default', () => {
    const message = 'Authentication_RequestFromNonPremiumTenantOrB2CTenant: HTTP 403 — this source needs Microsoft Entra ID P2';
    const r = sourceRow({ name: 'graph:signIns', state: 'unavailable_licence', reason: 'licence_missing', message });
    expect(r.detail).toContain('Microsoft Entra ID P2 licence');
  });

  it('reads the licence from the control plane’s "needs …" message', () => {
    const r = sourceRow({ name: 'graph:riskDetections', state: 'unavailable_licence', reason: 'licence_missing', message: 'needs Microsoft Entra ID P1' });
    expect(r.licenceMissing).toBe('Microsoft Entra ID P1');
  });

  it('shows a healthy source as collecting with its counts', () => {
    const r = sourceRow({ name: 'management:Audit.SharePoint', state: 'ok', lastEventAt: '2026-11-26T07:00:00Z', events24h: 42 });
    expect(r).toMatchObject({ stateLabel: 'Collecting', tone: 'ok', events24h: 42, detail: null, licenceMissing: null });
  });

  it('keeps a failing source’s reason', () => {
    const r = sourceRow({ name: 'management:Audit.Exchange', state: 'failing', reason: 'subscription_disabled' });
    expect(r.tone).toBe('error');
    expect(r.detail).toMatch(/subscription is disabled/);
  });
});
