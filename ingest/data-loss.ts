import { isSignInSource, type DataLossCause, type DataLossGap, type SourceName } from '../runtime/index.ts';

/**
 * Visible gaps (docs/ingest.md "Gaps", decision 0150): the retention clock of every source and the data-loss markers
 * ingest records, in the checkpoint, for intervals Microsoft will never serve. Pure, unit-tested on its own.
 */

const DAY = 24 * 3_600_000;

/** What ingest knows of a tenant's Entra ID licence (decision 0151). */
export type LicenceTier = 'free' | 'p1' | 'p2';

/** A marker as kept in the checkpoint (ms), newest last. */
export interface GapMs {
  fromMs: number;
  toMs: number;
  cause: DataLossCause;
  recordedAtMs: number;
}

/** Markers kept per source; older ones stay in the organization's history, not in the checkpoint. */
export const MAX_GAPS = 20;

/**
 * How long Microsoft keeps a source's records, or null where it documents no limit (risky users) or the source is no
 * log (the registration snapshot, Defender alerts and incidents, whose retention is not Entra's).
 * - Management Activity API: content is listable 7 days after it became available (Activity API reference).
 * - Sign-ins, audit logs: Free 7 days, P1/P2 30 days ("Microsoft Entra data retention", activity reports); provisioning
 *   logs are audit-like Entra activity logs and take the same row.
 * - Risk detections: the "Risky sign-ins" row of the security signals table, Free 7, P1 30, P2 90 days.
 */
export function retentionMs(source: SourceName, tier: LicenceTier): number | null {
  if (source.startsWith('management:')) return 7 * DAY;
  if (isSignInSource(source) || source === 'graph:directoryAudits' || source === 'graph:provisioning') return (tier === 'free' ? 7 : 30) * DAY;
  if (source === 'graph:riskDetections' || source === 'graph:servicePrincipalRiskDetections') return (tier === 'free' ? 7 : tier === 'p1' ? 30 : 90) * DAY;
  return null;
}

/**
 * The retention a warning counts down from (the shortest the tier allows: an unknown tier warns as Free does) and the
 * one a marker claims loss against (the longest: an unknown tier never marks what a premium tenant still keeps).
 */
export function retentionFor(source: SourceName, tier: LicenceTier | null): { warnMs: number | null; markMs: number | null; note: string | null } {
  const warnMs = retentionMs(source, tier ?? 'free');
  const markMs = retentionMs(source, tier ?? 'p2');
  // Said in the status whenever the unknown tier changes the clock: the warning may come early, never late.
  const note = tier === null && warnMs !== markMs ? "licence tier unknown: counting Entra ID Free's 7 days" : null;
  return { warnMs, markMs, note };
}

/** The part of [cursor, now − retention) Microsoft no longer keeps, or null when nothing passed retention. */
export function passedRetention(cursorMs: number | null, nowMs: number, retention: number | null): { fromMs: number; toMs: number } | null {
  if (cursorMs === null || retention === null) return null;
  const floor = nowMs - retention;
  return cursorMs < floor ? { fromMs: cursorMs, toMs: floor } : null;
}

/**
 * Adds a marker, keeping markers disjoint: only the part of `gap` no earlier marker covers is added (an outage past
 * retention after a subscription restart is one loss, not two), so re-recording the same interval changes nothing.
 */
export function addGap(gaps: readonly GapMs[], gap: GapMs, max = MAX_GAPS): GapMs[] {
  let pieces = gap.toMs > gap.fromMs ? [{ fromMs: gap.fromMs, toMs: gap.toMs }] : [];
  for (const g of gaps) {
    pieces = pieces.flatMap((p) => {
      if (g.toMs <= p.fromMs || g.fromMs >= p.toMs) return [p];
      const left = g.fromMs > p.fromMs ? [{ fromMs: p.fromMs, toMs: g.fromMs }] : [];
      const right = g.toMs < p.toMs ? [{ fromMs: g.toMs, toMs: p.toMs }] : [];
      return [...left, ...right];
    });
  }
  if (pieces.length === 0) return [...gaps];
  const added = pieces.map((p) => ({ ...p, cause: gap.cause, recordedAtMs: gap.recordedAtMs }));
  return [...gaps, ...added].sort((a, b) => a.recordedAtMs - b.recordedAtMs || a.fromMs - b.fromMs).slice(-max);
}

export function gapView(g: GapMs): DataLossGap {
  return { from: new Date(g.fromMs).toISOString(), to: new Date(g.toMs).toISOString(), cause: g.cause, recordedAt: new Date(g.recordedAtMs).toISOString() };
}

const CAUSE_TEXT: Record<DataLossCause, string> = {
  subscription_started: 'the Management API serves nothing from before a subscription starts',
  subscription_restarted: 'the subscription was stopped or disabled; Microsoft does not serve what was published before it restarted',
  retention_passed: "the cursor fell behind Microsoft's retention",
};

export function gapMessage(g: GapMs): string {
  const v = gapView(g);
  return `data lost: Microsoft will never serve ${v.from} – ${v.to} (${CAUSE_TEXT[g.cause]})`;
}
