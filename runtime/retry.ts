/**
 * Errors know whether they are retriable where they are created (STYLE.md practice 3).
 * `RetriableError` may pass later (throttling, 5xx, network); `PermanentError` will always fail for this input.
 */
/**
 * An error that says itself whether retrying may help. Only these are trusted: a foreign `retriable` field (the Kafka client
 * marks an error non-retriable once its own retries are spent: KafkaError.retriable) is not a classification of ours.
 */
export abstract class ClassifiedError extends Error {
  abstract readonly retriable: boolean;
}

export class RetriableError extends ClassifiedError {
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

export class PermanentError extends ClassifiedError {
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

/**
 * Whether retrying may help, as decided where the error was created: a `ClassifiedError` (`RetriableError`,
 * `PermanentError`, `TokenError`) says so itself.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof ClassifiedError) return error.retriable;
  // Unclassified errors (network resets, timeouts) are treated as retriable, deliberately and boundedly.
  return true;
}

/** The server-provided wait an error carries (Retry-After), when it carries one. */
function retryAfterOf(error: unknown): number | undefined {
  const ms = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof ms === 'number' ? ms : undefined;
}

/** Retry-After as seconds or an HTTP date → milliseconds (bounded to an hour). */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(3_600_000, Math.round(Number(trimmed) * 1000));
  const at = Date.parse(trimmed);
  if (Number.isFinite(at)) return Math.min(3_600_000, Math.max(0, at - nowMs));
  return undefined;
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

/** What a wait between attempts may do: stop early, and keep something alive meanwhile (a Kafka heartbeat). */
export interface WaitHooks {
  /** Checked before each slice: true stops the wait (shutdown, partitions reassigned). */
  shouldAbort?: () => boolean;
  /** Called before each slice, e.g. the consumer's heartbeat; a throw ends the wait with that error. */
  onWait?: () => Promise<unknown>;
}

/**
 * Waits `ms` in slices of at most `sliceMs`, calling `onWait` before each, so a consumer that waits (backoff,
 * backpressure) stays in its group and notices an abort within a slice. False when aborted.
 */
export async function waitWithHeartbeat(ms: number, hooks: WaitHooks, sliceMs = 1_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (hooks.shouldAbort?.()) return false;
    await hooks.onWait?.();
    const left = deadline - Date.now();
    if (left <= 0) return true;
    await sleep(Math.min(left, sliceMs));
  }
}

/** Thrown by `withRetry` when its wait between attempts was aborted (`WaitHooks.shouldAbort`). */
export class RetryAbortedError extends Error {
  constructor(cause: unknown) {
    super('retry aborted', { cause });
    this.name = 'RetryAbortedError';
  }
}

export interface RetryOptions extends BackoffOptions, WaitHooks {
  /** Attempts at most (`Infinity`: until it succeeds or is aborted, e.g. a step whose offsets wait for it). */
  attempts: number;
  signal?: AbortSignal;
  /** Whether an error may pass on a later attempt; by default what the error says of itself (`isRetriable`). */
  retriable?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * The one retry-with-backoff loop (STYLE.md practice 3): runs one idempotent step, waiting with backoff and jitter
 * (a server's Retry-After honoured) between attempts. Permanent errors are rethrown at once, the last retriable
 * one when attempts run out or `signal` is aborted; an abort through `shouldAbort` throws `RetryAbortedError`.
 * With `shouldAbort`/`onWait` the waits go through `waitWithHeartbeat`.
 */
export async function withRetry<T>(step: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const retriable = options.retriable ?? isRetriable;
  const heartbeat = options.shouldAbort !== undefined || options.onWait !== undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    if (options.shouldAbort?.()) throw new RetryAbortedError(lastError);
    try {
      return await step(attempt);
    } catch (error) {
      lastError = error;
      if (!retriable(error) || attempt === options.attempts - 1 || options.signal?.aborted) throw error;
      const delay = backoffDelay(attempt, options, retryAfterOf(error));
      options.onRetry?.(error, attempt, delay);
      if (!heartbeat) await sleep(delay, options.signal);
      else if (!(await waitWithHeartbeat(delay, options))) throw new RetryAbortedError(error);
    }
  }
  throw lastError;
}
