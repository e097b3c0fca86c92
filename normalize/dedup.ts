/**
 * A bounded LRU of recently produced keys per partition: the stated horizon within which a duplicate of an event
 * (same organization and event id) is not produced to siem.events again. Keys are added only after the transaction
 * that produced them committed, so an aborted transaction never hides its events from the retry.
 */
export class RecentKeys {
  private readonly keys = new Map<string, true>();

  constructor(readonly capacity: number) {}

  has(key: string): boolean {
    if (this.capacity === 0 || !this.keys.has(key)) return false;
    // Refresh recency.
    this.keys.delete(key);
    this.keys.set(key, true);
    return true;
  }

  addAll(keys: Iterable<string>): void {
    if (this.capacity === 0) return;
    for (const key of keys) {
      this.keys.delete(key);
      this.keys.set(key, true);
      if (this.keys.size > this.capacity) {
        const oldest = this.keys.keys().next().value;
        if (oldest !== undefined) this.keys.delete(oldest);
      }
    }
  }

  get size(): number {
    return this.keys.size;
  }
}
