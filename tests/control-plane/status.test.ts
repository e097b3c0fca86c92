import { describe, expect, it } from 'vitest';
import { SOURCES, type KafkaClient, type Logger, type SourceName, type SourceStatus } from '../../runtime/index.ts';
import type { OrganizationRecord } from '../../control-plane/organization-store.ts';
import { computeStatus, REASONS, CONNECTION_REASONS } from '../../control-plane/status.ts';
import { SourceStatusView } from '../../control-plane/source-status-view.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const NOW = Date.parse('2026-01-10T12:00:00Z');

function record(
  over: {
    tenantId?: string | null;
    verification?: OrganizationRecord['controlPlane']['verification'];
    enabled?: boolean;
    connectedAt?: string | null;
    paused?: Array<{ source: SourceName; missingRoles: string[] }>;
    pending?: boolean;
  } = {},
): OrganizationRecord {
  const paused = over.paused ?? [];
  return {
    schemaVersion: 1,
    orgId: 'org_test1',
    orgName: 'Test',
    revision: 3,
    updatedAt: new Date(NOW).toISOString(),
    connection: {
      cloud: 'commercial',
      tenantId: over.tenantId === undefined ? TENANT : over.tenantId,
      status: 'waiting_for_first_events',
      autoUpgrade: false,
      manifestVersion: 2,
      requiredRoles: [],
      grantedRoles: [],
      polling: {
        enabled: over.enabled ?? true,
        sources: SOURCES.filter((s) => !paused.some((p) => p.source === s)),
        paused: paused.map((p) => ({ ...p, reason: 'upgrade_pending' })),
        refetchGeneration: 0,
        refetchFrom: null,
      },
      connectedAt: over.connectedAt === undefined ? '2026-01-10T11:00:00Z' : over.connectedAt,
    },
    controlPlane: {
      createdAt: '2026-01-10T10:00:00Z',
      requestedTenant: null,
      pendingUpgrade: over.pending
        ? { missingRoles: ['UserAuthenticationMethod.Read.All'], manifestVersion: 2, requestedAt: '2026-01-10T11:00:00Z', why: 'auto-upgrade is off' }
        : null,
      verification: over.verification === undefined ? { at: '2026-01-10T11:59:00Z', ok: true, reason: null, message: null, aadsts: null } : over.verification,
      consent: null,
      consumedNonces: [],
      history: [],
    },
  };
}

function report(source: SourceName, over: Partial<SourceStatus> = {}): SourceStatus {
  return {
    schemaVersion: 1,
    orgId: 'org_test1',
    tenantId: TENANT,
    source,
    state: 'ok',
    reason: null,
    message: null,
    licenceRequired: null,
    lastSuccessAt: new Date(NOW - 60_000).toISOString(),
    lastErrorAt: null,
    lastEventAt: new Date(NOW - 120_000).toISOString(),
    firstEventAt: new Date(NOW - 3_600_000).toISOString(),
    lagSeconds: 300,
    hoursUntilDataLoss: null,
    gaps: [],
    counts: { recordsPublished: 10, duplicatesSkipped: 0, deadLettered: 0, errors: 0, events24h: 10 },
    updatedAt: new Date(NOW - 30_000).toISOString(),
    ...over,
  };
}

const statuses = (...reports: SourceStatus[]) => new Map(reports.map((r) => [r.source as string, r]));
const compute = (r: OrganizationRecord, s = statuses()) => computeStatus({ record: r, sourceStatuses: s, now: NOW, expectedLagSeconds: 3600 });

