/**
 * An exact set of 64-bit record-id hashes held in typed arrays, in time buckets, so that a tenant with millions of
 * records a day keeps its 8-day dedup ledger in about 8 bytes per id instead of a JavaScript Map of strings
 * (≈ 70 bytes per id, and a Map cannot hold more than 2^24 entries at all) — docs/decisions/0170.
 *
 * Each bucket covers `bucketMs` of add time. New hashes go to the bucket's open table (open addressing, linear
 * probing, load ≤ 1/2); once a newer bucket opens, the older one is sealed: its hashes sorted into one Uint32Array
 * of (high, low) pairs, searched by bisection. A bucket is dropped as a whole once its newest add is older than the
 * cut-off given to `expireBefore`, which is how the horizon stays bounded without a per-id timestamp.
 */

const EMPTY_TABLE_SLOTS = 1024;

/** An open-addressing hash table of (high, low) uint32 pairs; (0, 0) marks an empty slot and is kept aside. */
class OpenTable {
  private slots: Uint32Array;
  private mask: number;
  private used = 0;
  private hasZero = false;

  constructor(capacity = EMPTY_TABLE_SLOTS) {
    this.slots = new Uint32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.used + (this.hasZero ? 1 : 0);
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  /** Where (hi, lo) is or would go. */
  private slotOf(hi: number, lo: number): number {
    // The hashes are SHA-1 bits already: the low word spreads well enough to index by.
    let i = (lo ^ (hi >>> 7)) & this.mask;
    for (;;) {
      const h = this.slots[i * 2]!;
      const l = this.slots[i * 2 + 1]!;
      if ((h === 0 && l === 0) || (h === hi && l === lo)) return i;
      i = (i + 1) & this.mask;
    }
  }

  has(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) return this.hasZero;
    const i = this.slotOf(hi, lo);
    return this.slots[i * 2] === hi && this.slots[i * 2 + 1] === lo;
  }

  add(hi: number, lo: number): void {
    if (hi === 0 && lo === 0) {
      this.hasZero = true;
      return;
    }
    const i = this.slotOf(hi, lo);
    if (this.slots[i * 2] === hi && this.slots[i * 2 + 1] === lo) return;
    this.slots[i * 2] = hi;
    this.slots[i * 2 + 1] = lo;
    this.used++;
    if (this.used * 2 > this.mask + 1) this.grow();
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    this.used = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0 || old[i + 1] !== 0) this.add(old[i]!, old[i + 1]!);
    }
  }

  /** Copies every pair into `out` from word `at` on, in the [low, high] layout of sortPairs; returns the next word. */
  copyInto(out: Uint32Array, at: number): number {
    let k = at;
    if (this.hasZero) k += 2; // out is zero-filled: (0, 0) is already there
    for (let i = 0; i < this.slots.length; i += 2) {
      const h = this.slots[i]!;
      const l = this.slots[i + 1]!;
      if (h === 0 && l === 0) continue;
      out[k] = l;
      out[k + 1] = h;
      k += 2;
    }
    return k;
  }
}

/**
 * Sealed buckets store each 64-bit hash as [low, high] words: on a little-endian machine that buffer read as a
 * BigUint64Array holds the hashes as numbers, which the engine sorts natively without a comparator or a BigInt per
 * element.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Sorts [low, high] pairs in place by their 64-bit value and returns the prefix without repeats. */
function sortPairs(words: Uint32Array): Uint32Array {
  if (LITTLE_ENDIAN) {
    new BigUint64Array(words.buffer, words.byteOffset, words.length / 2).sort();
  } else {
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < words.length; i += 2) pairs.push([words[i]!, words[i + 1]!]);
    pairs.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    pairs.forEach(([l, h], i) => {
      words[i * 2] = l;
      words[i * 2 + 1] = h;
    });
  }
  let k = 0;
  for (let i = 0; i < words.length; i += 2) {
    if (k > 0 && words[k - 2] === words[i] && words[k - 1] === words[i + 1]) continue;
    words[k] = words[i]!;
    words[k + 1] = words[i + 1]!;
    k += 2;
  }
  return k === words.length ? words : words.slice(0, k);
}

