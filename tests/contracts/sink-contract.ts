/**
 * The one contract every sink passes (STYLE.md practice 8: "one contract suite for all pollers; one for all sinks";
 * issue 14 item 4, decision 0204). A sink is the step of a stage that makes its records durable somewhere else: the
 * indexer's `_bulk` writes to OpenSearch, the normalizer's transactions on `siem.events`, ingest's transactions on
 * `m365.raw`. Each of them also writes the dead letters of what it cannot deliver, through the runtime's one builder,
 * so the dead-letter writer is checked inside every sink rather than as a sink of its own.
 *
 * Each sink runs on real Kafka and real OpenSearch through a harness that speaks the sink's own input (a topic its
 * stage consumes, or the writer's submit) and reads its own output as that output's readers do (read_committed
 * Kafka consumers, an OpenSearch search). The cases only use the harness, so every sink meets the same sentences.
 */
import { describe, expect, it } from 'vitest';
import type { DeadLetter, DeadLetterCode, DeadLetterStage } from '../../runtime/index.ts';
import { expectDeadLetterHeaders } from '../helpers/dead-letters.ts';
import { waitUntil } from '../helpers/wait.ts';

/** A record for the sink: one the sink can write, one it can never write, or one larger than its output accepts. */
export interface SinkRecord {
  /** The organization (the Kafka key everywhere): each case uses its own, so its dead letters are its own. */
  readonly org: string;
  /** The record's id as the sink's readers see it (event.id on siem.events and in OpenSearch, Id on m365.raw). */
  readonly id: string;
  readonly kind: 'good' | 'bad' | 'huge';
}

/** A dead letter as read back from the dead-letter topic. */
export interface DeadLetterRead {
  readonly letter: DeadLetter;
  readonly headers: Record<string, string>;
  /** The record's encoded size (key, value, headers). */
  readonly bytes: number;
}

/** A transient failure of the sink's output, switched on by `failWrites` until `heal`. */
export interface TransientFailure {
  /** How many write attempts failed so far: the positive signal that the sink tried (and will try again). */
  failures(): Promise<number>;
  heal(): Promise<void>;
}

/**
 * A transient failure injected at a seam of the sink (a harness that cannot make the real service fail): the seam
 * asks `failing` and calls `failed()` for each attempt it fails.
 */
export class InjectedFailure {
  failing = false;
  private count = 0;

  failed(): void {
    this.count++;
  }

  async start(): Promise<TransientFailure> {
    const before = this.count;
    this.failing = true;
    return {
      failures: async () => this.count - before,
      heal: async () => {
        this.failing = false;
      },
    };
  }
}

export interface SinkHarness {
  readonly stage: DeadLetterStage;
  /** The dead-letter code of a `bad` record, and of a `huge` one. */
  readonly badCode: DeadLetterCode;
  readonly hugeCode: DeadLetterCode;
  /** The dead-letter topic's max.message.bytes less the batch overhead: no dead letter may be larger. */
  readonly deadLetterMaxRecordBytes: number;
  /** Hands the records to the sink in order, through its stage's input; resolves once they were handed over. */
  write(records: readonly SinkRecord[]): Promise<void>;
  /** The same records reach the sink a second time, the way its stage can meet them twice (said per harness). */
  writeAgain(records: readonly SinkRecord[]): Promise<void>;
  /** Resolves once the sink committed everything handed to it so far (offsets, or the transaction with the cursor). */
  settled(): Promise<void>;
  /** How many times each id is in the sink's output as its readers see it (absent: not there). */
  delivered(ids: readonly string[]): Promise<Map<string, number>>;
  /** How many records handed to the sink are committed (consumed offsets, or checkpoints written with them). */
  committed(): Promise<number>;
  /** The dead letters keyed with `org`. */
  deadLetters(org: string): Promise<DeadLetterRead[]>;
  /** Makes the sink's output fail in a way that passes later (OpenSearch 429, a Kafka transaction that fails). */
  failWrites(): Promise<TransientFailure>;
}

const WAIT_MS = 60_000;

