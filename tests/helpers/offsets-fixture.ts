/**
 * A test's own topic and consumer group with an admin and a plain producer connected: for tests that move a
 * group's committed offsets by hand (setOffsets) while records arrive, as lag and stall tests do.
 */
import type { KafkaAdmin, KafkaClient, KafkaProducer } from '../../runtime/index.ts';
import { deleteTestGroups, deleteTestTopics, uniqueName } from './resources.ts';

export interface OffsetsFixture {
  topic: string;
  groupId: string;
  admin: KafkaAdmin;
  /** Sends `count` records keyed `key` (or to `partition` when given). */
  produce(count: number, target: { key?: string; partition?: number }): Promise<void>;
  /** Moves the group's committed offset on one partition, as a consumer's commit would. */
  commit(partition: number, offset: number): Promise<void>;
  close(): Promise<void>;
}

export async function offsetsFixture(kafka: KafkaClient, kind: string, partitions: number): Promise<OffsetsFixture> {
  const topic = uniqueName(kind);
  const groupId = uniqueName(`${kind}-group`);
  await kafka.ensureTopics([{ name: topic, partitions, replicationFactor: 1, config: {} }]);
  const admin = kafka.admin();
  await admin.connect();
  const producer: KafkaProducer = kafka.producer();
  await producer.connect();
  return {
    topic,
    groupId,
    admin,
    async produce(count, target) {
      const messages = Array.from({ length: count }, (_, i) => ({
        key: target.key ?? `k${i}`,
        value: `v${i}`,
        ...(target.partition === undefined ? {} : { partition: target.partition }),
      }));
      await producer.send({ topic, messages });
    },
    async commit(partition, offset) {
      await admin.setOffsets({ groupId, topic, partitions: [{ partition, offset: String(offset) }] });
    },
    async close() {
      await producer.disconnect();
      await deleteTestGroups(admin, [groupId]);
      await deleteTestTopics(admin, [topic]);
      await admin.disconnect();
    },
  };
}
