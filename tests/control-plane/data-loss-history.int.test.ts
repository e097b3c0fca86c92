import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceStatus } from '../../runtime/index.ts';
import { eventually, startHarness, type Harness } from './helpers/harness.ts';

/** Issue 18: a subscription restart's data-loss interval is in the organization's history, once per marker. */
describe('data-loss markers in the history', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('one history entry per marker, however many reports carry it, also after a control-plane restart', async () => {
    const t = await h.tenant();
    const orgId = await h.connectOrg(t, { autoUpgrade: false });
    const gap = {
      from: '2026-12-01T00:00:00.000Z',
      to: '2026-12-01T03:00:00.000Z',
      cause: 'subscription_restarted' as const,
      recordedAt: new Date().toISOString(),
    };
    const report = (gaps: SourceStatus['gaps']): SourceStatus => ({
      schemaVersion: 1,
      orgId,
      tenantId: t.tenantId,
      source: 'management:Audit.Exchange',
      state: 'degraded',
      reason: 'data_loss_risk',
      message: 'data lost',
      licenceRequired: null,
      lastSuccessAt: new Date().toISOString(),
      lastErrorAt: null,
      lastEventAt: null,
      firstEventAt: null,
      lagSeconds: 5,
      hoursUntilDataLoss: null,
      gaps,
      counts: { recordsPublished: 0, duplicatesSkipped: 0, deadLettered: 0, errors: 0, events24h: 0 },
      updatedAt: new Date().toISOString(),
    });
    const entries = async () =>
      (await h.api('GET', `/organizations/${orgId}/history`)).body.items.filter((i: { action: string }) => i.action === 'data_loss.recorded') as Array<{
        message: string;
        detail: Record<string, unknown>;
      }>;
    await h.publishStatus(report([gap]));
    await h.publishStatus(report([gap]));
    await eventually(async () => (await entries()).length > 0, 20_000, 'the marker in the history');
    const [entry] = await entries();
    expect(entry?.detail).toMatchObject({ source: 'management:Audit.Exchange', from: gap.from, to: gap.to, cause: 'subscription_restarted' });
    expect(entry?.message).toContain(gap.from);

    // The restart replays m365.status from the beginning: nothing new. A second marker adds one entry.
    await h.restart();
    const later = { ...gap, from: '2026-12-02T00:00:00.000Z', to: '2026-12-02T01:00:00.000Z' };
    await h.publishStatus(report([gap, later]));
    await eventually(async () => (await entries()).length >= 2, 20_000, 'the second marker in the history');
    const all = await entries();
    expect(all.map((e) => e.detail.from).sort()).toEqual([gap.from, later.from]);
  });
});