describe('status computation', () => {
  it('has a message and a remedy for every reason', () => {
    for (const reason of CONNECTION_REASONS) {
      expect(REASONS[reason].message.length).toBeGreaterThan(10);
      expect(REASONS[reason].remedy.length).toBeGreaterThan(10);
    }
  });

  it('connecting before consent, waiting for first events after verification, active once events arrive', () => {
    expect(compute(record({ tenantId: null, verification: null, connectedAt: null, enabled: false })).status).toBe('connecting');
    const waiting = compute(record());
    expect(waiting.status).toBe('waiting_for_first_events');
    expect(waiting.sources.every((s) => s.state === 'waiting')).toBe(true);
    const active = compute(record(), statuses(report('graph:signIns')));
    expect(active).toMatchObject({ status: 'active', reason: null, lastEventAt: new Date(NOW - 120_000).toISOString() });
    expect(active.sources.find((s) => s.name === 'graph:signIns')).toMatchObject({ state: 'ok', events24h: 10 });
  });

  it.each([
    ['consent_revoked', 700016],
    ['secret_expired', 7000222],
    ['secret_invalid', 7000215],
    ['tenant_not_found', 90002],
  ] as const)('needs attention for a failed verification: %s', (reason, aadsts) => {
    const view = compute(record({ verification: { at: 'x', ok: false, reason, message: `AADSTS${aadsts}: …`, aadsts } }), statuses(report('graph:signIns')));
    expect(view).toMatchObject({ status: 'needs_attention', reason, remedy: REASONS[reason].remedy });
    expect(view.message).toContain(`AADSTS${aadsts}`);
  });

  it('a missing licence marks only that source and leaves the connection active', () => {
    const view = compute(
      record(),
      statuses(
        report('graph:signIns', { state: 'unavailable_licence', reason: 'licence_missing', licenceRequired: 'Microsoft Entra ID P1', lastEventAt: null }),
        report('graph:directoryAudits'),
      ),
    );
    expect(view.status).toBe('active');
    expect(view.sources.find((s) => s.name === 'graph:signIns')).toMatchObject({
      state: 'unavailable_licence',
      reason: 'licence_missing',
      remedy: REASONS.licence_missing.remedy,
    });
  });

  it("shows a source's data-loss markers with their interval, and none where there are none", () => {
    const gap = {
      from: '2026-11-20T10:00:00.000Z',
      to: '2026-11-20T12:30:00.000Z',
      cause: 'subscription_restarted' as const,
      recordedAt: '2026-11-20T12:30:00.000Z',
    };
    const view = compute(
      record(),
      statuses(
        report('management:Audit.Exchange', { state: 'degraded', reason: 'data_loss_risk', message: 'data lost: Microsoft will never serve …', gaps: [gap] }),
        report('graph:signIns'),
      ),
    );
    expect(view.sources.find((s) => s.name === 'management:Audit.Exchange')).toMatchObject({ state: 'degraded', reason: 'data_loss_risk', gaps: [gap] });
    expect(view.sources.find((s) => s.name === 'graph:signIns')?.gaps).toBeUndefined();
  });

  it.each(['audit_logging_off', 'subscription_disabled', 'throttled'] as const)(
    'a failing source reported as %s makes the connection need attention',
    (reason) => {
      const view = compute(record(), statuses(report('management:Audit.Exchange', { state: 'failing', reason }), report('graph:signIns')));
      expect(view).toMatchObject({ status: 'needs_attention', reason, remedy: REASONS[reason].remedy });
    },
  );

  it('lagging beyond the expected delay, counting time since the last report', () => {
    expect(compute(record(), statuses(report('graph:signIns', { lagSeconds: 4000 }))).reason).toBe('lagging');
    const stale = report('graph:signIns', { lagSeconds: 60, updatedAt: new Date(NOW - 2 * 3600_000).toISOString() });
    expect(compute(record(), statuses(stale))).toMatchObject({ status: 'needs_attention', reason: 'lagging' });
  });

  it('a pending upgrade needs attention and shows paused sources, credentials problems win over it', () => {
    const paused = [{ source: 'graph:userRegistrationDetails' as const, missingRoles: ['UserAuthenticationMethod.Read.All'] }];
    const view = compute(record({ paused, pending: true }), statuses(report('graph:signIns')));
    expect(view).toMatchObject({ status: 'needs_attention', reason: 'upgrade_pending' });
    expect(view.sources.find((s) => s.name === 'graph:userRegistrationDetails')).toMatchObject({ state: 'paused', reason: 'upgrade_pending' });
    const both = compute(record({ paused, pending: true, verification: { at: 'x', ok: false, reason: 'secret_expired', message: null, aadsts: 7000222 } }));
    expect(both.reason).toBe('secret_expired');
  });

  it('a stalled pipeline stage is never Active: needs attention with the stage and since when, cleared without it', () => {
    const active = statuses(...SOURCES.map((s) => report(s)));
    const stall = { stage: 'normalize' as const, topic: 'm365.raw', partition: 2, since: '2026-01-10T11:59:10.000Z', lagRecords: 900 };
    const stalled = computeStatus({ record: record(), sourceStatuses: active, now: NOW, expectedLagSeconds: 3600, pipelineStalls: [stall] });
    expect(stalled).toMatchObject({ status: 'needs_attention', reason: 'pipeline_stalled', remedy: REASONS.pipeline_stalled.remedy, pipelineStalls: [stall] });
    expect(stalled.message).toContain('The normalize stage has committed nothing on m365.raw partition 2 since 2026-01-10T11:59:10.000Z; 900 records wait.');
    // Before the first events too: a stall is what would keep them away.
    expect(computeStatus({ record: record(), sourceStatuses: statuses(), now: NOW, expectedLagSeconds: 3600, pipelineStalls: [stall] })).toMatchObject({
      status: 'needs_attention',
      reason: 'pipeline_stalled',
    });
    // Credentials still win: they are what the operator must fix first.
    const expired = record({ verification: { at: '2026-01-10T11:59:00Z', ok: false, reason: 'secret_expired', message: null, aadsts: 7000222 } });
    expect(computeStatus({ record: expired, sourceStatuses: active, now: NOW, expectedLagSeconds: 3600, pipelineStalls: [stall] }).reason).toBe(
      'secret_expired',
    );
    expect(computeStatus({ record: record(), sourceStatuses: active, now: NOW, expectedLagSeconds: 3600, pipelineStalls: [] })).toMatchObject({
      status: 'active',
      reason: null,
      pipelineStalls: [],
    });
  });

  it('disconnected when polling was stopped after a connection', () => {
    expect(compute(record({ enabled: false }), statuses(report('graph:signIns'))).status).toBe('disconnected');
  });

  it('ignores reports about another tenant', () => {
    const view = compute(record(), statuses(report('graph:signIns', { tenantId: '99999999-2222-3333-4444-555555555555' })));
    expect(view.status).toBe('waiting_for_first_events');
  });
});

