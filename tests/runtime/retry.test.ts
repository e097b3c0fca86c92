import { describe, expect, it } from 'vitest';
import { PermanentError, RetriableError, RetryAbortedError, TokenError, backoffDelay, isRetriable, waitWithHeartbeat, withRetry } from '../../runtime/index.ts';

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

  it('takes the retriable flag from a classified error, and retries an unclassified one whatever field it carries', async () => {
    const refused = new TokenError('AADSTS7000222: secret expired', 'secret_expired', 7000222, false);
    expect(isRetriable(refused)).toBe(false);
    expect(isRetriable(new TokenError('throttled', 'throttled', null, true))).toBe(true);
    // kafkajs marks an error non-retriable once its own retries are spent: not our classification, retried boundedly.
    expect(isRetriable(Object.assign(new Error('KafkaJSNumberOfRetriesExceeded'), { retriable: false }))).toBe(true);
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw refused;
        },
        { attempts: 5, initialMs: 1, maxMs: 2 },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it('retries until done with a heartbeat between attempts, and stops with RetryAbortedError when aborted', async () => {
    let calls = 0;
    let beats = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 4) throw new PermanentError('treated as retriable by the caller', 'x');
        return calls;
      },
      { attempts: Number.POSITIVE_INFINITY, retriable: () => true, initialMs: 1, maxMs: 2, onWait: async () => void beats++ },
    );
    expect(result).toBe(4);
    expect(beats).toBeGreaterThanOrEqual(3);

    let aborted = false;
    const failing = withRetry(
      async () => {
        aborted = true; // the first failure asks the wait to stop
        throw new RetriableError('down', 'unavailable');
      },
      { attempts: Number.POSITIVE_INFINITY, initialMs: 60_000, maxMs: 60_000, shouldAbort: () => aborted },
    );
    await expect(failing).rejects.toBeInstanceOf(RetryAbortedError);
  });
});

describe('waitWithHeartbeat', () => {
  it('beats before every slice and ends true once the time is up', async () => {
    let beats = 0;
    const started = Date.now();
    expect(await waitWithHeartbeat(30, { onWait: async () => void beats++ }, 10)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(29);
    expect(beats).toBeGreaterThanOrEqual(3);
  });

  it('ends false as soon as it is aborted, without waiting the whole delay', async () => {
    let beats = 0;
    const started = Date.now();
    expect(await waitWithHeartbeat(60_000, { shouldAbort: () => beats >= 2, onWait: async () => void beats++ }, 5)).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(beats).toBe(2);
  });
});
