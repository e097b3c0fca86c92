import { describe, expect, it } from 'vitest';
import { PermanentError, RetriableError, backoffDelay, withRetry } from '../../runtime/index.ts';

describe('backoff', () => {
  it('grows exponentially within the cap, with jitter, and honours a longer server delay', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, opts, undefined, () => 0)).toBe(50);
    expect(backoffDelay(0, opts, undefined, () => 1)).toBe(100);
    expect(backoffDelay(3, opts, undefined, () => 1)).toBe(800);
    expect(backoffDelay(10, opts, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(0, opts, 5000, () => 1)).toBe(5000);
  });
});

describe('withRetry', () => {
  it('retries retriable errors and returns the first success', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new RetriableError('busy', 'throttled');
        return 'done';
      },
      { attempts: 5, initialMs: 1, maxMs: 2 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('does not retry permanent errors', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new PermanentError('bad', 'bad_request');
        },
        { attempts: 5, initialMs: 1, maxMs: 2 },
      ),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });

  it('gives up after the bounded number of attempts', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new RetriableError('down', 'unavailable');
        },
        { attempts: 3, initialMs: 1, maxMs: 2 },
      ),
    ).rejects.toThrow('down');
    expect(calls).toBe(3);
  });
});
