/**
 * Group commit (issue 14 item 1, decision 0198): what callers submit while a commit runs is committed together in
 * the next one, in submission order — one Kafka transaction for many units instead of one each. Each caller's
 * promise settles only when the commit holding its item did (STYLE.md practice 4: commit after durable); a failed
 * commit rejects every item in it, and nothing later is reordered before it.
 */
export interface GroupCommitOptions {
  /** Items per commit at most (default: everything waiting). */
  maxBatch?: number;
  /** Checked before each commit: an error here rejects everything waiting and stops (e.g. a fenced producer). */
  halted?: () => Error | null;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitQueue<T, R> {
  private readonly waiting: Array<Waiting<T, R>> = [];
  private draining = false;
  private readonly idleWaiters: Array<() => void> = [];

  /** `commit` gets the batch in submission order and returns one result per item. */
  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly options: GroupCommitOptions = {},
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  /** True while a commit runs or items wait for one. */
  get busy(): boolean {
    return this.draining;
  }

  /** Resolves once no commit runs (everything submitted so far has settled, or waits after a halt). */
  idle(): Promise<void> {
    return this.draining ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  /** Rejects every item not yet in a commit (closing). */
  rejectWaiting(error: unknown): void {
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0) {
        const halt = this.options.halted?.() ?? null;
        if (halt) {
          this.rejectWaiting(halt);
          break;
        }
        const batch = this.waiting.splice(0, this.options.maxBatch ?? this.waiting.length);
        try {
          const results = await this.commit(batch.map((w) => w.item));
          for (const [i, w] of batch.entries()) w.resolve(results[i] as R);
        } catch (error) {
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      // Synchronously with the loop's end: a submit after this line starts a new drain.
      this.draining = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
