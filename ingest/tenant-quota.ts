/**
 * Per-organization record quota (issue 16, item 4; docs/decisions/0170): records published per hour, shared by
 * all sources of the organization. A tenant past its quota is slowed — its sources wait until the quota has
 * refilled before the next cycle, and report `throttled` with the reason — instead of growing the process's memory
 * (the dedup ledger holds every id for the horizon, so records per hour × horizon bounds a tenant's ledger). The
 * content stays at Microsoft meanwhile (7 days), so slowing delays it; it is not dropped.
 */
export class TenantQuota {
  private balance: number;
  private updatedMs: number;

  constructor(
    /** Records per hour; also the burst a quiet tenant may publish at once. 0 = no quota. */
    readonly recordsPerHour: number,
    private readonly now: () => number = Date.now,
  ) {
    this.balance = recordsPerHour;
    this.updatedMs = now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.updatedMs) {
      this.balance = Math.min(this.recordsPerHour, this.balance + ((t - this.updatedMs) * this.recordsPerHour) / 3_600_000);
      this.updatedMs = t;
    }
  }

  /** Counts records already published (a cycle is never cut short: what it fetched is committed). */
  charge(records: number): void {
    if (this.recordsPerHour === 0 || records <= 0) return;
    this.refill();
    this.balance -= records;
  }

  /** How long the organization's sources must wait before their next cycle: 0 while within the quota. */
  waitMs(): number {
    if (this.recordsPerHour === 0) return 0;
    this.refill();
    return this.balance >= 0 ? 0 : Math.ceil((-this.balance * 3_600_000) / this.recordsPerHour);
  }
}
