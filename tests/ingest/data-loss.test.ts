import { describe, expect, it } from 'vitest';
import { addGap, passedRetention, retentionFor, type GapMs } from '../../ingest/data-loss.ts';
import { ENTRA_P1_PLAN, ENTRA_P2_PLAN, tierOfPlans } from '../../ingest/licence-tier.ts';
import { startRetryAfterMs } from '../../ingest/management-activity-poller.ts';

const DAY = 24 * 3_600_000;
const gap = (fromMs: number, toMs: number, recordedAtMs = 100): GapMs => ({ fromMs, toMs, cause: 'retention_passed', recordedAtMs });

describe('data-loss markers', () => {
  it('adds only the part no earlier marker covers, so the same interval recorded twice is one marker', () => {
    const one = addGap([], gap(10, 20));
    expect(addGap(one, gap(10, 20))).toEqual(one);
    expect(addGap(one, gap(5, 25, 200))).toEqual([gap(10, 20), gap(5, 10, 200), gap(20, 25, 200)]);
    expect(addGap(one, gap(30, 30))).toEqual(one);
  });

  it('keeps the newest markers only', () => {
    let gaps: GapMs[] = [];
    for (let i = 0; i < 30; i++) gaps = addGap(gaps, gap(i * 10, i * 10 + 5, i), 20);
    expect(gaps).toHaveLength(20);
    expect(gaps[0]?.fromMs).toBe(100);
  });
});

describe('retention clock', () => {
  it('is 7 days for Management, and by licence for Graph logs: an unknown tier warns as Free and marks as premium', () => {
    expect(retentionFor('management:Audit.General', null)).toEqual({ warnMs: 7 * DAY, markMs: 7 * DAY, note: null });
    expect(retentionFor('graph:directoryAudits', 'free')).toEqual({ warnMs: 7 * DAY, markMs: 7 * DAY, note: null });
    expect(retentionFor('graph:signIns', 'p1')).toEqual({ warnMs: 30 * DAY, markMs: 30 * DAY, note: null });
    // A Free tenant whose tier could not be read is warned on Free's 7 days, and the status says why.
    expect(retentionFor('graph:directoryAudits', null)).toEqual({
      warnMs: 7 * DAY,
      markMs: 30 * DAY,
      note: "licence tier unknown: counting Entra ID Free's 7 days",
    });
    expect(retentionFor('graph:signIns', null).note).toMatch(/licence tier unknown/);
    expect(retentionFor('graph:riskDetections', 'p2').markMs).toBe(90 * DAY);
    expect(retentionFor('graph:riskyUsers', 'free')).toEqual({ warnMs: null, markMs: null, note: null });
    expect(retentionFor('graph:riskyUsers', null).note).toBeNull();
  });

  it('marks from the cursor to now − retention', () => {
    const now = 100 * DAY;
    expect(passedRetention(now - 10 * DAY, now, 7 * DAY)).toEqual({ fromMs: now - 10 * DAY, toMs: now - 7 * DAY });
    expect(passedRetention(now - 6 * DAY, now, 7 * DAY)).toBeNull();
    expect(passedRetention(null, now, 7 * DAY)).toBeNull();
  });

  it('reads the tier from the assigned plans (Enabled or Warning)', () => {
    expect(tierOfPlans([])).toBe('free');
    expect(tierOfPlans([{ servicePlanId: ENTRA_P1_PLAN, capabilityStatus: 'Enabled' }])).toBe('p1');
    expect(tierOfPlans([{ servicePlanId: ENTRA_P2_PLAN.toUpperCase(), capabilityStatus: 'Warning' }])).toBe('p2');
    expect(tierOfPlans([{ servicePlanId: ENTRA_P2_PLAN, capabilityStatus: 'Deleted' }])).toBe('free');
  });
});

describe('subscription start refusal', () => {
  it('reads the wait Microsoft names', () => {
    expect(startRetryAfterMs('Too many frequent subscription start requests. Please retry again after 14m 56s')).toBe((14 * 60 + 56) * 1000);
    expect(startRetryAfterMs('Too many requests.')).toBeUndefined();
  });
});
