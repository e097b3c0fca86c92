import { sleep } from '../runtime/index.ts';

/**
 * Token buckets per tenant and per application (Graph reports 5 req / 10 s per tenant and 122 / 10 s per app,
 * identity protection 1 req / s per tenant, a Management API budget per tenant). A bucket can also be blocked
 * until a time, which is how Retry-After and AF429 back-off are honoured for everyone sharing it.
 * Waiting for a bucket never holds a shared slot, so a throttled tenant delays only itself.
 */
export class TokenBucket {
  private tokens: number;
  private updatedMs: number;
  private blockedUntilMs = 0;

  constructor(
    readonly capacity: number,
    /** Milliseconds to refill one token. */
    readonly msPerToken: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.updatedMs = now();
  }

  private refill(): void {
    const t = this.now();
    const elapsed = t - this.updatedMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + elapsed / this.msPerToken);
      this.updatedMs = t;
    }
  }

  /** Takes a token when one is available now and returns 0; otherwise returns how long to wait (ms) and takes nothing. */
  tryTake(): number {
    this.refill();
    const t = this.now();
    if (t < this.blockedUntilMs) return this.blockedUntilMs - t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) * this.msPerToken);
  }

  /** Nobody takes a token before `untilMs` (Retry-After, throttling back-off); tokens are drained too. */
  blockUntil(untilMs: number): void {
    this.blockedUntilMs = Math.max(this.blockedUntilMs, untilMs);
    this.tokens = 0;
    this.updatedMs = Math.max(this.updatedMs, untilMs);
  }

  get blockedUntil(): number {
    return this.blockedUntilMs;
  }
}

export type BudgetKind = 'management' | 'graph-report' | 'identity-protection' | 'graph-other';

export interface RateBudgetSettings {
  managementRequestsPerMinute: number;
  graphReportsPer10s: number;
  graphAppReportsPer10s: number;
  identityProtectionPerSecond: number;
}

/** The buckets of the whole process, created lazily per tenant. */
export class RateBudgets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly settings: RateBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {}

  private bucket(key: string, capacity: number, msPerToken: number): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = new TokenBucket(capacity, msPerToken, this.now);
      this.buckets.set(key, b);
    }
    return b;
  }

  /** The buckets one request of `kind` for `tenantId` must pass, in order (tenant first, then the app). */
  bucketsFor(kind: BudgetKind, tenantId: string): TokenBucket[] {
    const s = this.settings;
    switch (kind) {
      case 'management': {
        // Burst of a tenth of the per-minute budget so a cycle's listing and blobs go out without delay.
        const cap = Math.max(1, Math.ceil(s.managementRequestsPerMinute / 10));
        return [this.bucket(`management|${tenantId}`, cap, 60_000 / s.managementRequestsPerMinute)];
      }
      case 'graph-report':
        return [
          this.bucket(`graph-report|${tenantId}`, s.graphReportsPer10s, 10_000 / s.graphReportsPer10s),
          this.bucket('graph-report|app', s.graphAppReportsPer10s, 10_000 / s.graphAppReportsPer10s),
        ];
      case 'identity-protection':
        return [this.bucket(`identity-protection|${tenantId}`, s.identityProtectionPerSecond, 1_000 / s.identityProtectionPerSecond)];
      case 'graph-other':
        return [];
    }
  }

  /** Waits until every bucket of the request yields a token. Returns false if aborted. */
  async acquire(kind: BudgetKind, tenantId: string, signal?: AbortSignal): Promise<boolean> {
    for (const bucket of this.bucketsFor(kind, tenantId)) {
      for (;;) {
        if (signal?.aborted) return false;
        const wait = bucket.tryTake();
        if (wait === 0) break;
        await sleep(Math.min(wait, 60_000), signal);
      }
    }
    return !signal?.aborted;
  }

  /** Throttled by Microsoft: block the tenant's bucket(s) of this kind until `untilMs`. */
  penalize(kind: BudgetKind, tenantId: string, untilMs: number): void {
    const [tenantBucket] = this.bucketsFor(kind, tenantId);
    tenantBucket?.blockUntil(untilMs);
  }

  /** Number of buckets (tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }
}

/** A counting semaphore: bounds global concurrency (Microsoft requests in flight). */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly permits: number) {
    this.available = permits;
  }

  async acquire(): Promise<() => void> {
    if (this.available > 0) {
      this.available--;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.available++;
    };
  }

  get inUse(): number {
    return this.permits - this.available;
  }
}
