/** Kafka helpers for the normalize integration tests. */
import { inject } from 'vitest';
import type { KafkaClient, ConsumedMessage, RawEnvelope } from '../../runtime/index.ts';
import { topicEndOffsets, waitForGroupCommitted } from '../helpers/read-topic.ts';
import { uniqueName, deleteTestGroups, deleteTestTopics } from '../helpers/resources.ts';
import { waitUntil } from '../helpers/wait.ts';

export interface TestTopics {
  raw: string;
  events: string;
  dlq: string;
  group: string;
  transactionalId: string;
}

export function testTopicNames(kind: string): TestTopics {
  const base = uniqueName(kind);
  return { raw: `${base}.raw`, events: `${base}.events`, dlq: `${base}.dlq`, group: `${base}-group`, transactionalId: `${base}-txn` };
}

/** Environment of a normalizer using the test topics. */
export function normalizerEnv(t: TestTopics, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: inject('kafkaBrokers'),
    KAFKA_CLIENT_ID: 'm365-siem-test',
    TOPIC_RAW: t.raw,
    TOPIC_EVENTS: t.events,
    TOPIC_DLQ: t.dlq,
    TOPIC_DATA_PARTITIONS: '2',
    NORMALIZE_GROUP_ID: t.group,
    NORMALIZE_TRANSACTIONAL_ID: t.transactionalId,
    NORMALIZE_OPS_PORT: '0',
    NORMALIZE_SESSION_TIMEOUT_MS: '8000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export async function produceRaw(kafka: KafkaClient, topic: string, values: Array<{ key: string; value: string }>): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 200) {
      await producer.send({ topic, messages: values.slice(i, i + 200) });
    }
  } finally {
    await producer.disconnect();
  }
}

export function envelopeMessages(envelopes: RawEnvelope[]): Array<{ key: string; value: string }> {
  return envelopes.map((e) => ({ key: e.orgId, value: JSON.stringify(e) }));
}

/**
 * Reads a topic from the beginning with the given isolation level until `enough(messages)` holds, then until the
 * reader has reached the topic's end offsets — taken after `producedBy`'s group (the stage writing the topic) has
 * committed its whole input, when given — so anything extra (a duplicate) written by then shows up too. Fails with a
 * clear message after `timeoutMs` (default 45 s). No fixed settle time: the end offsets are the condition.
 */
export async function readTopic(
  kafka: KafkaClient,
  topic: string,
  options: {
    readCommitted: boolean;
    enough: (messages: ConsumedMessage[]) => boolean;
    producedBy?: { groupId: string; input: string };
    timeoutMs?: number;
  },
): Promise<ConsumedMessage[]> {
  const out: ConsumedMessage[] = [];
  // One past the last offset each partition's batches covered; transaction markers and aborted records included.
  const reached = new Map<number, bigint>();
  const groupId = uniqueName('reader');
  const timeoutMs = options.timeoutMs ?? 45_000;
  const consumer = kafka.consumer({ groupId, readCommitted: options.readCommitted });
  await consumer.connect();
  try {
    consumer.onBatchProcessed((e) => {
      const next = BigInt(e.lastOffset) + 1n;
      if (next > (reached.get(e.partition) ?? 0n)) reached.set(e.partition, next);
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push(m);
      },
    });
    await waitUntil(`enough messages on ${topic} (${out.length} so far)`, () => options.enough(out), timeoutMs, 200);
    if (options.producedBy) await waitForGroupCommitted(kafka, options.producedBy.groupId, options.producedBy.input, timeoutMs);
    const ends = await topicEndOffsets(kafka, topic);
    await waitUntil(`the reader of ${topic} to reach its end offsets`, () => [...ends].every(([p, end]) => (reached.get(p) ?? 0n) >= end), timeoutMs, 100);
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await deleteTestGroups(cleanup, [groupId]);
    await cleanup.disconnect();
  }
  return out;
}

export async function cleanupTopics(kafka: KafkaClient, t: TestTopics): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await deleteTestGroups(admin, [t.group]);
    await deleteTestTopics(admin, [t.raw, t.events, t.dlq]);
  } finally {
    await admin.disconnect();
  }
}