/** The sink's contract, for the harness `harness()` returns (set up by the caller's beforeAll, torn down by its afterAll). */
export function describeSinkContract(name: string, harness: () => SinkHarness): void {
  let cases = 0;
  /** Records of one case: their own organization, so counts and dead letters never mix between cases. */
  const recordsFor = (kinds: ReadonlyArray<SinkRecord['kind']>): SinkRecord[] => {
    const org = `org-contract-${++cases}`;
    return kinds.map((kind, i) => ({ org, id: `${org}-${kind}-${i}`, kind }));
  };
  const goodOnes = (count: number) => recordsFor(Array(count).fill('good'));
  const expectOnce = async (records: readonly SinkRecord[]) => {
    const counts = await harness().delivered(records.map((r) => r.id));
    expect(Object.fromEntries(records.map((r) => [r.id, counts.get(r.id) ?? 0]))).toEqual(Object.fromEntries(records.map((r) => [r.id, 1])));
  };
  const deadLetterOf = async (record: SinkRecord): Promise<DeadLetterRead> => {
    const letters = await harness().deadLetters(record.org);
    expect(letters, `dead letters of ${record.org}`).toHaveLength(1);
    const read = letters[0]!;
    expect(read.letter.stage).toBe(harness().stage);
    expect(read.letter.orgId).toBe(record.org);
    expectDeadLetterHeaders(read.headers, { stage: harness().stage, errorCode: read.letter.errorCode, source: read.letter.source });
    expect(read.bytes).toBeLessThanOrEqual(harness().deadLetterMaxRecordBytes);
    return read;
  };

  describe(`sink contract: ${name}`, () => {
    it('delivers each record once, also when the same records reach it again', async () => {
      const h = harness();
      const records = goodOnes(8);
      await h.write(records);
      await h.settled();
      await expectOnce(records);
      await h.writeAgain(records);
      await h.settled();
      await expectOnce(records);
    });

    it('retries a transient failure of its output until every record is delivered, none twice', async () => {
      const h = harness();
      const records = goodOnes(8);
      const failure = await h.failWrites();
      const writing = h.write(records);
      await waitUntil('two failed write attempts', async () => (await failure.failures()) >= 2, WAIT_MS, 100);
      await failure.heal();
      await writing;
      await h.settled();
      await expectOnce(records);
    });

    it('commits nothing before the write is durable, and everything after it', async () => {
      const h = harness();
      const records = goodOnes(5);
      const before = await h.committed();
      const failure = await h.failWrites();
      const writing = h.write(records);
      // The positive signal that a commit had its chance: the sink attempted the write twice (and failed).
      await waitUntil('two failed write attempts', async () => (await failure.failures()) >= 2, WAIT_MS, 100);
      expect(await h.committed()).toBe(before);
      expect([...(await h.delivered(records.map((r) => r.id))).values()].reduce((n, c) => n + c, 0)).toBe(0);
      await failure.heal();
      await writing;
      await h.settled();
      expect(await h.committed()).toBe(before + records.length);
      await expectOnce(records);
    });

    it('dead-letters a record it can never write, with the reason, and delivers the records after it', async () => {
      const h = harness();
      const records = recordsFor(['good', 'bad', 'good', 'good']);
      const bad = records[1]!;
      const before = await h.committed();
      await h.write(records);
      await h.settled();
      await expectOnce(records.filter((r) => r.kind === 'good'));
      expect((await h.delivered([bad.id])).get(bad.id) ?? 0).toBe(0);
      const { letter } = await deadLetterOf(bad);
      expect(letter.errorCode).toBe(h.badCode);
      expect(letter.errorMessage.length).toBeGreaterThan(10);
      expect(letter.errorMessage).not.toContain('input truncated');
      expect(await h.committed()).toBe(before + records.length);
    });

    it('dead-letters a record larger than its output accepts within the size rule: the letter fits, its input cut to fit', async () => {
      const h = harness();
      const records = recordsFor(['good', 'huge', 'good']);
      const huge = records[1]!;
      await h.write(records);
      await h.settled();
      await expectOnce(records.filter((r) => r.kind === 'good'));
      expect((await h.delivered([huge.id])).get(huge.id) ?? 0).toBe(0);
      const read = await deadLetterOf(huge);
      expect(read.letter.errorCode).toBe(h.hugeCode);
      expect(read.letter.errorMessage).toContain('input truncated from');
      // Cut to fit, not emptied: most of the letter is still the input.
      expect(read.bytes).toBeGreaterThan(h.deadLetterMaxRecordBytes / 2);
    });
  });
}
