/**
 * Time arithmetic of the pollers, kept pure so it is unit-tested on its own: Management API listing windows,
 * Microsoft's date formats, and the 7-day retention limit.
 */

export const SECOND = 1_000;
export const HOUR = 3_600_000;
export const RETENTION_MS = 7 * 24 * HOUR;
/** Margin kept from Microsoft's 7-day limit so clock skew never turns a valid window into AF20055. */
export const RETENTION_MARGIN_MS = 5 * 60_000;

export interface TimeWindow {
  /** Inclusive, whole second. */
  readonly startMs: number;
  /** Exclusive, whole second. */
  readonly endMs: number;
}

export const floorSecond = (ms: number): number => Math.floor(ms / SECOND) * SECOND;

/** `YYYY-MM-DDTHH:MM:SS`, UTC, the most precise format /subscriptions/content documents. */
export function formatManagementTime(ms: number): string {
  return new Date(floorSecond(ms)).toISOString().slice(0, 19);
}

/** Graph DateTimeOffset literal for `$filter`: unquoted ISO-8601 UTC. */
export function formatGraphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Parses Microsoft dates liberally: with or without zone (`2015-06-29T20:03:19` is UTC), with fractional
 * seconds of any length. Returns null for anything else.
 */
export function parseMicrosoftDate(value: unknown): number | null {
  if (typeof value !== 'string' || value.length < 10) return null;
  let s = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z';
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s = `${s.replace(' ', 'T')}Z`;
  // JavaScript's Date accepts at most millisecond fractions reliably: trim longer ones (.1234567Z).
  s = s.replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : null;
}

/** Oldest listable instant now (Microsoft: startTime no older than 7 days), with a safety margin. */
export function oldestListable(nowMs: number): number {
  return floorSecond(nowMs - RETENTION_MS + RETENTION_MARGIN_MS);
}

export interface WindowPlan {
  /** Windows to list, oldest first, contiguous, each ≤ maxWindowMs. */
  readonly windows: TimeWindow[];
  /** Content between the cursor and the oldest listable instant that can no longer be fetched (ms), 0 if none. */
  readonly lostMs: number;
}

/**
 * Plans the listing windows of one cycle: from `cursor − overlap` (or `now − initialLookback` on first run)
 * to `now`, clamped to the 7-day limit, cut into windows of at most `maxWindowMs` on whole seconds.
 * The cursor itself is never moved here.
 */
export function planWindows(input: { cursorMs: number | null; nowMs: number; overlapMs: number; maxWindowMs: number; initialLookbackMs: number }): WindowPlan {
  const end = floorSecond(input.nowMs);
  const floor = oldestListable(input.nowMs);
  const wanted = input.cursorMs === null ? end - input.initialLookbackMs : input.cursorMs - input.overlapMs;
  const start = floorSecond(Math.max(wanted, floor));
  const lostMs = input.cursorMs !== null && input.cursorMs < floor ? floor - input.cursorMs : 0;
  const size = Math.max(SECOND, floorSecond(Math.min(input.maxWindowMs, 24 * HOUR)));
  const windows: TimeWindow[] = [];
  for (let s = start; s < end; s += size) windows.push({ startMs: s, endMs: Math.min(end, s + size) });
  return { windows, lostMs };
}

/** Hours left before content at `oldestPendingMs` passes Microsoft's retention (7 days unless given; may be negative). */
export function hoursUntilDataLoss(oldestPendingMs: number, nowMs: number, retentionMs = RETENTION_MS): number {
  return Math.round(((oldestPendingMs + retentionMs - nowMs) / HOUR) * 10) / 10;
}
