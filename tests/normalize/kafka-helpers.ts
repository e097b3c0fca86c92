/** Kafka helpers for the normalize integration tests. */
import { inject } from 'vitest';
import type { KafkaClient, KafkaMessage, RawEnvelope } from '../../runtime/index.ts';
import { uniqueName, deleteTestGroups, deleteTestTopics } from '../helpers/resources.ts';

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
 * Reads a topic from the beginning with the given isolation level until `enough(messages)` holds, then keeps reading
 * for `settleMs` more so anything extra (a duplicate) would show up too; or until `timeoutMs`.
 * Transaction markers make "high watermark reached" unreliable, hence the count-and-settle approach.
 */
export async function readTopic(
  kafka: KafkaClient,
  topic: string,
  options: { readCommitted: boolean; enough: (messages: KafkaMessage[]) => boolean; settleMs?: number; timeoutMs?: number },
): Promise<KafkaMessage[]> {
  const out: KafkaMessage[] = [];
  const groupId = uniqueName('reader');
  const consumer = kafka.consumer({ groupId, readCommitted: options.readCommitted });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push(m);
      },
    });
    const deadline = Date.now() + (options.timeoutMs ?? 45_000);
    while (!options.enough(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, options.settleMs ?? 2_000));
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
