/**
 * Progress of an organization's long work (issue 17 item 7): the Audit Search back-fill and an operator's re-fetch,
 * read from what the connection status already carries per source (`backfill`, `refetch`). One pure reading for the
 * UI's progress bars and the CLI's `replay --refetch/--backfill --follow`, so both say the same figures.
 *
 * - Back-fill: Microsoft runs the audit log query first (no figures: an indeterminate bar), then its records are
 *   paged; the total is Microsoft's approximateReturnedRecordCount, the rate counts from when paging began.
 * - Re-fetch: each source's cursor went back from where it stood (`until`) to `from` and walks forward again; the
 *   progress is the history covered, summed over the sources, the rate hours of history per second since it began.
 */

/** The fields read from a source's `backfill` (the API's BackfillStatus, read leniently). */
export interface BackfillReading {
  generation?: number;
  state?: string;
  queryStatus?: string | null;
  recordsFetched?: number;
  recordsExpected?: number | null;
  published?: number;
  duplicates?: number;
  message?: string | null;
  startedAt?: string;
  fetchingStartedAt?: string | null;
  finishedAt?: string | null;
}

/** The fields read from a source's `refetch` (the API's RefetchStatus, read leniently). */
export interface RefetchReading {
  generation?: number;
  from?: string;
  until?: string;
  startedAt?: string;
  cursorAt?: string | null;
}

export interface SourceReading {
  name?: string;
  backfill?: BackfillReading | null;
  refetch?: RefetchReading | null;
}

export type WorkKind = 'backfill' | 'refetch';
export type WorkPhase = 'querying' | 'fetching' | 'catching_up' | 'done' | 'failed';

export interface WorkProgress {
  kind: WorkKind;
  generation: number;
  phase: WorkPhase;
  running: boolean;
  /** Units done and in all (null: not known yet, an indeterminate bar). */
  done: number;
  total: number | null;
  /** 0..1, null when indeterminate; below 1 while running (Microsoft's record count is approximate). */
  fraction: number | null;
  unit: 'records' | 'h of history';
  ratePerSecond: number | null;
  etaMs: number | null;
  elapsedMs: number;
  /** One line of words: what is happening, or how it ended. */
  summary: string;
}

const HOUR_MS = 3_600_000;
const RUNNING_CAP = 0.99;

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};

function rateAndEta(done: number, total: number | null, sinceMs: number | null, untilMs: number): { ratePerSecond: number | null; etaMs: number | null } {
  const elapsed = sinceMs === null ? 0 : untilMs - sinceMs;
  if (elapsed <= 0 || done <= 0) return { ratePerSecond: null, etaMs: null };
  const ratePerSecond = (done / elapsed) * 1000;
  const etaMs = total !== null && total > done ? ((total - done) / ratePerSecond) * 1000 : null;
  return { ratePerSecond, etaMs };
}

export function backfillProgress(b: BackfillReading, now: number): WorkProgress {
  const started = ms(b.startedAt) ?? now;
  const finished = ms(b.finishedAt);
  const fetchingSince = ms(b.fetchingStartedAt);
  const done = b.recordsFetched ?? 0;
  const expected = typeof b.recordsExpected === 'number' && b.recordsExpected > 0 ? b.recordsExpected : null;
  const base = { kind: 'backfill' as const, generation: b.generation ?? 0, unit: 'records' as const, done, elapsedMs: (finished ?? now) - started };
  switch (b.state) {
    case 'querying':
      return {
        ...base,
        phase: 'querying',
        running: true,
        total: null,
        fraction: null,
        ratePerSecond: null,
        etaMs: null,
        summary: `Microsoft is running the audit log query (${b.queryStatus ?? 'submitted'}); records follow when it has succeeded`,
      };
    case 'fetching': {
      const total = expected === null ? null : Math.max(expected, done);
      return {
        ...base,
        phase: 'fetching',
        running: true,
        total,
        fraction: total === null ? null : Math.min(RUNNING_CAP, done / total),
        ...rateAndEta(done, total, fetchingSince, now),
        summary: `fetching the audit log's records${b.published !== undefined ? `: ${b.published.toLocaleString('en-US')} new, ${(b.duplicates ?? 0).toLocaleString('en-US')} already collected` : ''}`,
      };
    }
    case 'succeeded':
      return {
        ...base,
        phase: 'done',
        running: false,
        total: done,
        fraction: 1,
        ...rateAndEta(done, null, fetchingSince, finished ?? now),
        summary: `done: ${done.toLocaleString('en-US')} records fetched, ${(b.published ?? 0).toLocaleString('en-US')} new, ${(b.duplicates ?? 0).toLocaleString('en-US')} already collected`,
      };
    default:
      return {
        ...base,
        phase: 'failed',
        running: false,
        total: null,
        fraction: null,
        ratePerSecond: null,
        etaMs: null,
        summary: b.message ?? `ended ${b.state ?? 'without a state'}`,
      };
  }
}

