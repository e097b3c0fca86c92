import { describe, expect, it } from 'vitest';
import { RateBudgets, Semaphore, TokenBucket } from '../../ingest/rate-budget.ts';

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

describe('rate budgets', () => {
  const settings = { managementRequestsPerMinute: 600, graphReportsPer10s: 5, graphAppReportsPer10s: 122, identityProtectionPerSecond: 1 };

  it('apply Graph reports per tenant and per app, identity protection per tenant, Management per tenant', () => {
    let now = 0;
    const budgets = new RateBudgets(settings, () => now);
    const takeAll = (kind: Parameters<RateBudgets['bucketsFor']>[0], tenant: string) => budgets.bucketsFor(kind, tenant).map((b) => b.tryTake());
    for (let i = 0; i < 5; i++) expect(takeAll('graph-report', 'a')).toEqual([0, 0]);
    expect(takeAll('graph-report', 'a')[0]).toBe(2_000); // 5 per 10 s for tenant a
    expect(takeAll('graph-report', 'b')).toEqual([0, 0]); // tenant b has its own budget
    expect(budgets.bucketsFor('graph-report', 'a')[1]).toBe(budgets.bucketsFor('graph-report', 'b')[1]); // one app bucket
    expect(takeAll('identity-protection', 'a')).toEqual([0]);
    expect(takeAll('identity-protection', 'a')).toEqual([1_000]);
    const mgmt = budgets.bucketsFor('management', 'a')[0]!;
    expect(mgmt.capacity).toBe(60);
    expect(mgmt.msPerToken).toBe(100);
    now = 0;
  });

  it('a penalty on one tenant leaves the others untouched', () => {
    const now = 0;
    const budgets = new RateBudgets(settings, () => now);
    budgets.penalize('management', 'stormy', 30_000);
    expect(budgets.bucketsFor('management', 'stormy')[0]!.tryTake()).toBe(30_000);
    expect(budgets.bucketsFor('management', 'calm')[0]!.tryTake()).toBe(0);
  });

  it('acquire gives up when aborted instead of waiting', async () => {
    const budgets = new RateBudgets(settings);
    budgets.penalize('management', 't', Date.now() + 60_000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    expect(await budgets.acquire('management', 't', ac.signal)).toBe(false);
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
    await new Promise((r) => setTimeout(r, 5));
    expect(third).toBe(false);
    expect(s.inUse).toBe(2);
    r1();
    (await p)();
    expect(third).toBe(true);
    r2();
    expect(s.inUse).toBe(0);
  });
});
