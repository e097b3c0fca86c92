import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BACKFILL_STATES, DATA_LOSS_CAUSES, SOURCES, type BackfillStatus, type RefetchStatus, type SourceName } from '../runtime/index.ts';
import { CompactIdSet } from './compact-id-set.ts';

/**
 * Cursor and completeness ledger per (organization, source), kept in the compacted topic m365.checkpoints.
 *
 * Keys:
 *   `${orgId}|${source}`            the checkpoint: cursor, content ids of the re-listed overlap, counts
 *   `${orgId}|${source}|ids|${n}`   segment n of the record-id ledger (hashes of ids published, within the horizon)
 *   `${orgId}|${source}|reg|${b}`   bucket b of the registration snapshot (graph:userRegistrationDetails)
 *
 * Every write happens in the same Kafka transaction as the records it accounts for, so the ledger says
 * "published" exactly when the records are committed (docs/decisions/0050).
 */

export const SEGMENT_CAPACITY = 2_000;
/** INGEST_DEDUP_HORIZON_MS's default (decision 0051); sizes the ledger's time buckets when none is given. */
export const DEFAULT_HORIZON_MS = 8 * 24 * 3_600_000;

const countsSchema = z.object({
  recordsPublished: z.number().int().nonnegative().default(0),
  duplicatesSkipped: z.number().int().nonnegative().default(0),
  deadLettered: z.number().int().nonnegative().default(0),
});

/** The Audit Search back-fill of this organization (docs/decisions/0155), kept on each Management source it feeds. */
export const backfillSchema = z.object({
  generation: z.number().int().nonnegative(),
  state: z.enum(BACKFILL_STATES),
  queryId: z.string().nullable(),
  queryStatus: z.string().nullable(),
  fromMs: z.number(),
  toMs: z.number(),
  recordsFetched: z.number().int().nonnegative(),
  published: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  message: z.string().nullable(),
  startedMs: z.number(),
  finishedMs: z.number().nullable(),
  /** Microsoft's approximateReturnedRecordCount of the succeeded query (the progress total), when it said. */
  recordsExpected: z.number().int().nonnegative().nullable().default(null),
  fetchingStartedMs: z.number().nullable().default(null),
});
export type Backfill = z.infer<typeof backfillSchema>;

/** The latest operator re-fetch of this source: the cursor went back from `untilMs` to `fromMs` at `startedMs`. */
export const refetchRunSchema = z.object({ generation: z.number().int().nonnegative(), fromMs: z.number(), untilMs: z.number(), startedMs: z.number() });
export type RefetchRun = z.infer<typeof refetchRunSchema>;