describe('status view: new data-loss markers (the history entry, issue 18)', () => {
  it('tells each marker once, when the first report carrying it arrives, not on every later report', () => {
    const view = new SourceStatusView(null as unknown as KafkaClient, 'm365.status', null as unknown as Logger);
    const told: Array<{ orgId: string; source: string; from: string }> = [];
    view.onNewGaps = (orgId, source, gaps) => told.push(...gaps.map((g) => ({ orgId, source, from: g.from })));
    const gap = {
      from: '2026-12-01T00:00:00.000Z',
      to: '2026-12-01T03:00:00.000Z',
      cause: 'subscription_restarted' as const,
      recordedAt: '2026-12-01T03:00:00.000Z',
    };
    const send = (over: Partial<SourceStatus>) => {
      const r = report('management:Audit.Exchange', over);
      view.apply(`${r.orgId}|${r.source}`, Buffer.from(JSON.stringify(r)));
    };
    send({ updatedAt: new Date(NOW - 30_000).toISOString() });
    expect(told).toEqual([]);
    send({ gaps: [gap], updatedAt: new Date(NOW - 20_000).toISOString() });
    send({ gaps: [gap], updatedAt: new Date(NOW - 10_000).toISOString() });
    expect(told).toEqual([{ orgId: 'org_test1', source: 'management:Audit.Exchange', from: gap.from }]);
    const later = { ...gap, from: '2026-12-02T00:00:00.000Z', to: '2026-12-02T01:00:00.000Z' };
    send({ gaps: [gap, later], updatedAt: new Date(NOW).toISOString() });
    expect(told.map((t) => t.from)).toEqual([gap.from, later.from]);
  });
});
