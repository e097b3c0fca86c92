/**
 * Every send bounded by what the broker accepts (issue 19). A `send` (plain or inside a transaction) becomes
 * one record batch per partition in one produce request, and the broker refuses a batch larger than the topic's
 * `max.message.bytes` with MESSAGE_TOO_LARGE — non-retriable, so a consumer that produced it crashed and its
 * partition stalled for good. Here a list of messages is cut into sends whose encoded size (the whole send, so any
 * one partition's batch too) stays under the limit; the caller keeps the sends inside its transaction, so offsets
 * and cursors still commit with the records they stand for (docs/backpressure-and-recovery.md).
 */
import type { OutgoingMessage } from './kafka/index.ts';
import { PermanentError } from './retry.ts';

/** The broker's default `message.max.bytes` (1 MiB + the 12-byte log overhead): the limit when none can be read. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * A v2 record batch's header (base offset, length, epoch, magic, CRC, attributes, offsets, timestamps, producer id,
 * epoch and sequence, record count): counted in the size the broker compares with `max.message.bytes`.
 */
export const RECORD_BATCH_OVERHEAD_BYTES = 61;

/**
 * Upper bound of one record's framing in a v2 batch besides key, value and headers: length, attributes, timestamp
 * and offset deltas, key and value lengths, header count (varints at their widest).
 */
const RECORD_OVERHEAD_BYTES = 36;
/** Per header: the two length varints at their widest. */
const HEADER_OVERHEAD_BYTES = 10;

type Bytes = string | Buffer | null | undefined;

const byteLength = (v: Bytes): number => (v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);

/** Encoded size of one message as a record of a batch (an upper bound: varints counted at their widest). */
export function encodedRecordBytes(message: OutgoingMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name, 'utf8') + byteLength(v as Bytes);
  }
  return bytes;
}

/** A record that is larger than its topic accepts even alone: the caller dead-letters it (never retried). */
export class RecordTooLargeError extends PermanentError {
  constructor(
    readonly topic: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a record of ${bytes} bytes exceeds the ${limit} bytes topic ${topic} accepts in one record batch`, 'record_too_large');
  }
}

/** Where bounded sends go: a producer or a transaction (both have `send`). */
export interface SendTarget {
  send(record: { topic: string; messages: OutgoingMessage[]; acks?: number }): Promise<unknown>;
}

/**
 * The largest record batch each topic accepts, read once at start (KafkaClient.sendLimits), lowered by
 * KAFKA_MAX_BATCH_BYTES. One instance per service; it also keeps the largest send it made, for metrics and tests.
 */
export class SendLimits {
  private largest = 0;

  constructor(
    private readonly byTopic: ReadonlyMap<string, number>,
    /** For topics not described at start (e.g. a test's topic): the lowest known limit. */
    private readonly fallback = KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  /** Most bytes one record batch of `topic` may have. */
  limitOf(topic: string): number {
    return this.byTopic.get(topic) ?? this.fallback;
  }

  /** Most bytes one record (key, value, headers, framing) of `topic` may have to be sent at all. */
  maxRecordBytes(topic: string): number {
    return this.limitOf(topic) - RECORD_BATCH_OVERHEAD_BYTES;
  }

  fits(topic: string, message: OutgoingMessage): boolean {
    return encodedRecordBytes(message) <= this.maxRecordBytes(topic);
  }

  /** The largest send (in encoded bytes, batch overhead included) made through `send` so far. */
  get largestSendBytes(): number {
    return this.largest;
  }

  /**
   * Cuts `messages` into consecutive groups, in order, each of which fits one record batch of `topic`. Throws
   * RecordTooLargeError for a message that does not fit even alone (check `fits` first).
   */
  split(topic: string, messages: readonly OutgoingMessage[]): Array<{ messages: OutgoingMessage[]; bytes: number }> {
    const limit = this.limitOf(topic);
    const out: Array<{ messages: OutgoingMessage[]; bytes: number }> = [];
    let current: OutgoingMessage[] = [];
    let bytes = RECORD_BATCH_OVERHEAD_BYTES;
    for (const m of messages) {
      const size = encodedRecordBytes(m);
      if (size + RECORD_BATCH_OVERHEAD_BYTES > limit) throw new RecordTooLargeError(topic, size, limit);
      if (current.length > 0 && bytes + size > limit) {
        out.push({ messages: current, bytes });
        current = [];
        bytes = RECORD_BATCH_OVERHEAD_BYTES;
      }
      current.push(m);
      bytes += size;
    }
    if (current.length > 0) out.push({ messages: current, bytes });
    return out;
  }

  /** Sends `messages` to `topic` through `target` in as many sends as the limit needs, one after the other. */
  async send(target: SendTarget, topic: string, messages: readonly OutgoingMessage[], options: { acks?: number } = {}): Promise<void> {
    for (const part of this.split(topic, messages)) {
      await target.send({ topic, messages: part.messages, ...(options.acks !== undefined ? { acks: options.acks } : {}) });
      if (part.bytes > this.largest) this.largest = part.bytes;
    }
  }
}
