import { describe, expect, it } from 'vitest';
import { RateBudgets, Semaphore, SlidingWindow, TokenBucket } from '../../ingest/rate-budget.ts';

describe('token buckets', () => {
  it('allow a burst of the capacity, then one token per interval', () => {
    let now = 0;
    const b = new TokenBucket(5, 2_000, () => now);
    for (let i = 0; i < 5; i++) expect(b.tryTake()).toBe(0);
    expect(b.tryTake()).toBe(2_000);
    now = 1_000;
    expect(b.tryTake()).toBe(1_000);
    now = 2_000;
    expect(b.tryTake()).toBe(0);
    expect(b.tryTake()).toBeGreaterThan(0);
  });

  it('honour a block (Retry-After) before anything else', () => {
    let now = 0;
    const b = new TokenBucket(10, 100, () => now);
    b.blockUntil(5_000);
    expect(b.tryTake()).toBe(5_000);
    now = 5_000;
    expect(b.tryTake()).toBe(100); // drained by the block
    now = 5_100;
    expect(b.tryTake()).toBe(0);
  });
});

describe('sliding windows', () => {
  it('never let a window (plus margin) hold more than the limit, however requests are timed', () => {
    let now = 0;
    const w = new SlidingWindow(5, 10_000, 500, () => now);
    const sent: number[] = [];
    // A greedy caller asking every 137 ms for ten minutes.
    for (; now < 600_000; now += 137) if (w.tryTake() === 0) sent.push(now);
    for (const [i, t] of sent.entries()) {
      const inSpan = sent.slice(i).filter((x) => x < t + 10_500).length;
      expect(inSpan).toBeLessThanOrEqual(5);
    }
    // And it is not stingy: close to 5 per 10.5 s over the period.
    expect(sent.length).toBeGreaterThanOrEqual(Math.floor(600_000 / 10_500) * 5 - 5);
  });

  it('count a request from its send until a window after its answer, so a slow answer cannot squeeze the next in', () => {
    let now = 0;
    const w = new SlidingWindow(1, 1_000, 0, () => now);
    const answered = w.take();
    now = 5_000; // still in flight after 5 s: Microsoft may count it any moment
    expect(w.peek()).toBeGreaterThan(0);
    answered();
    now = 5_999;
    expect(w.peek()).toBe(2);
    now = 6_001;
    expect(w.peek()).toBe(0);
  });

  it('say how long to wait until the oldest request leaves the window, and honour a block first', () => {
    let now = 0;
    const w = new SlidingWindow(2, 1_000, 0, () => now);
    expect(w.tryTake()).toBe(0);
    now = 400;
    expect(w.tryTake()).toBe(0);
    expect(w.tryTake()).toBe(601);
    now = 1_001;
    expect(w.tryTake()).toBe(0);
    w.blockUntil(5_000);
    expect(w.tryTake()).toBe(3_999);
  });

  it('a token bucket of the same limit would let twice the limit into one window: the reason for windows', () => {
    let now = 0;
    const b = new TokenBucket(5, 2_000, () => now);
    let taken = 0;
    for (; now < 10_000; now += 100) if (b.tryTake() === 0) taken++;
    expect(taken).toBeGreaterThan(5);
  });
});

describe('rate budgets', () => {
  const settings = {
    managementRequestsPerMinute: 600,
    graphReportsPer10s: 5,
    graphAppReportsPer10s: 122,
    identityProtectionPerSecond: 1,
    identityProtectionSharePercent: 50,
    rateWindowMarginMs: 500,
  };

  it('apply Graph reports per tenant and per app, identity protection per tenant with headroom, Management per tenant', () => {
    const now = 0;
    const budgets = new RateBudgets(settings, () => now);
    const go = (kind: Parameters<RateBudgets['tryAcquire']>[0], tenant: string) => {
      const got = budgets.tryAcquire(kind, tenant);
      if (!('answered' in got)) return got.waitMs;
      got.answered(); // answered at once
      return 0;
    };
    for (let i = 0; i < 5; i++) expect(go('graph-report', 'a')).toBe(0);
    expect(go('graph-report', 'a')).toBe(10_501); // 5 per 10 s (+ margin) for tenant a
    expect(go('graph-report', 'b')).toBe(0); // tenant b has its own budget
    expect(budgets.bucketsFor('graph-report', 'a')[1]).toBe(budgets.bucketsFor('graph-report', 'b')[1]); // one app window
    expect(go('identity-protection', 'a')).toBe(0);
    // Half of 1 / s: one request per 2 s (+ margin), the other half left to the tenant's other applications.
    expect(go('identity-protection', 'a')).toBe(2_501);
    const mgmt = budgets.bucketsFor('management', 'a')[0] as TokenBucket;
    expect(mgmt.capacity).toBe(60);
    expect(mgmt.msPerToken).toBe(100);
  });

  it('take all limiters of a request or none: waiting on the app window does not count against the tenant', () => {
    const now = 0;
    const budgets = new RateBudgets({ ...settings, graphAppReportsPer10s: 1 }, () => now);
    expect('answered' in budgets.tryAcquire('graph-report', 'a')).toBe(true);
    expect(budgets.tryAcquire('graph-report', 'b')).toMatchObject({ waitMs: expect.any(Number) }); // the app window is full
    const tenantB = budgets.bucketsFor('graph-report', 'b')[0] as SlidingWindow;
    for (let i = 0; i < 5; i++) expect(tenantB.peek()).toBe(0); // nothing was taken from b's own window
  });

  it('a penalty on one tenant leaves the others untouched', () => {
    const now = 0;
    const budgets = new RateBudgets(settings, () => now);
    budgets.penalize('management', 'stormy', 30_000);
    expect(budgets.tryAcquire('management', 'stormy')).toEqual({ waitMs: 30_000 });
    expect('answered' in budgets.tryAcquire('management', 'calm')).toBe(true);
  });

  it('acquire gives up when aborted instead of waiting', async () => {
    const budgets = new RateBudgets(settings);
    budgets.penalize('management', 't', Date.now() + 60_000);
    const ac = new AbortController();
    // acquire runs up to its wait for the penalized bucket before returning the promise: the abort lands in the wait.
    const acquiring = budgets.acquire('management', 't', ac.signal);
    ac.abort();
    expect(await acquiring).toBeNull();
  });
});

describe('semaphore', () => {
  it('bounds concurrency and hands permits over in order', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    let third = false;
    const p = s.acquire().then((r) => {
      third = true;
      return r;
    });
    // One turn of the event loop runs every promise callback already due: a permit handed out would have run `then`.
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    expect(s.inUse).toBe(2);
    r1();
    (await p)();
    expect(third).toBe(true);
    r2();
    expect(s.inUse).toBe(0);
  });
});
