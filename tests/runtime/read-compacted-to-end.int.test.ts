/**
 * Rebuilding state from a compacted topic (control plane, ingest checkpoints) must finish when a partition ends
 * with transaction markers or aborted records only: kafkajs skips eachBatch for such fetches. Regression test for
 * a hang found in review: one-batch fetches make the last fetch hold nothing but an aborted batch and its marker.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';

describe('readCompactedToEnd', () => {
  const kafka = testKafkaClient('compacted-read');
  const topic = uniqueName('compacted');

  afterAll(async () => {
    await kafka.deleteTopics([topic]);
  });

  it('returns the latest committed value per key when the partition ends with an aborted transaction', async () => {
    await kafka.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1, config: { 'cleanup.policy': 'compact' } }]);
    const producer = kafka.transactionalProducer(uniqueName('compacted-tx'));
    await producer.connect();
    try {
      for (const [key, value] of [
        ['a', '1'],
        ['b', '1'],
        ['a', '2'],
      ] as const) {
        const tx = await producer.transaction();
        await tx.send({ topic, acks: -1, messages: [{ key, value }] });
        await tx.commit();
      }
      const aborted = await producer.transaction();
      await aborted.send({
        topic,
        acks: -1,
        messages: [
          { key: 'a', value: 'never' },
          { key: 'c', value: 'never' },
        ],
      });
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }

    // Small fetches: every record batch arrives on its own, so the last fetch holds only the aborted batch + marker.
    const read = kafka.readCompactedToEnd(topic, uniqueName('compacted-group'), { maxBytesPerPartition: 64 });
    const state = await Promise.race([
      read,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('readCompactedToEnd did not finish within 30 s')), 30_000)),
    ]);
    expect(Object.fromEntries([...state].map(([k, v]) => [k, v?.toString() ?? null]))).toEqual({ a: '2', b: '1' });
  }, 60_000);
});
