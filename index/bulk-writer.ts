import type { DeadLetterCode, Logger, Metrics, OpenSearchClient } from '../runtime/index.ts';
import { backoffDelay, waitWithHeartbeat } from '../runtime/index.ts';
import { classifyItem, classifyRequestFailure, type BulkItemError, type ItemVerdict } from './retry-policy.ts';

/** One document to write: where, under which id, and its JSON source (already serialized). */
export interface BulkDocument {
  readonly index: string;
  readonly id: string;
  /** JSON text, or its UTF-8 bytes. */
  readonly source: string | Buffer;
}

/** The durable fate of one document: written (or already there), or to be dead-lettered. */
export type DocumentResult =
  | { readonly kind: 'indexed' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'dead-letter'; readonly code: DeadLetterCode; readonly reason: string };

export class WriteAbortedError extends Error {
  constructor() {
    super('bulk write aborted before every document was durable');
    this.name = 'WriteAbortedError';
  }
}

export interface BulkWriterOptions {
  opType: 'create' | 'index';
  maxDocs: number;
  maxBytes: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Most `_bulk` requests in flight at once, across all concurrent writes of this writer (FIFO). */
  concurrency: number;
}

export interface WriteHooks {
  /** Called between attempts (e.g. Kafka heartbeat); a throw aborts the write. */
  onWait?: () => Promise<void>;
  /** True when the caller no longer wants the result (shutdown, partition revoked): stop retrying. */
  shouldAbort?: () => boolean;
}

export interface BulkWriterMetrics {
  bulkSeconds: ReturnType<Metrics['histogram']>;
  bulkRequests: ReturnType<Metrics['counter']>;
  itemRetries: ReturnType<Metrics['counter']>;
  backpressure: ReturnType<Metrics['gauge']>;
}

