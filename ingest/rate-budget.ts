import { sleep } from '../runtime/index.ts';

/**
 * Budgets per tenant and per application, counted the way Microsoft counts them. Graph's limits are "N requests per
 * W seconds" (reports 5 / 10 s per app per tenant and 122 / 10 s per app; identity protection 1 / s per tenant, all
 * applications together): a sliding window, so no W-long span ever holds more than N of our requests. A token bucket
 * of capacity N refilling N per W lets a burst of N and the refills within the same W through (up to 2N − 1), which
 * is how our own rate drew 429s (docs/decisions/0133). The Management API budget stays a token bucket: its quota is
 * per minute and far above what a tenant asks. Every limiter can be blocked until a time, which is how Retry-After and
 * AF429 back-off are honoured for everyone sharing it.
 */
export interface RateLimiter {
  /** Milliseconds until a request may go, 0 when one may go now (takes nothing). */
  peek(): number;
  /** Counts one request sent now; call only right after peek() answered 0. Call the result once it was answered. */
  take(): () => void;
  /** Nobody takes before `untilMs` (Retry-After, throttling back-off). */
  blockUntil(untilMs: number): void;
  readonly blockedUntil: number;
}

/** While the oldest request of a full window is still unanswered, how often to look again. */
const IN_FLIGHT_RECHECK_MS = 50;

/**
 * At most `limit` requests in any `windowMs` span as Microsoft counts them. Microsoft counts a request somewhere
 * between our sending it and our receiving its answer, so a request occupies the window from when it is sent until
 * `windowMs` after its answer arrived: then the (limit + 1)-th request cannot arrive within `windowMs` of the first,
 * however slow the network or our event loop. `marginMs` adds slack for the clocks.
 */
export class SlidingWindow implements RateLimiter {
  /** Requests in the window, oldest first: when answered, or null while in flight. */
  private readonly requests: Array<{ answeredMs: number | null }> = [];
  private blockedUntilMs = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly marginMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  peek(): number {
    const t = this.now();
    if (t < this.blockedUntilMs) return this.blockedUntilMs - t;
    const span = this.windowMs + this.marginMs;
    for (let i = this.requests.length - 1; i >= 0; i--) {
      const answered = this.requests[i]?.answeredMs;
      if (answered !== null && answered !== undefined && answered <= t - span) this.requests.splice(i, 1);
    }
    if (this.requests.length < this.limit) return 0;
    const ends = this.requests.map((r) => (r.answeredMs === null ? Number.POSITIVE_INFINITY : r.answeredMs + span));
    const first = Math.min(...ends);
    return Number.isFinite(first) ? Math.max(1, first - t + 1) : IN_FLIGHT_RECHECK_MS;
  }

  take(): () => void {
    const entry = { answeredMs: null as number | null };
    this.requests.push(entry);
    return () => {
      entry.answeredMs ??= this.now();
    };
  }

  /** Takes a slot when one is free now and returns 0; otherwise returns how long to wait (ms) and takes nothing. */
  tryTake(): number {
    const wait = this.peek();
    if (wait === 0) this.take()();
    return wait;
  }

  blockUntil(untilMs: number): void {
    this.blockedUntilMs = Math.max(this.blockedUntilMs, untilMs);
  }

  get blockedUntil(): number {
    return this.blockedUntilMs;
  }
}

export class TokenBucket implements RateLimiter {
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

