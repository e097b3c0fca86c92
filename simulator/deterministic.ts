/**
 * Deterministic pseudo-randomness: every generated value is a pure function of a string key
 * (seed, tenant, source, index, …) so the same simulator seed reproduces the same records.
 */

const HEX = '0123456789abcdef';
const BYTE_HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** FNV-1a 32-bit hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small, fast PRNG (mulberry32) seeded from a key. */
export class Rng {
  private state: number;
  constructor(key: string) {
    this.state = hash32(key) ^ 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  range(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from empty list');
    return item;
  }
  private u32(): number {
    return (this.next() * 0x100000000) >>> 0;
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length) {
      const v = this.u32();
      out += (BYTE_HEX[v >>> 24] as string) + (BYTE_HEX[(v >>> 16) & 255] as string) + (BYTE_HEX[(v >>> 8) & 255] as string) + (BYTE_HEX[v & 255] as string);
    }
    return out.length === length ? out : out.slice(0, length);
  }
  /** A version-4-shaped GUID. */
  uuid(): string {
    const a = this.u32();
    const b = this.u32();
    const c = this.u32();
    const d = this.u32();
    const h = (v: number) => BYTE_HEX[v & 255] as string;
    return (
      h(a >>> 24) +
      h(a >>> 16) +
      h(a >>> 8) +
      h(a) +
      '-' +
      h(b >>> 24) +
      h(b >>> 16) +
      '-4' +
      (HEX[(b >>> 8) & 15] as string) +
      h(b) +
      '-' +
      (HEX[8 | ((c >>> 28) & 3)] as string) +
      (HEX[(c >>> 24) & 15] as string) +
      h(c >>> 16) +
      '-' +
      h(c >>> 8) +
      h(c) +
      h(d >>> 24) +
      h(d >>> 16) +
      h(d >>> 8) +
      h(d)
    );
  }
}

/** A GUID derived from a key. */
export function uuidFor(key: string): string {
  return new Rng(key).uuid();
}