export function createBulkWriterMetrics(metrics: Metrics): BulkWriterMetrics {
  return {
    bulkSeconds: metrics.histogram('bulk', 'duration of one _bulk request', [], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    bulkRequests: metrics.counter('bulk_requests', '_bulk requests by result: ok, partial (some items failed), failed (no response or rejected)', ['result']),
    itemRetries: metrics.counter('item_retries', 'documents sent again, by reason: throttled (429), server_error (5xx), unavailable (no response)', ['reason']),
    backpressure: metrics.gauge('backpressure', 'active', '1 while a batch waits for OpenSearch (throttled or unreachable), else 0'),
  };
}

const byteLength = (s: string | Buffer): number => (typeof s === 'string' ? Buffer.byteLength(s) : s.length);
const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Writes documents with `_bulk` until every one is durable: indexed, already present (409 on create), or rejected for
 * good (to be dead-lettered by the caller). Only the items that failed with 429/5xx, or whose request got no answer,
 * are sent again, with exponential backoff and jitter capped at `retryMaxMs`; it never gives up on them (the Kafka
 * partition waits: backpressure) unless the caller aborts. Never logs per document.
 */
export class BulkWriter {
  private unavailableSince: number | null = null;
  /** Writes (batches) currently waiting to retry: the gauge and readiness clear only when none is left. */
  private waitingWrites = 0;
  private inFlight = 0;
  private readonly slotWaiters: Array<() => void> = [];

  /** Since when (epoch ms) writes have been failing and waiting, or null when OpenSearch accepts them. */
  get waitingSinceMs(): number | null {
    return this.unavailableSince;
  }

  constructor(
    private readonly client: OpenSearchClient,
    private readonly options: BulkWriterOptions,
    private readonly logger: Logger,
    private readonly metrics: BulkWriterMetrics,
  ) {}

  async write(docs: readonly BulkDocument[], hooks: WriteHooks = {}): Promise<DocumentResult[]> {
    const results: Array<DocumentResult | undefined> = new Array(docs.length);
    // Index names and ids are plain ASCII without quotes (daily names, base64url ids), so no JSON escaping is needed;
    // anything else goes through JSON.stringify.
    const op = this.options.opType;
    // The `{"create":{"_index":"…","_id":"` head is built once per index (a batch holds few days), not per document.
    const heads = new Map<string, string | null>();
    const action = docs.map((d) => {
      let head = heads.get(d.index);
      if (head === undefined) {
        head = SAFE_NAME.test(d.index) ? `{"${op}":{"_index":"${d.index}","_id":"` : null;
        heads.set(d.index, head);
      }
      return head !== null && SAFE_NAME.test(d.id) ? `${head}${d.id}"}}` : JSON.stringify({ [op]: { _index: d.index, _id: d.id } });
    });
    let pending: number[] = docs.map((_, i) => i);
    /** Items whose multi-item request was rejected as a whole: they go one per request. */
    const solo = new Set<number>();
    let attempt = 0;
    let waiting = false;
    try {
      while (pending.length > 0) {
        const retry: number[] = [];
        let waitHint = null as 'unavailable' | 'throttled' | 'server_error' | null;
        const chunks = [...this.chunks(pending, docs, action, solo)];
        let nextChunk = 0;
        // Up to `concurrency` requests in flight; each chunk's items are settled independently of the others.
        const lane = async () => {
          while (nextChunk < chunks.length) {
            const chunk = chunks[nextChunk++]!;
            await this.acquireSlot();
            let outcome: Awaited<ReturnType<BulkWriter['send']>>;
            try {
              if (hooks.shouldAbort?.()) throw new WriteAbortedError();
              outcome = await this.send(chunk, docs, action);
            } finally {
              this.releaseSlot();
            }
            if (outcome.kind === 'items') {
              for (let k = 0; k < chunk.length; k++) {
                const i = chunk[k]!;
                const verdict = outcome.verdicts[k]!;
                if (verdict.kind === 'retry') {
                  retry.push(i);
                  waitHint = waitHint ?? verdict.reason;
                  this.metrics.itemRetries.inc({ reason: verdict.reason });
                } else results[i] = verdict;
              }
            } else if (outcome.kind === 'retry') {
              retry.push(...chunk);
              waitHint = outcome.reason;
              this.metrics.itemRetries.inc({ reason: outcome.reason }, chunk.length);
            } else if (chunk.length === 1) {
              results[chunk[0]!] = { kind: 'dead-letter', code: outcome.code, reason: outcome.reason };
            } else {
              for (const i of chunk) solo.add(i);
              retry.push(...chunk);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(this.options.concurrency, chunks.length) }, lane));
        // Keep the original order among the items to retry (retries of one request stay together).
        retry.sort((a, b) => a - b);
        pending = retry;
        if (pending.length === 0) break;
        if (waitHint !== null) {
          if (!waiting) {
            waiting = true;
            this.waitingWrites++;
          }
          this.enterBackpressure(waitHint, pending.length);
          const delay = backoffDelay(attempt, { initialMs: this.options.retryInitialMs, maxMs: this.options.retryMaxMs });
          attempt++;
          await this.waitFor(delay, hooks);
        }
      }
    } finally {
      // Another batch may still be retrying: only the last waiting write clears the gauge and readiness.
      if (waiting) this.waitingWrites--;
      if (this.waitingWrites === 0) this.leaveBackpressure();
    }
    return results as DocumentResult[];
  }

  private acquireSlot(): Promise<void> {
    if (this.inFlight < this.options.concurrency) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next)
      next(); // the slot passes straight to the next waiter
    else this.inFlight--;
  }

  /** Groups pending items into requests within the doc and byte limits; solo items get their own request. */
  private *chunks(pending: readonly number[], docs: readonly BulkDocument[], action: readonly string[], solo: ReadonlySet<number>): Generator<number[]> {
    let current: number[] = [];
    let bytes = 0;
    for (const i of pending) {
      if (solo.has(i)) {
        yield [i];
        continue;
      }
      const size = Buffer.byteLength(action[i]!) + byteLength(docs[i]!.source) + 2;
      if (current.length > 0 && (current.length >= this.options.maxDocs || bytes + size > this.options.maxBytes)) {
        yield current;
        current = [];
        bytes = 0;
      }
      current.push(i);
      bytes += size;
    }
    if (current.length > 0) yield current;
  }

  private async send(
    chunk: readonly number[],
    docs: readonly BulkDocument[],
    action: readonly string[],
  ): Promise<
    | { kind: 'items'; verdicts: ItemVerdict[] }
    | { kind: 'retry'; reason: 'unavailable' | 'throttled' | 'server_error' }
    | { kind: 'split'; code: DeadLetterCode; reason: string }
  > {
    // One buffer for the whole NDJSON body: sources that are already bytes are copied, never re-encoded.
    let size = 0;
    for (const i of chunk) size += Buffer.byteLength(action[i]!) + byteLength(docs[i]!.source) + 2;
    const body = Buffer.allocUnsafe(size);
    let at = 0;
    for (const i of chunk) {
      at += body.write(action[i]!, at);
      body[at++] = 0x0a;
      const source = docs[i]!.source;
      at += typeof source === 'string' ? body.write(source, at) : source.copy(body, at);
      body[at++] = 0x0a;
    }
    const stop = this.metrics.bulkSeconds.startTimer();
    let response: { body: unknown; statusCode?: number | null };
    try {
      response = await this.client.bulk(
        // filter_path keeps the response small: per item only status and error (order matches the request).
        { body, filter_path: 'errors,items.*.status,items.*.error' } as never,
        { maxRetries: 0 },
      );
    } catch (error) {
      stop();
      this.metrics.bulkRequests.inc({ result: 'failed' });
      const { statusCode, message } = describeRequestError(error);
      const verdict = classifyRequestFailure(statusCode, message);
      if (verdict.kind === 'retry') this.noteUnavailable(verdict.reason, message);
      return verdict;
    }
    stop();
    const parsed = response.body as { errors?: boolean; items?: Array<Record<string, { status: number; error?: BulkItemError }>> };
    const items = parsed.items ?? [];
    if (items.length !== chunk.length) {
      // A proxy or a broken node answered without per-item results: nothing is known, so try again.
      this.metrics.bulkRequests.inc({ result: 'failed' });
      this.noteUnavailable('server_error', `bulk response had ${items.length} items for ${chunk.length} documents`);
      return { kind: 'retry', reason: 'server_error' };
    }
    const verdicts = items.map((entry) => {
      const result = Object.values(entry)[0];
      return result ? classifyItem(result.status, result.error, this.options.opType) : ({ kind: 'retry', reason: 'server_error' } as const);
    });
    this.metrics.bulkRequests.inc({ result: parsed.errors ? 'partial' : 'ok' });
    return { kind: 'items', verdicts };
  }

  private async waitFor(delayMs: number, hooks: WriteHooks): Promise<void> {
    // Waits in slices so heartbeats keep the consumer in its group and an abort is noticed quickly.
    if (!(await waitWithHeartbeat(delayMs, hooks))) throw new WriteAbortedError();
  }

  private noteUnavailable(reason: string, message: string): void {
    if (this.unavailableSince === null) {
      this.unavailableSince = Date.now();
      this.logger.warn({ reason, error: message }, 'OpenSearch bulk request failed; retrying with backoff, consumption waits');
    }
  }

  private enterBackpressure(reason: string, pendingCount: number): void {
    this.metrics.backpressure.set(1);
    if (this.unavailableSince === null) {
      this.unavailableSince = Date.now();
      this.logger.warn({ reason, pending: pendingCount }, 'OpenSearch asked to slow down; retrying the failed items with backoff');
    }
  }

  private leaveBackpressure(): void {
    this.metrics.backpressure.set(0);
    if (this.unavailableSince !== null) {
      this.logger.info({ waitedMs: Date.now() - this.unavailableSince }, 'OpenSearch accepts writes again');
      this.unavailableSince = null;
    }
  }
}

function describeRequestError(error: unknown): { statusCode: number | undefined; message: string } {
  const e = error as { name?: string; message?: string; meta?: { statusCode?: number | null; body?: unknown } };
  const statusCode = e.meta?.statusCode ?? undefined;
  const name = e.name ?? 'Error';
  // ConnectionError / TimeoutError / NoLivingConnectionsError carry no HTTP status: OpenSearch is unavailable.
  if (name === 'ConnectionError' || name === 'TimeoutError' || name === 'NoLivingConnectionsError' || name === 'RequestAbortedError') {
    return { statusCode: undefined, message: `${name}: ${e.message ?? ''}` };
  }
  return { statusCode: statusCode === null ? undefined : statusCode, message: `${name}: ${e.message ?? ''}`.slice(0, 2000) };
}
