/** What the sink harnesses read back from Kafka as the output's readers do (read_committed), for the sink contract. */
import { randomUUID } from 'node:crypto';
import { deadLetterSchema, encodedRecordBytes, type KafkaClient } from '../../runtime/index.ts';
import { topicEndOffsets } from '../helpers/read-topic.ts';
import { deleteTestGroups, uniqueName } from '../helpers/resources.ts';
import { waitUntil } from '../helpers/wait.ts';
import type { DeadLetterRead } from './sink-contract.ts';

/** Header of the reader's own marker records: never a record of the topic's data. */
const MARKER_HEADER = 'm365-test-contract-marker';

interface TopicRecord {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * Every record of `topic` a read_committed reader sees, up to now. A marker record is written to each partition
 * first and the read ends when every marker was read: read_committed delivers a partition in offset order and stops
 * at the last stable offset, so a transaction committed before the marker — its commit marker still on its way
 * included — has been read by then. (Reading to the end offsets instead can stop short: right after a commit, the
 * last stable offset may not have passed its records yet.)
 */
async function readCommitted(kafka: KafkaClient, topic: string, timeoutMs = 60_000): Promise<TopicRecord[]> {
  const marker = randomUUID();
  const partitions = (await topicEndOffsets(kafka, topic)).keys();
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: [...partitions].map((partition) => ({ partition, key: 'contract-marker', value: '{}', headers: { [MARKER_HEADER]: marker } })),
    });
  } finally {
    await producer.disconnect();
  }
  const pending = new Set((await topicEndOffsets(kafka, topic)).keys());
  const out: TopicRecord[] = [];
  const groupId = uniqueName('contract-reader');
  const consumer = kafka.consumer({ groupId, readCommitted: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([name, v]) => [name, String(Array.isArray(v) ? v[0] : (v ?? ''))]));
          if (headers[MARKER_HEADER] === marker) pending.delete(batch.partition);
          else if (headers[MARKER_HEADER] === undefined && m.value) out.push({ key: m.key?.toString('utf8') ?? '', value: m.value, headers });
        }
      },
    });
    await waitUntil(`the reader of ${topic} to reach its marker`, () => pending.size === 0, timeoutMs, 50);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await deleteTestGroups(admin, [groupId]);
    await admin.disconnect();
  }
  return out;
}

/** The dead letters on `topic` keyed with `org`, parsed with the contract's schema, with their encoded size. */
export async function deadLettersOf(kafka: KafkaClient, topic: string, org: string): Promise<DeadLetterRead[]> {
  return (await readCommitted(kafka, topic))
    .filter((r) => r.key === org)
    .map((r) => ({
      letter: deadLetterSchema.parse(JSON.parse(r.value.toString('utf8'))),
      headers: r.headers,
      bytes: encodedRecordBytes({ key: r.key, value: r.value, headers: r.headers }),
    }));
}

/** How many times each of `ids` is on `topic` for read_committed readers; `idOf` names a record's id. */
export async function idCountsOn(
  kafka: KafkaClient,
  topic: string,
  ids: readonly string[],
  idOf: (value: Buffer, headers: Record<string, string>) => string | null,
): Promise<Map<string, number>> {
  const wanted = new Set(ids);
  const counts = new Map<string, number>();
  for (const r of await readCommitted(kafka, topic)) {
    const id = idOf(r.value, r.headers);
    if (id !== null && wanted.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** The latest value of each key on `topic` for read_committed readers (a compacted topic's current state). */
export async function latestByKey(kafka: KafkaClient, topic: string): Promise<Map<string, string>> {
  return new Map((await readCommitted(kafka, topic)).map((r) => [r.key, r.value.toString('utf8')]));
}

/** Sum over partitions of the offsets `groupId` committed on `topic`: how many input records it accounted for. */
export async function committedOffsets(kafka: KafkaClient, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (committed[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}
