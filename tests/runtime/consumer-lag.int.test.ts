/**
 * The lag gauges on real Kafka: a group's committed offsets and a topic's end offsets read with the admin, turned
 * into `m365siem_<component>_consumer_lag_records|seconds` per topic and partition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerLagMonitor, Metrics, consumerLagGauges, createLogger, readGroupOffsets } from '../../runtime/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { offsetsFixture, type OffsetsFixture } from '../helpers/offsets-fixture.ts';
import { uniqueName } from '../helpers/resources.ts';
import { waitUntil } from '../helpers/wait.ts';

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
  await waitUntil(what, check, timeoutMs, 100);
};

describe('consumer lag on real Kafka', () => {
  const kafka = testKafkaClient('consumer-lag');
  let f: OffsetsFixture;

  beforeAll(async () => {
    f = await offsetsFixture(kafka, 'lag', 2);
  });

  afterAll(async () => {
    await f?.close();
  });

  it('reads nothing for a topic that does not exist', async () => {
    expect(await readGroupOffsets(f.admin, f.groupId, uniqueName('absent'))).toBeNull();
  });

  it('exports records behind and seconds without a commit per partition, and clears them on a commit', async () => {
    const { topic, groupId } = f;
    await f.produce(10, { partition: 0 });
    await f.produce(4, { partition: 1 });
    await f.commit(0, 4);
    const metrics = new Metrics('normalize', false);
    const monitor = new ConsumerLagMonitor(kafka, {
      groupId,
      topic,
      intervalMs: 0,
      gauges: consumerLagGauges(metrics),
      logger: createLogger('test', { level: 'warn' }),
    });
    const gauge = async (what: 'records' | 'seconds', partition: number) => {
      const values = (await metrics.registry.getSingleMetric(`m365siem_normalize_consumer_lag_${what}`)?.get())?.values ?? [];
      return values.find((v) => v.labels.topic === topic && v.labels.partition === String(partition))?.value;
    };
    try {
      await monitor.sampleNow();
      // Partition 1: nothing committed, so the group starts at the log start (offset 0).
      expect([await gauge('records', 0), await gauge('records', 1)]).toEqual([6, 4]);
      expect([await gauge('seconds', 0), await gauge('seconds', 1)]).toEqual([0, 0]);

      // Records arrive on partition 0 and the group commits nothing: its seconds start counting.
      await f.produce(3, { partition: 0 });
      await monitor.sampleNow();
      expect(await gauge('records', 0)).toBe(9);
      await waitFor('the waiting seconds to grow', async () => {
        await monitor.sampleNow();
        return ((await gauge('seconds', 0)) ?? 0) >= 0.5;
      });
      // Partition 1's four records wait too and nothing was ever committed there: its clock runs as well.
      expect(await gauge('seconds', 1)).toBeGreaterThan(0);

      await f.commit(0, 13);
      await monitor.sampleNow();
      expect([await gauge('records', 0), await gauge('seconds', 0)]).toEqual([0, 0]);
    } finally {
      await monitor.stop();
    }
  });
});