  peek(): number {
    this.refill();
    const t = this.now();
    if (t < this.blockedUntilMs) return this.blockedUntilMs - t;
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * this.msPerToken);
  }

  take(): () => void {
    this.tokens -= 1;
    return () => undefined;
  }

  /** Takes a token when one is available now and returns 0; otherwise returns how long to wait (ms) and takes nothing. */
  tryTake(): number {
    const wait = this.peek();
    if (wait === 0) this.take();
    return wait;
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

export type BudgetKind = 'management' | 'graph-report' | 'identity-protection' | 'security' | 'graph-other';

/**
 * Graph security API (alerts_v2, incidents): Microsoft documents 150 requests per minute per tenant. Two thirds of it
 * is ours, counted in a sliding minute like the report windows; the rest is headroom for the customer's other tools.
 */
export const SECURITY_REQUESTS_PER_MINUTE = 100;

export interface RateBudgetSettings {
  managementRequestsPerMinute: number;
  graphReportsPer10s: number;
  graphAppReportsPer10s: number;
  identityProtectionPerSecond: number;
  /**
   * Share of identity protection's per-tenant limit this connector may use: the limit counts every application of
   * the customer tenant, so the rest is left to them.
   */
  identityProtectionSharePercent?: number;
  /** Added to every Graph window (ms): the slack between our send time and Microsoft's arrival time. */
  rateWindowMarginMs?: number;
}

/** The buckets of the whole process, created lazily per tenant. */
export class RateBudgets {
  private readonly buckets = new Map<string, RateLimiter>();

  constructor(
    private readonly settings: RateBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {}

  private limiter<T extends RateLimiter>(key: string, make: () => T): T {
    let b = this.buckets.get(key);
    if (!b) {
      b = make();
      this.buckets.set(key, b);
    }
    return b as T;
  }

  private window(key: string, limit: number, windowMs: number): SlidingWindow {
    return this.limiter(key, () => new SlidingWindow(limit, windowMs, this.settings.rateWindowMarginMs ?? 250, this.now));
  }

  /** The limiters one request of `kind` for `tenantId` must pass (tenant first, then the app). */
  bucketsFor(kind: BudgetKind, tenantId: string): RateLimiter[] {
    const s = this.settings;
    switch (kind) {
      case 'management': {
        // Burst of a tenth of the per-minute budget so a cycle's listing and blobs go out without delay.
        const cap = Math.max(1, Math.ceil(s.managementRequestsPerMinute / 10));
        return [this.limiter(`management|${tenantId}`, () => new TokenBucket(cap, 60_000 / s.managementRequestsPerMinute, this.now))];
      }
      case 'graph-report':
        return [this.window(`graph-report|${tenantId}`, s.graphReportsPer10s, 10_000), this.window('graph-report|app', s.graphAppReportsPer10s, 10_000)];
      case 'identity-protection': {
        // N per second shared with every other application: ours is `share` of it, as one request per 1/(N·share) s.
        const share = (s.identityProtectionSharePercent ?? 50) / 100;
        return [this.window(`identity-protection|${tenantId}`, 1, Math.ceil(1_000 / (s.identityProtectionPerSecond * share)))];
      }
      case 'security':
        return [this.window(`security|${tenantId}`, SECURITY_REQUESTS_PER_MINUTE, 60_000)];
      case 'graph-other':
        return [];
    }
  }

  /**
   * Takes a slot of every limiter of the request when all have one now (call `answered` once the request was
   * answered); otherwise takes nothing and says how long to wait. All or nothing, so a request waiting on the app-wide window has not already been
   * counted in its tenant's window at a time it was not sent.
   */
  tryAcquire(kind: BudgetKind, tenantId: string): { waitMs: number } | { answered: () => void } {
    const limiters = this.bucketsFor(kind, tenantId);
    const waitMs = Math.max(0, ...limiters.map((l) => l.peek()));
    if (waitMs > 0) return { waitMs };
    const done = limiters.map((l) => l.take());
    return {
      answered: () => {
        for (const d of done) d();
      },
    };
  }

  /**
   * Waits until every limiter of the request yields a slot and takes them; the result is to be called once the
   * request was answered. Null if aborted.
   */
  async acquire(kind: BudgetKind, tenantId: string, signal?: AbortSignal): Promise<(() => void) | null> {
    for (;;) {
      if (signal?.aborted) return null;
      const got = this.tryAcquire(kind, tenantId);
      if ('answered' in got) return got.answered;
      await sleep(Math.min(got.waitMs, 60_000), signal);
    }
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
