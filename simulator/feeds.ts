import { Rng } from './deterministic.ts';

/**
 * The record feed of one (tenant, source): record indices grouped into batches (each published at one
 * moment) and, for Management API sources, content blobs. Only metadata is kept; records are generated on
 * demand from (seed, tenant, source, index, event time).
 */

export interface Batch {
  seq: number;
  firstIndex: number;
  count: number;
  eventStartMs: number;
  eventEndMs: number;
  availableAtMs: number;
  outOfOrder: boolean;
  /** Set when the batch's records were asked to be this large (JSON bytes, about). */
  recordBytes?: number;
}

export interface Blob {
  contentId: string;
  contentCreatedMs: number;
  /** Records this blob holds first-hand. */
  firstIndex: number;
  count: number;
  /** Probability, fixed at publication, that a record slot is followed by a duplicate. */
  duplicateRate: number;
  outOfOrder: boolean;
  /** Record range of the blob published just before (source of cross-blob duplicates). */
  previous?: { firstIndex: number; count: number };
  /** Set on re-served content: the older blob whose records this one repeats. */
  reserveOf?: string;
}

export interface BlobPolicy {
  recordsPerBlob: number;
  duplicateRate: number;
  reserveRate: number;
  outOfOrder: boolean;
}

/**
 * A later change of a record that Microsoft updates in place (risk detections, Defender alerts and incidents): the
 * record's last-update time moves to `atMs` and its state to `state` (or the source's next documented state).
 */
export interface RecordUpdate {
  atMs: number;
  availableAtMs: number;
  state: string | null;
}

export class Feed {
  readonly batches: Batch[] = [];
  /** Updates per record index, oldest first. */
  readonly updates = new Map<number, RecordUpdate[]>();
  /** Sorted by contentCreatedMs (insertion keeps order). */
  readonly blobs: Blob[] = [];
  readonly blobsById = new Map<string, Blob>();
  nextIndex = 0;
  private blobSeq = 0;
  /** Last minute bucket materialised for continuous generation. */
  rateCursorMs: number;

  constructor(
    readonly key: string,
    readonly contentIdPrefix: (createdMs: number, seq: number) => string,
    startMs: number,
  ) {
    this.rateCursorMs = startMs;
  }

  addBatch(
    count: number,
    eventStartMs: number,
    eventEndMs: number,
    availableAtMs: number,
    outOfOrder: boolean,
    policy?: BlobPolicy,
    recordBytes?: number,
  ): Batch {
    const batch: Batch = {
      seq: this.batches.length,
      firstIndex: this.nextIndex,
      count,
      eventStartMs,
      eventEndMs,
      availableAtMs,
      outOfOrder,
      ...(recordBytes !== undefined ? { recordBytes } : {}),
    };
    this.batches.push(batch);
    this.nextIndex += count;
    if (policy) this.addBlobs(batch, policy);
    return batch;
  }

  private addBlobs(batch: Batch, policy: BlobPolicy): void {
    const per = Math.max(1, policy.recordsPerBlob);
    for (let offset = 0; offset < batch.count; offset += per) {
      const count = Math.min(per, batch.count - offset);
      const last = this.blobs.length > 0 ? this.lastPrimaryBlob() : undefined;
      const blob: Blob = {
        contentId: this.contentIdPrefix(batch.availableAtMs, this.blobSeq++),
        contentCreatedMs: batch.availableAtMs,
        firstIndex: batch.firstIndex + offset,
        count,
        duplicateRate: policy.duplicateRate,
        outOfOrder: policy.outOfOrder,
        ...(last ? { previous: { firstIndex: last.firstIndex, count: last.count } } : {}),
      };
      this.insertBlob(blob);
      const rng = new Rng(`${this.key}|reserve|${blob.contentId}`);
      if (policy.reserveRate > 0 && rng.chance(policy.reserveRate)) {
        const candidates = this.blobs.filter((b) => b.reserveOf === undefined && b !== blob);
        const old = candidates.length > 0 ? rng.pick(candidates) : blob;
        this.insertBlob({
          contentId: this.contentIdPrefix(batch.availableAtMs, this.blobSeq++),
          contentCreatedMs: blob.contentCreatedMs,
          firstIndex: old.firstIndex,
          count: old.count,
          duplicateRate: 0,
          outOfOrder: policy.outOfOrder,
          reserveOf: old.contentId,
        });
      }
    }
  }