export const checkpointSchema = z.object({
  v: z.literal(1),
  orgId: z.string(),
  source: z.enum(SOURCES),
  tenantId: z.string(),
  /**
   * Management: every blob with contentCreated < cursor has been published (windows are start-inclusive,
   * end-exclusive). Graph: the watermark; the next cycle asks from cursor − lag.
   */
  cursorMs: z.number().nullable(),
  /** Management: hashes of content ids done (→ contentCreated ms) whose contentCreated can still be re-listed. */
  contentIds: z.record(z.string(), z.number()).default({}),
  segments: z.array(z.object({ n: z.number().int(), lastSeenMs: z.number(), count: z.number().int() })).default([]),
  nextSegment: z.number().int().nonnegative().default(0),
  refetchGeneration: z.number().int().nonnegative().default(0),
  refetch: refetchRunSchema.nullable().default(null),
  counts: countsSchema.default({ recordsPublished: 0, duplicatesSkipped: 0, deadLettered: 0 }),
  /** [hour since epoch, records published] for the last 24 hours (events24h). */
  hourly: z.array(z.tuple([z.number().int(), z.number().int()])).default([]),
  firstEventMs: z.number().nullable().default(null),
  lastEventMs: z.number().nullable().default(null),
  lastSuccessMs: z.number().nullable().default(null),
  /** graph:userRegistrationDetails only. */
  snapshot: z
    .object({ generation: z.number().int().nonnegative(), atMs: z.number().nullable(), buckets: z.number().int().positive() })
    .nullable()
    .default(null),
  backfill: backfillSchema.nullable().default(null),
  /** Data-loss markers: intervals Microsoft will never serve (ingest/data-loss.ts), newest last. */
  gaps: z.array(z.object({ fromMs: z.number(), toMs: z.number(), cause: z.enum(DATA_LOSS_CAUSES), recordedAtMs: z.number() })).default([]),
  /** Management: the last /subscriptions/start asked (Microsoft wants 15 minutes between them) and the last that started one. */
  subscription: z.object({ lastStartRequestMs: z.number().nullable(), startedAtMs: z.number().nullable() }).nullable().default(null),
  updatedAt: z.string().optional(),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

const segmentSchema = z.object({ v: z.literal(1), lastSeenMs: z.number(), ids: z.array(z.string()) });

export function checkpointKey(orgId: string, source: string): string {
  return `${orgId}|${source}`;
}
export function segmentKey(orgId: string, source: string, n: number): string {
  return `${orgId}|${source}|ids|${n}`;
}
export function bucketKey(orgId: string, source: string, b: number): string {
  return `${orgId}|${source}|reg|${b}`;
}

/** 66-bit hash of a record id: fixed size in memory and in the ledger, case-insensitive for GUIDs. */
export function idHash(id: string): string {
  return createHash('sha1').update(id.trim().toLowerCase()).digest('base64url').slice(0, 11);
}

export function emptyCheckpoint(orgId: string, source: SourceName, tenantId: string): Checkpoint {
  return {
    v: 1,
    orgId,
    source,
    tenantId,
    cursorMs: null,
    contentIds: {},
    segments: [],
    nextSegment: 0,
    refetchGeneration: 0,
    refetch: null,
    counts: { recordsPublished: 0, duplicatesSkipped: 0, deadLettered: 0 },
    hourly: [],
    firstEventMs: null,
    lastEventMs: null,
    lastSuccessMs: null,
    snapshot: null,
    backfill: null,
    gaps: [],
    subscription: null,
  };
}

/** The status view of a back-fill (times as ISO strings, the query id left out: it names nothing the operator needs). */
export function backfillStatusOf(b: Backfill | null): BackfillStatus | null {
  if (!b) return null;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    generation: b.generation,
    state: b.state,
    queryStatus: b.queryStatus,
    from: iso(b.fromMs),
    to: iso(b.toMs),
    recordsFetched: b.recordsFetched,
    published: b.published,
    duplicates: b.duplicates,
    message: b.message,
    startedAt: iso(b.startedMs),
    finishedAt: b.finishedMs === null ? null : iso(b.finishedMs),
    recordsExpected: b.recordsExpected,
    fetchingStartedAt: b.fetchingStartedMs === null ? null : iso(b.fetchingStartedMs),
  };
}

/** The status view of a source's latest re-fetch, with where its cursor stands now. */
export function refetchStatusOf(r: RefetchRun | null, cursorMs: number | null): RefetchStatus | null {
  if (!r) return null;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    generation: r.generation,
    from: iso(r.fromMs),
    until: iso(r.untilMs),
    startedAt: iso(r.startedMs),
    cursorAt: cursorMs === null ? null : iso(cursorMs),
  };
}

/** A message for the checkpoints topic (value null = tombstone). */
export interface CheckpointMessage {
  key: string;
  value: string | null;
}

/** Time buckets per horizon of the in-memory ledger: an id outlives the horizon by at most 1/32 of it. */
const BUCKETS_PER_HORIZON = 32;

/**
 * Record-id ledger of one (org, source): hashes in a compact time-bucketed set in memory (docs/decisions/0170),
 * persisted as append-only segments. Only the open segment's ids are also kept as strings, because a new
 * commit rewrites that segment whole.
 *
 * An id lives as long as the segment holding it: appending to a segment refreshes its `lastSeenMs`, so the
 * segment's earlier ids are added again at that time, into the current bucket.
 */
export class IdLedger {
  private readonly set: CompactIdSet;
  /** The open segment: its ids, and the bucket they were last all added to. */
  private open: { n: number; ids: string[]; bucket: number } | null = null;

  constructor(
    private readonly orgId: string,
    private readonly source: string,
    private readonly capacity = SEGMENT_CAPACITY,
    horizonMs = DEFAULT_HORIZON_MS,
  ) {
    this.set = new CompactIdSet(Math.max(1, Math.floor(horizonMs / BUCKETS_PER_HORIZON)));
  }

