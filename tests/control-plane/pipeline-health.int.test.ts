/**
 * The control plane's stall finder on real Kafka: a stage's group that commits nothing while records arrive on one
 * partition stalls exactly the organizations keyed to that partition, and a commit clears it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineHealth } from '../../control-plane/index.ts';
import { Metrics, createLogger, partitionForKey } from '../../runtime/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { offsetsFixture, type OffsetsFixture } from '../helpers/offsets-fixture.ts';

const PARTITIONS = 3;

/** An organization id whose records are keyed to `partition`. */
function orgOn(partition: number): string {
  for (let i = 0; ; i++) if (partitionForKey(`org_stall${i}`, PARTITIONS) === partition) return `org_stall${i}`;
}

describe('pipeline stall detection on real Kafka', () => {
  const kafka = testKafkaClient('pipeline-health');
  let f: OffsetsFixture;

  beforeAll(async () => {
    f = await offsetsFixture(kafka, 'stall-raw', PARTITIONS);
  });

  afterAll(async () => {
    await f?.close();
  });

  it('stalls only the organizations on the partition that waits, with since when, and clears on a commit', async () => {
    const stalledOrg = orgOn(1);
    const otherOrg = orgOn(2);
    const { topic, groupId } = f;
    const metrics = new Metrics('controlplane', false);
    const health = new PipelineHealth({
      kafka,
      stages: [{ stage: 'normalize', groupId, topic }],
      stallAfterMs: 1_500,
      intervalMs: 0,
      logger: createLogger('test', { level: 'silent' }),
      metrics,
    });
    const stalledGauge = async () =>
      (await metrics.registry.getSingleMetric('m365siem_controlplane_pipeline_stalled_partitions_count')?.get())?.values.find(
        (v) => v.labels.stage === 'normalize',
      )?.value;
    try {
      // A first sample of the partitions as they are (a fresh topic may not answer at once): growth is seen from it.
      const firstDeadline = Date.now() + 30_000;
      while (!(await health.checkNow())) if (Date.now() > firstDeadline) throw new Error('the offsets could not be read within 30 s');
      await f.produce(5, { key: stalledOrg });
      const arrived = Date.now();
      const deadline = Date.now() + 30_000;
      while (health.stallsFor(stalledOrg).length === 0) {
        if (Date.now() > deadline) throw new Error('no stall reported within 30 s');
        await health.checkNow();
      }
      const [stall] = health.stallsFor(stalledOrg);
      expect(stall).toMatchObject({ stage: 'normalize', topic, partition: 1, lagRecords: 5 });
      expect(Date.parse(stall!.since)).toBeGreaterThanOrEqual(arrived - 1_000);
      expect(Date.now() - Date.parse(stall!.since)).toBeGreaterThanOrEqual(1_500);
      expect(health.stallsFor(otherOrg)).toEqual([]);
      expect(await stalledGauge()).toBe(1);

      // The stage commits again (not even everything): the stall is gone at the next check.
      await f.commit(1, 2);
      await health.checkNow();
      expect(health.stallsFor(stalledOrg)).toEqual([]);
      expect(await stalledGauge()).toBe(0);
    } finally {
      await health.stop();
    }
  });
});