/** The latest re-fetch over every source that reports it (sources of an older generation are left out). */
export function refetchProgress(readings: readonly RefetchReading[], now: number): WorkProgress | null {
  const generation = Math.max(-1, ...readings.map((r) => r.generation ?? 0));
  const runs = readings
    .filter((r) => (r.generation ?? 0) === generation)
    .map((r) => ({ from: ms(r.from), until: ms(r.until), started: ms(r.startedAt), cursor: ms(r.cursorAt) }))
    .filter((r): r is { from: number; until: number; started: number | null; cursor: number | null } => r.from !== null && r.until !== null);
  if (runs.length === 0) return null;
  let doneMs = 0;
  let totalMs = 0;
  for (const r of runs) {
    const span = Math.max(0, r.until - r.from);
    totalMs += span;
    doneMs += Math.min(span, Math.max(0, (r.cursor ?? r.from) - r.from));
  }
  const started = Math.min(...runs.map((r) => r.started ?? now));
  const running = doneMs < totalMs;
  const hours = (v: number) => Math.round((v / HOUR_MS) * 10) / 10;
  const done = hours(doneMs);
  const total = hours(totalMs);
  const sources = `${runs.length} source${runs.length === 1 ? '' : 's'}`;
  return {
    kind: 'refetch',
    generation,
    phase: running ? 'catching_up' : 'done',
    running,
    done,
    total,
    unit: 'h of history',
    fraction: totalMs === 0 ? 1 : running ? Math.min(RUNNING_CAP, doneMs / totalMs) : 1,
    ...(running ? rateAndEta(done, total, started, now) : { ratePerSecond: null, etaMs: null }),
    elapsedMs: now - started,
    summary: running ? `re-polling Microsoft from ${new Date(Math.min(...runs.map((r) => r.from))).toISOString()} on ${sources}` : `done: ${sources} caught up`,
  };
}

/** The organization's long work, back-fill first; the back-fill is one job fed to every Management source. */
export function workProgressOf(sources: readonly SourceReading[] | undefined, now: number): WorkProgress[] {
  const out: WorkProgress[] = [];
  const backfills = (sources ?? []).map((s) => s.backfill).filter((b): b is BackfillReading => !!b);
  const latest = backfills.reduce<BackfillReading | null>((best, b) => (best === null || (b.generation ?? 0) > (best.generation ?? 0) ? b : best), null);
  if (latest) out.push(backfillProgress(latest, now));
  const refetch = refetchProgress(
    (sources ?? []).map((s) => s.refetch).filter((r): r is RefetchReading => !!r),
    now,
  );
  if (refetch) out.push(refetch);
  return out;
}

/** "1m05s", "42s", "2h03m". */
export function formatDuration(durationMs: number): string {
  const s = Math.max(0, Math.round(durationMs / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The figures of a progress as words: "42% · 1,200 of ~2,900 records · 340 records/s · ETA 5s". */
export function progressFigures(p: WorkProgress): string {
  const parts: string[] = [];
  const count = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
  if (p.fraction !== null) parts.push(`${Math.floor(p.fraction * 100)}%`);
  const approx = p.kind === 'backfill' && p.running ? '~' : '';
  parts.push(p.total !== null ? `${count(p.done)} of ${approx}${count(p.total)} ${p.unit}` : `${count(p.done)} ${p.unit}`);
  if (p.ratePerSecond !== null) parts.push(`${count(p.ratePerSecond)} ${p.unit === 'records' ? 'records' : 'h'}/s`);
  if (p.running && p.etaMs !== null) parts.push(`ETA ${formatDuration(p.etaMs)}`);
  else parts.push(`${p.running ? 'running for' : 'took'} ${formatDuration(p.elapsedMs)}`);
  return parts.join(' · ');
}