  has(hash: string): boolean {
    return this.set.has(hash);
  }

  /** Ids held (an id re-added in a newer bucket counts once per bucket). */
  get size(): number {
    return this.set.size;
  }

  /** Bytes of the in-memory id set (typed arrays), what a large tenant's memory is made of. */
  get bytes(): number {
    return this.set.bytes + (this.open?.ids.length ?? 0) * 40;
  }

  load(n: number, value: Buffer | string): void {
    const parsed = segmentSchema.safeParse(JSON.parse(value.toString()));
    if (!parsed.success) return;
    for (const id of parsed.data.ids) this.set.add(id, parsed.data.lastSeenMs);
    if (!this.open || n >= this.open.n) this.open = { n, ids: parsed.data.ids, bucket: this.set.bucketOf(parsed.data.lastSeenMs) };
  }

  /** Seals what `load` added into its compact form (called once a restore is complete). */
  compact(): void {
    this.set.compact();
  }

  /**
   * Plans the persistence of new hashes (already de-duplicated by the caller) on top of `cp`: returns the
   * segment messages to send and the checkpoint's new segment list. Nothing changes until `apply()`.
   */
  stage(
    cp: Checkpoint,
    hashes: readonly string[],
    nowMs: number,
  ): { messages: CheckpointMessage[]; segments: Checkpoint['segments']; nextSegment: number; apply: () => void } {
    const segs = cp.segments.map((s) => ({ ...s }));
    let next = cp.nextSegment;
    const writes = new Map<number, string[]>();
    let i = 0;
    while (i < hashes.length) {
      let open = segs[segs.length - 1];
      if (!open || open.count >= this.capacity) {
        open = { n: next++, lastSeenMs: nowMs, count: 0 };
        segs.push(open);
      }
      const room = this.capacity - open.count;
      const take = hashes.slice(i, i + room);
      const base = writes.get(open.n) ?? [...(this.open?.n === open.n ? this.open.ids : [])];
      base.push(...take);
      writes.set(open.n, base);
      open.count += take.length;
      open.lastSeenMs = nowMs;
      i += take.length;
    }
    const messages = [...writes.entries()].map(([n, ids]) => ({
      key: segmentKey(this.orgId, this.source, n),
      value: JSON.stringify({ v: 1, lastSeenMs: nowMs, ids }),
    }));
    return {
      messages,
      segments: segs,
      nextSegment: next,
      apply: () => {
        const bucket = this.set.bucketOf(nowMs);
        for (const [n, ids] of writes) {
          // A segment's earlier ids are already in this bucket unless the segment was last written in an older one.
          const earlier = this.open?.n === n && this.open.bucket === bucket ? this.open.ids.length : 0;
          for (let k = earlier; k < ids.length; k++) this.set.add(ids[k]!, nowMs);
          if (!this.open || n >= this.open.n) this.open = { n, ids, bucket };
        }
      },
    };
  }

  /** Segments whose newest id is older than the horizon: tombstones to send and the pruning to apply after. */
  stageExpiry(cp: Checkpoint, nowMs: number, horizonMs: number): { messages: CheckpointMessage[]; segments: Checkpoint['segments']; apply: () => void } {
    const expired = cp.segments.filter((s) => s.lastSeenMs < nowMs - horizonMs);
    // Buckets expire on their own clock, so the in-memory set is trimmed even when no segment ended this time.
    if (expired.length === 0) return { messages: [], segments: cp.segments, apply: () => this.set.expireBefore(nowMs - horizonMs) };
    const gone = new Set(expired.map((s) => s.n));
    return {
      messages: expired.map((s) => ({ key: segmentKey(this.orgId, this.source, s.n), value: null })),
      segments: cp.segments.filter((s) => !gone.has(s.n)),
      apply: () => {
        this.set.expireBefore(nowMs - horizonMs);
        if (this.open && gone.has(this.open.n)) this.open = null;
      },
    };
  }

