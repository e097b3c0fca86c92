import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaAdmin, KafkaClient, KafkaConsumer, KafkaProducer } from '../../runtime/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { deleteTestGroups, deleteTestTopics, uniqueName } from '../helpers/resources.ts';

/**
 * Proves the Kafka the launcher provides works with our client (kafkajs 2.2.4 through runtime/kafka/):
 * Kafka 4.x removed old protocol versions (KIP-896), so each feature the pipeline relies on is exercised.
 */

interface Received {
  key: string | null;
  value: string | null;
  partition: number;
  offset: string;
}

/** Consumes from the beginning until `count` records arrived (or the test times out). */
async function consumeN(consumer: KafkaConsumer, topic: string, count: number): Promise<Received[]> {
  const received: Received[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          received.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, partition, offset: message.offset });
          if (received.length >= count) resolve();
        },
      })
      .catch(reject);
  });
  return received;
}

describe('Kafka from the stack launcher with kafkajs', () => {
  let client: KafkaClient;
  let admin: KafkaAdmin;
  const topics: string[] = [];
  const groups: string[] = [];
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    client = testKafkaClient('stack-int');
    admin = client.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await deleteTestGroups(admin, groups);
    await deleteTestTopics(admin, topics);
    await admin.disconnect();
  });

  async function createTopic(kind: string, partitions: number): Promise<string> {
    const topic = uniqueName(kind);
    topics.push(topic);
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    expect(created).toBe(true);
    return topic;
  }

  function track<T extends KafkaProducer | KafkaConsumer>(c: T): T {
    closers.push(() => c.disconnect());
    return c;
  }

  it('creates and lists a topic through the admin API, and refuses auto-creation', async () => {
    const topic = await createTopic('admin', 3);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(3);
    expect(await admin.listTopics()).toContain(topic);
    // The broker runs with auto.create.topics.enable=false: even a client asking for auto-creation gets no topic.
    const missing = uniqueName('missing');
    topics.push(missing);
    const producer = track(client.producer({ allowAutoTopicCreation: true, retries: 1 }));
    await producer.connect();
    await expect(producer.send({ topic: missing, messages: [{ value: 'x' }] })).rejects.toThrow();
    expect(await admin.listTopics()).not.toContain(missing);
  });

  it('round-trips records from an idempotent producer to a consumer group, keeping per-key order', async () => {
    const topic = await createTopic('roundtrip', 2);
    const producer = track(client.producer());
    await producer.connect();
    const messages = Array.from({ length: 20 }, (_, i) => ({ key: `org-${i % 4}`, value: `event-${i}` }));
    const sent = await producer.send({ topic, messages });
    expect(sent.every((r) => r.errorCode === 0)).toBe(true);

    const groupId = uniqueName('group');
    groups.push(groupId);
    const consumer = track(client.consumer({ groupId }));
    await consumer.connect();
    const received = await consumeN(consumer, topic, messages.length);
    expect(received.map((r) => r.value).sort()).toEqual(messages.map((m) => m.value).sort());
    for (const key of ['org-0', 'org-1', 'org-2', 'org-3']) {
      const expected = messages.filter((m) => m.key === key).map((m) => m.value);
      const got = received.filter((r) => r.key === key).map((r) => r.value);
      expect(got).toEqual(expected);
      // one key, one partition
      expect(new Set(received.filter((r) => r.key === key).map((r) => r.partition)).size).toBe(1);
    }
  });

  it('consumes, produces and commits offsets in one transaction (sendOffsets), visible with read_committed', async () => {
    const input = await createTopic('tx-in', 1);
    const output = await createTopic('tx-out', 1);
    const producer = track(client.producer());
    await producer.connect();
    await producer.send({ topic: input, messages: [1, 2, 3].map((n) => ({ key: 'org', value: `in-${n}` })) });

    const groupId = uniqueName('tx-group');
    groups.push(groupId);
    const txProducer = track(client.transactionalProducer(uniqueName('tx-id')));
    await txProducer.connect();
    const consumer = track(client.consumer({ groupId, readCommitted: true }));
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    let processed = 0;
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const tx = await txProducer.transaction();
            try {
              await tx.send({ topic: output, messages: [{ key: message.key, value: `out-${message.value?.toString()}` }] });
              await tx.sendOffsets({
                consumerGroupId: groupId,
                topics: [{ topic, partitions: [{ partition, offset: (BigInt(message.offset) + 1n).toString() }] }],
              });
              await tx.commit();
            } catch (err) {
              await tx.abort();
              throw err;
            }
            processed += 1;
            if (processed === 3) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.stop();

    // A transaction that aborts must stay invisible to read_committed readers.
    const aborted = await txProducer.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'org', value: 'aborted' }] });
    await aborted.abort();
    // A committed marker after the aborted one lets the reader know it has seen everything.
    const last = await txProducer.transaction();
    await last.send({ topic: output, messages: [{ key: 'org', value: 'end' }] });
    await last.commit();

    // The group's committed offset moved with the transaction.
    const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
    expect(offsets[0]?.partitions[0]?.offset).toBe('3');

    const readerGroup = uniqueName('tx-reader');
    groups.push(readerGroup);
    const reader = track(client.consumer({ groupId: readerGroup, readCommitted: true }));
    await reader.connect();
    const got = await consumeN(reader, output, 4);
    expect(got.map((r) => r.value)).toEqual(['out-in-1', 'out-in-2', 'out-in-3', 'end']);
  });
});