/** Bisection over sorted [low, high] pairs. */
function sortedHas(pairs: Uint32Array, hi: number, lo: number): boolean {
  let low = 0;
  let high = pairs.length / 2 - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const l = pairs[mid * 2]!;
    const h = pairs[mid * 2 + 1]!;
    if (h === hi && l === lo) return true;
    if (h < hi || (h === hi && l < lo)) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

interface Bucket {
  sorted: Uint32Array;
  open: OpenTable | null;
  newestMs: number;
}

/** The two 32-bit words of the first 64 bits of a record-id hash (11 base64url characters, see idHash). */
export function hashWords(hash: string): [number, number] {
  const bytes = Buffer.from(hash, 'base64url');
  if (bytes.length < 8) throw new Error(`record-id hash "${hash}" is shorter than 64 bits`);
  return [bytes.readUInt32BE(0), bytes.readUInt32BE(4)];
}

export class CompactIdSet {
  private readonly buckets = new Map<number, Bucket>();
  private newestBucket = -Infinity;

  constructor(private readonly bucketMs: number) {
    if (!(bucketMs > 0)) throw new Error(`bucketMs must be positive, got ${bucketMs}`);
  }

  /** The bucket an add at `atMs` goes to. */
  bucketOf(atMs: number): number {
    return Math.floor(atMs / this.bucketMs);
  }

  has(hash: string): boolean {
    const [hi, lo] = hashWords(hash);
    for (const b of this.buckets.values()) {
      if (b.open?.has(hi, lo) || sortedHas(b.sorted, hi, lo)) return true;
    }
    return false;
  }

  /** Adds a hash as seen at `atMs`; it stays until its bucket expires. */
  add(hash: string, atMs: number): void {
    const [hi, lo] = hashWords(hash);
    const index = this.bucketOf(atMs);
    let bucket = this.buckets.get(index);
    if (!bucket) {
      bucket = { sorted: new Uint32Array(0), open: null, newestMs: atMs };
      this.buckets.set(index, bucket);
    }
    if (index > this.newestBucket) {
      this.newestBucket = index;
      this.sealAllBut(index);
    }
    bucket.newestMs = Math.max(bucket.newestMs, atMs);
    if (sortedHas(bucket.sorted, hi, lo)) return;
    bucket.open ??= new OpenTable();
    bucket.open.add(hi, lo);
  }

  /** Seals every bucket with an open table (after a bulk load, so memory is at its compact size). */
  compact(): void {
    this.sealAllBut(null);
  }

  private sealAllBut(keep: number | null): void {
    for (const [index, b] of this.buckets) {
      if (index === keep || !b.open) continue;
      const words = new Uint32Array(b.sorted.length + b.open.size * 2);
      words.set(b.sorted, 0);
      b.open.copyInto(words, b.sorted.length);
      b.sorted = sortPairs(words);
      b.open = null;
    }
  }

  /** Drops every bucket whose newest add is older than `cutoffMs`. */
  expireBefore(cutoffMs: number): void {
    for (const [index, b] of this.buckets) if (b.newestMs < cutoffMs) this.buckets.delete(index);
  }

  clear(): void {
    this.buckets.clear();
    this.newestBucket = -Infinity;
  }

  /** Distinct hashes per bucket summed (a hash re-added in a later bucket counts twice, as it is stored twice). */
  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.sorted.length / 2 + (b.open?.size ?? 0);
    return n;
  }

  /** Bytes held by the typed arrays (what grows with the tenant's volume). */
  get bytes(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.sorted.byteLength + (b.open?.bytes ?? 0);
    return n;
  }

  get bucketCount(): number {
    return this.buckets.size;
  }
}