  /** Forgets everything (operator-requested re-fetch): tombstones for every segment. */
  stageClear(cp: Checkpoint): { messages: CheckpointMessage[]; apply: () => void } {
    return {
      messages: cp.segments.map((s) => ({ key: segmentKey(this.orgId, this.source, s.n), value: null })),
      apply: () => {
        this.set.clear();
        this.open = null;
      },
    };
  }
}

/** Adds `count` records published at `nowMs` to the hourly counts, keeping the last 24 hours. */
export function addHourly(hourly: Checkpoint['hourly'], count: number, nowMs: number): Checkpoint['hourly'] {
  const hour = Math.floor(nowMs / 3_600_000);
  const kept = hourly.filter(([h]) => h > hour - 24);
  const last = kept[kept.length - 1];
  if (count === 0) return kept;
  if (last && last[0] === hour) return [...kept.slice(0, -1), [hour, last[1] + count]];
  return [...kept, [hour, count]];
}

export function events24h(hourly: Checkpoint['hourly'], nowMs: number): number {
  const hour = Math.floor(nowMs / 3_600_000);
  return hourly.filter(([h]) => h > hour - 24).reduce((sum, [, c]) => sum + c, 0);
}

export function serializeCheckpoint(cp: Checkpoint, nowMs: number): CheckpointMessage {
  return { key: checkpointKey(cp.orgId, cp.source), value: JSON.stringify({ ...cp, updatedAt: new Date(nowMs).toISOString() }) };
}

/**
 * The checkpoints topic as read at takeover: grouped by (org, source) and parsed on demand. Values that do not
 * parse are ignored (and reported) rather than crashing the service: the source then starts fresh, which
 * re-lists and relies on Microsoft's retention rather than losing the cursor silently.
 */
export class CheckpointSnapshot {
  private readonly byPrefix = new Map<string, Array<[string, Buffer]>>();

  constructor(entries: Map<string, Buffer | null>) {
    for (const [key, value] of entries) {
      if (value === null) continue;
      const parts = key.split('|');
      const prefix = `${parts[0]}|${parts[1]}`;
      let list = this.byPrefix.get(prefix);
      if (!list) {
        list = [];
        this.byPrefix.set(prefix, list);
      }
      list.push([key, value]);
    }
  }

  /** The checkpoint and ledgers of one (org, source), or fresh ones. */
  restore(
    orgId: string,
    source: SourceName,
    tenantId: string,
    horizonMs = DEFAULT_HORIZON_MS,
  ): { checkpoint: Checkpoint; ids: IdLedger; buckets: Map<number, Buffer>; problem: string | null } {
    const ids = new IdLedger(orgId, source, SEGMENT_CAPACITY, horizonMs);
    const buckets = new Map<number, Buffer>();
    const entries = this.byPrefix.get(checkpointKey(orgId, source)) ?? [];
    let checkpoint: Checkpoint | null = null;
    let problem: string | null = null;
    for (const [key, value] of entries) {
      const rest = key.slice(checkpointKey(orgId, source).length);
      try {
        if (rest === '') {
          const parsed = checkpointSchema.safeParse(JSON.parse(value.toString()));
          if (parsed.success) checkpoint = parsed.data;
          else problem = `checkpoint of ${source} does not parse: ${parsed.error.issues[0]?.message ?? ''}`;
        }
      } catch {
        problem = `checkpoint of ${source} is not JSON`;
      }
    }
    if (checkpoint && checkpoint.tenantId !== tenantId) {
      // A re-pinned tenant is another data set: never continue its cursor or ledger (guarantee 3).
      problem = `checkpoint belongs to tenant ${checkpoint.tenantId}, organization now pinned to ${tenantId}: starting fresh`;
      checkpoint = null;
    }
    if (!checkpoint) return { checkpoint: emptyCheckpoint(orgId, source, tenantId), ids, buckets, problem };
    const live = new Set(checkpoint.segments.map((s) => s.n));
    for (const [key, value] of entries) {
      const m = /\|(ids|reg)\|(\d+)$/.exec(key);
      if (!m) continue;
      const n = Number(m[2]);
      try {
        if (m[1] === 'ids' && live.has(n)) ids.load(n, value);
        if (m[1] === 'reg') buckets.set(n, value);
      } catch {
        problem = `ledger segment ${key} is not JSON`;
      }
    }
    ids.compact();
    return { checkpoint, ids, buckets, problem };
  }
}
