import { GroupCommitQueue, SendLimits, type DeadLetterCode, type Logger, type SourceName, type Topics } from '../runtime/index.ts';
import { addHourly, idHash, serializeCheckpoint, type Checkpoint, type CheckpointMessage, type IdLedger } from './checkpoint-store.ts';
import type { IngestMetrics } from './metrics.ts';
import { envelopeMessage, type OutMessage, type TransactionalWriter } from './raw-publisher.ts';
import { deadLetterMessage } from './tenant-guard.ts';

const DEFAULT_LIMITS = new SendLimits(new Map());

/** A record ready to publish: Microsoft's record verbatim plus what ingest derived from it. */
export interface ReadyRecord {
  /** Stable identity for de-duplication: record Id (Management), id (+ version field for state-like Graph sources). */
  dedupKey: string;
  record: Record<string, unknown>;
  contentId?: string;
  /** Event time, for lastEventAt; null when the record has none. */
  eventMs: number | null;
}

export interface RefusedRecord {
  /** When set, a refused record is dead-lettered once per horizon, not on every re-read of an overlap. */
  dedupKey?: string;
  errorCode: DeadLetterCode;
  errorMessage: string;
  input: unknown;
}

/** One step of progress for a source: records to publish and how the checkpoint moves with them. */
export interface Change {
  records?: ReadyRecord[];
  deadLetters?: RefusedRecord[];
  /** Management: content ids fully handled by this change (contentId → contentCreated ms). */
  contentIdsDone?: Record<string, number>;
  /** New cursor; the checkpoint keeps the larger of old and new unless `rewind` is set. */
  cursorMs?: number;
  rewind?: boolean;
  success?: boolean;
  /** Extra checkpoint messages (registration snapshot buckets) and a checkpoint transformation. */
  extra?: CheckpointMessage[];
  mutate?: (cp: Checkpoint) => Checkpoint;
  /** Clears the record-id ledger (operator re-fetch). */
  clearIds?: boolean;
  /** Drops content ids older than this from the ledger. */
  pruneContentBeforeMs?: number;
}

export interface CommitResult {
  published: number;
  duplicates: number;
  deadLettered: number;
}

/**
 * The committed progress of one (organization, source) and the only way to move it. Changes submitted while a
 * commit is in flight are merged into the next transaction (source-level group commit); the in-memory state is
 * updated only after Kafka committed.
 */
export class SourceProgress {
  private readonly commits = new GroupCommitQueue<Change, CommitResult>((changes) => this.commitBatch(changes));

  constructor(
    readonly orgId: string,
    readonly tenantId: string,
    readonly source: SourceName,
    private checkpointState: Checkpoint,
    readonly ids: IdLedger,
    private readonly deps: {
      topics: Topics;
      writer: () => TransactionalWriter;
      metrics: IngestMetrics;
      logger: Logger;
      dedupHorizonMs: number;
      now: () => number;
      /** What the topics accept (read at start); without it, the broker's default limit. */
      limits?: SendLimits;
    },
  ) {}

  get checkpoint(): Checkpoint {
    return this.checkpointState;
  }

  /** Cursor reached by cycles that had nothing else to commit; planning uses it, a restart falls back to Kafka's. */
  private volatileCursor: { cursorMs: number; atMs: number } | null = null;

  /** Where the next cycle starts from: the committed cursor or, if further, the one reached since. */
  get effectiveCursorMs(): number | null {
    const committed = this.checkpointState.cursorMs;
    if (this.volatileCursor === null) return committed;
    return committed === null ? this.volatileCursor.cursorMs : Math.max(committed, this.volatileCursor.cursorMs);
  }

  get lastSuccessMs(): number | null {
    const committed = this.checkpointState.lastSuccessMs;
    return this.volatileCursor === null ? committed : Math.max(committed ?? 0, this.volatileCursor.atMs);
  }

  /**
   * Moves the cursor after a successful step. Committed at once when it moved at least `minStepMs` past the
   * committed cursor (or there is none yet); otherwise kept in memory only — safe, because a restart from the
   * older committed cursor only re-lists more, and the ledgers drop what was already published.
   */
  async advance(cursorMs: number, minStepMs: number, change: Omit<Change, 'cursorMs' | 'records' | 'deadLetters'> = {}): Promise<void> {
    const committed = this.checkpointState.cursorMs;
    if (committed !== null && cursorMs - committed < minStepMs && !change.extra && !change.mutate) {
      this.volatileCursor = { cursorMs: Math.max(cursorMs, this.volatileCursor?.cursorMs ?? cursorMs), atMs: this.deps.now() };
      return;
    }
    await this.commit({ ...change, cursorMs, success: true });
    this.volatileCursor = null;
  }

  /** True when this record id was published within the horizon (or is being published right now). */
  isKnown(dedupKey: string): boolean {
    return this.ids.has(idHash(dedupKey));
  }

  commit(change: Change): Promise<CommitResult> {
    return this.commits.submit(change);
  }

