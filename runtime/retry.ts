/**
 * Errors know whether they are retriable where they are created (STYLE.md practice 3).
 * `RetriableError` may pass later (throttling, 5xx, network); `PermanentError` will always fail for this input.
 */
export class RetriableError extends Error {
  readonly retriable = true as const;
  constructor(
    message: string,
    readonly code: string,
    /** Server-provided wait (Retry-After) in milliseconds, when known. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

export class PermanentError extends Error {
  readonly retriable = false as const;
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

export function isRetriable(error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  if (error instanceof RetriableError) return true;
  // Unclassified errors (network resets, timeouts) are treated as retriable, deliberately and boundedly.
  return true;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Multiplier per attempt. */
  factor?: number;
}

/** Exponential backoff with full jitter; honours a server-provided delay when it is longer. */
export function backoffDelay(attempt: number, options: BackoffOptions, serverDelayMs?: number, random = Math.random): number {
  const factor = options.factor ?? 2;
  const ceiling = Math.min(options.maxMs, options.initialMs * factor ** Math.max(0, attempt));
  const jittered = Math.floor(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(jittered, serverDelayMs ?? 0);
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs one idempotent step with bounded retries. Permanent errors are rethrown at once; the last retriable error
 * is rethrown when attempts run out.
 */
export async function withRetry<T>(
  step: (attempt: number) => Promise<T>,
  options: BackoffOptions & { attempts: number; signal?: AbortSignal; onRetry?: (error: unknown, attempt: number, delayMs: number) => void },
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    try {
      return await step(attempt);
    } catch (error) {
      lastError = error;
      if (!isRetriable(error) || attempt === options.attempts - 1 || options.signal?.aborted) throw error;
      const serverDelay = error instanceof RetriableError ? error.retryAfterMs : undefined;
      const delay = backoffDelay(attempt, options, serverDelay);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
  throw lastError;
}
