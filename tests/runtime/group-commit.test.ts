import { describe, expect, it } from 'vitest';
import { GroupCommitQueue } from '../../runtime/index.ts';

/** A commit the test lets finish: the queue's batching is decided by what waits while one runs. */
function gatedCommits() {
  const batches: number[][] = [];
  const gates: Array<() => void> = [];
  let failNext: Error | null = null;
  const commit = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failNext) {
      const error = failNext;
      failNext = null;
      throw error;
    }
    return items.map((i) => i * 10);
  };
  const release = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  };
  const failOnce = (error: Error) => {
    failNext = error;
  };
  return { batches, commit, release, failOnce };
}

describe('GroupCommitQueue', () => {
  it('commits what arrives during a commit together in the next one, in order, each caller getting its own result', async () => {
    const g = gatedCommits();
    const q = new GroupCommitQueue(g.commit);
    const first = q.submit(1);
    const rest = [q.submit(2), q.submit(3), q.submit(4)];
    await g.release();
    await g.release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(g.batches).toEqual([[1], [2, 3, 4]]);
    expect(q.busy).toBe(false);
  });

  it('caps a batch and rejects exactly the items of a failed commit, the later ones still committing', async () => {
    const g = gatedCommits();
    const q = new GroupCommitQueue(g.commit, { maxBatch: 2 });
    const a = q.submit(1);
    // Rejections are caught as they happen (an unhandled one fails the run), then asserted.
    const settled = (p: Promise<number>) =>
      p.then(
        (value) => ({ value }),
        (error: Error) => ({ error: error.message }),
      );
    const [b, c, d] = [settled(q.submit(2)), settled(q.submit(3)), settled(q.submit(4))];
    await g.release();
    g.failOnce(new Error('transaction aborted'));
    await g.release();
    await g.release();
    expect(await a).toBe(10);
    expect(await b).toEqual({ error: 'transaction aborted' });
    expect(await c).toEqual({ error: 'transaction aborted' });
    expect(await d).toEqual({ value: 40 });
    expect(g.batches).toEqual([[1], [2, 3], [4]]);
  });

  it('once halted rejects what waits with the halt and commits nothing more; idle() waits for the running commit', async () => {
    const g = gatedCommits();
    let halted: Error | null = null;
    const q = new GroupCommitQueue(g.commit, { halted: () => halted });
    const running = q.submit(1);
    const waiting = q.submit(2).catch((error: Error) => error.message);
    const idle = q.idle();
    halted = new Error('fenced');
    await g.release();
    expect(await running).toBe(10);
    expect(await waiting).toBe('fenced');
    await idle;
    expect(g.batches).toEqual([[1]]);
    expect(q.busy).toBe(false);
  });
});
