/** Reading a topic up to known end offsets, and waiting for a consumer group to commit a topic's end (tests only). */
import type { KafkaClient } from '../../runtime/index.ts';
import { waitUntil } from './wait.ts';

/** One record as the decoder sees it: value, key, partition, offset and headers as strings. */
export type TopicRecordDecoder<T> = (value: Buffer, key: string, partition: number, offset: string, headers: Record<string, string>) => T;

/** High-water marks of a topic now (per partition). */
export async function topicEndOffsets(kafka: KafkaClient, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until `groupId` has committed `topic` up to `required` per partition (default: the end offsets it has now):
 * the group's consumer has processed (and, for a transactional stage, committed the output of) everything written to
 * it so far — the positive signal that the stage will add nothing more for it.
 */
export async function waitForGroupCommitted(
  kafka: KafkaClient,
  groupId: string,
  topic: string,
  timeoutMs: number,
  required?: Map<number, bigint>,
): Promise<void> {
  const needed = required ?? (await topicEndOffsets(kafka, topic));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitUntil(
      `group ${groupId} to commit ${topic} up to its end offsets`,
      async () => {
        const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
        const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
        return [...needed].every(([p, end]) => end === 0n || (byPartition.get(p) ?? -1n) >= end);
      },
      timeoutMs,
      200,
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads `topic` with a read-committed consumer from `from` (per partition; default the beginning) up to `ends`
 * (default: the end offsets now), decoding each value. Transaction markers and aborted records are never handed to
 * eachBatch, so the end of a partition is detected from the consumer's batch instrumentation, which sees them.
 */
export async function readTopicAs<T>(
  kafka: KafkaClient,
  topic: string,
  decode: TopicRecordDecoder<T>,
  options: { groupId: string; ends?: Map<number, bigint>; from?: Map<number, bigint>; timeoutMs?: number },
): Promise<T[]> {
  const ends = options.ends ?? (await topicEndOffsets(kafka, topic));
  const from = options.from ?? new Map<number, bigint>();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { groupId } = options;
  const pending = new Set([...ends].filter(([p, end]) => end > (from.get(p) ?? 0n)).map(([p]) => p));
  const out: T[] = [];
  if (pending.size === 0) return out;
  const consumer = kafka.consumer({ groupId, readCommitted: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 });
  const reached = (partition: number, lastOffset: string) => {
    const end = ends.get(partition) ?? 0n;
    if (BigInt(lastOffset) + 1n >= end) pending.delete(partition);
  };
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    consumer.onBatchProcessed((e) => {
      reached(e.partition, e.lastOffset);
      if (pending.size === 0) done();
    });
    consumer.onAssigned((assignment) => {
      for (const partition of assignment[topic] ?? []) {
        const start = from.get(partition);
        if (start !== undefined && start > 0n) consumer.seek({ topic, partition, offset: start.toString() });
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const end = ends.get(batch.partition) ?? 0n;
          if (BigInt(m.offset) >= end) break;
          if (BigInt(m.offset) < (from.get(batch.partition) ?? 0n) || !m.value) continue;
          const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([name, v]) => [name, String(Array.isArray(v) ? v[0] : (v ?? ''))]));
          out.push(decode(m.value, m.key?.toString('utf8') ?? '', batch.partition, m.offset, headers));
        }
      },
    });
    // A deadline on the read, not a synchronisation: `finished` is the condition.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end offsets within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    await Promise.race([finished, timeout]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return out;
}