  private lastPrimaryBlob(): Blob | undefined {
    for (let i = this.blobs.length - 1; i >= 0; i--) {
      const b = this.blobs[i];
      if (b && b.reserveOf === undefined) return b;
    }
    return undefined;
  }

  private insertBlob(blob: Blob): void {
    let lo = 0;
    let hi = this.blobs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.blobs[mid];
      if (m && m.contentCreatedMs <= blob.contentCreatedMs) lo = mid + 1;
      else hi = mid;
    }
    this.blobs.splice(lo, 0, blob);
    this.blobsById.set(blob.contentId, blob);
  }

  /** Index of the first blob with contentCreated >= t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.blobs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.blobs[mid];
      if (m && m.contentCreatedMs < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  batchOf(index: number): Batch | undefined {
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.batches[mid];
      if (!b) break;
      if (index < b.firstIndex) hi = mid - 1;
      else if (index >= b.firstIndex + b.count) lo = mid + 1;
      else return b;
    }
    return undefined;
  }

  addUpdate(index: number, update: RecordUpdate): void {
    if (index < 0 || index >= this.nextIndex) throw new RangeError(`no record ${index} in ${this.key}`);
    const list = this.updates.get(index) ?? [];
    list.push(update);
    this.updates.set(index, list);
  }

  /** The updates of a record that are visible at `snapshotMs` (published by then). */
  visibleUpdates(index: number, snapshotMs: number): RecordUpdate[] {
    return (this.updates.get(index) ?? []).filter((u) => u.availableAtMs <= snapshotMs);
  }

  /** Event time of a record: inside its batch's event span; out-of-order batches push some records far back. */
  eventTimeOf(index: number): number {
    const cached = this.eventTimes[index];
    if (cached !== undefined) return cached;
    const t = this.computeEventTime(index);
    if (index < this.nextIndex) this.eventTimes[index] = t;
    return t;
  }

  /** Memo of event times (8 bytes per record): Graph queries sort whole sources by time on every page. */
  private readonly eventTimes: number[] = [];

  private computeEventTime(index: number): number {
    const batch = this.batchOf(index);
    if (!batch) return 0;
    const rng = new Rng(`${this.key}|t|${index}`);
    const span = Math.max(1, batch.eventEndMs - batch.eventStartMs);
    let t = batch.eventStartMs + Math.floor(rng.next() * span);
    if (batch.outOfOrder && rng.chance(0.1)) t -= rng.range(60_000, 2 * 3600_000);
    return t;
  }

  /**
   * Record indices in a blob, in serving order: first-hand records, duplicates within the blob and from
   * the previous blob at the blob's duplicate rate, shuffled when out of order, else by event time.
   */
  blobIndices(blob: Blob): number[] {
    const out: number[] = [];
    const rng = new Rng(`${this.key}|blob|${blob.contentId}`);
    for (let i = 0; i < blob.count; i++) {
      const index = blob.firstIndex + i;
      out.push(index);
      if (blob.duplicateRate > 0 && rng.chance(blob.duplicateRate)) {
        if (blob.previous && rng.chance(0.5)) out.push(blob.previous.firstIndex + rng.int(blob.previous.count));
        else out.push(blob.firstIndex + rng.int(i + 1));
      }
    }
    if (blob.outOfOrder) {
      for (let i = out.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const a = out[i] as number;
        out[i] = out[j] as number;
        out[j] = a;
      }
    } else {
      const times = new Map<number, number>();
      for (const i of out) if (!times.has(i)) times.set(i, this.eventTimeOf(i));
      out.sort((a, b) => (times.get(a) ?? 0) - (times.get(b) ?? 0) || a - b);
    }
    return out;
  }
}