  private async commitBatch(changes: Change[]): Promise<CommitResult[]> {
    const now = this.deps.now();
    const fetchedAt = new Date(now).toISOString();
    const topics = this.deps.topics;
    let cp: Checkpoint = { ...this.checkpointState, counts: { ...this.checkpointState.counts }, contentIds: { ...this.checkpointState.contentIds } };
    const messages: OutMessage[] = [];
    const cpMessages: CheckpointMessage[] = [];
    const applies: Array<() => void> = [];
    const results: CommitResult[] = [];
    const fresh = new Set<string>();
    let clear = false;
    for (const change of changes) {
      if (change.clearIds) {
        const c = this.ids.stageClear(cp);
        cpMessages.push(...c.messages);
        applies.push(c.apply);
        cp = { ...cp, segments: [], contentIds: {} };
        clear = true;
      }
    }
    let totalPublished = 0;
    for (const change of changes) {
      const r: CommitResult = { published: 0, duplicates: 0, deadLettered: 0 };
      for (const rec of change.records ?? []) {
        const h = idHash(rec.dedupKey);
        if ((!clear && this.ids.has(h)) || fresh.has(h)) {
          r.duplicates++;
          continue;
        }
        fresh.add(h);
        messages.push(
          envelopeMessage(topics.raw.name, {
            orgId: this.orgId,
            tenantId: this.tenantId,
            source: this.source,
            ...(this.source.startsWith('management:') ? { contentType: this.source.slice('management:'.length) } : {}),
            ...(rec.contentId !== undefined ? { contentId: rec.contentId } : {}),
            fetchedAt,
            record: rec.record,
          }),
        );
        r.published++;
        if (rec.eventMs !== null) {
          cp.lastEventMs = Math.max(cp.lastEventMs ?? rec.eventMs, rec.eventMs);
          cp.firstEventMs = Math.min(cp.firstEventMs ?? rec.eventMs, rec.eventMs);
        }
      }
      for (const d of change.deadLetters ?? []) {
        if (d.dedupKey !== undefined) {
          const h = idHash(`refused:${d.dedupKey}`);
          if ((!clear && this.ids.has(h)) || fresh.has(h)) continue;
          fresh.add(h);
        }
        const maxBytes = (this.deps.limits ?? DEFAULT_LIMITS).maxRecordBytes(topics.deadLetter.name);
        messages.push(
          deadLetterMessage(
            topics.deadLetter.name,
            { orgId: this.orgId, source: this.source, errorCode: d.errorCode, errorMessage: d.errorMessage, input: d.input, nowMs: now },
            maxBytes,
          ),
        );
        r.deadLettered++;
      }
      if (change.contentIdsDone) Object.assign(cp.contentIds, change.contentIdsDone);
      if (change.pruneContentBeforeMs !== undefined) {
        const before = change.pruneContentBeforeMs;
        cp.contentIds = Object.fromEntries(Object.entries(cp.contentIds).filter(([, created]) => created >= before));
      }
      if (change.cursorMs !== undefined) cp.cursorMs = change.rewind || cp.cursorMs === null ? change.cursorMs : Math.max(cp.cursorMs, change.cursorMs);
      if (change.success) cp.lastSuccessMs = now;
      if (change.extra) cpMessages.push(...change.extra);
      if (change.mutate) cp = change.mutate(cp);
      cp.counts.recordsPublished += r.published;
      cp.counts.duplicatesSkipped += r.duplicates;
      cp.counts.deadLettered += r.deadLettered;
      totalPublished += r.published;
      results.push(r);
    }
    cp.hourly = addHourly(cp.hourly, totalPublished, now);
    if (fresh.size > 0) {
      const staged = this.ids.stage(cp, [...fresh], now);
      cpMessages.push(...staged.messages);
      applies.push(staged.apply);
      cp = { ...cp, segments: staged.segments, nextSegment: staged.nextSegment };
    }
    const expiry = this.ids.stageExpiry(cp, now, this.deps.dedupHorizonMs);
    applies.push(expiry.apply);
    if (expiry.messages.length > 0) {
      cpMessages.push(...expiry.messages);
      cp = { ...cp, segments: expiry.segments };
    }
    cpMessages.push(serializeCheckpoint(cp, now));
    for (const m of cpMessages) messages.push({ topic: topics.checkpoints.name, key: m.key, value: m.value });
    await this.deps.writer().submit({ messages });
    // Committed: only now does the in-memory state move.
    for (const apply of applies) apply();
    this.checkpointState = cp;
    if (changes.some((c) => c.rewind)) this.volatileCursor = null;
    const sum = results.reduce(
      (a, r) => ({ published: a.published + r.published, duplicates: a.duplicates + r.duplicates, deadLettered: a.deadLettered + r.deadLettered }),
      { published: 0, duplicates: 0, deadLettered: 0 },
    );
    if (sum.published) this.deps.metrics.recordsPublished.inc({ source: this.source }, sum.published);
    if (sum.duplicates) this.deps.metrics.duplicatesSkipped.inc({ source: this.source }, sum.duplicates);
    return results;
  }
}
