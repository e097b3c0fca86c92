/**
 * A consumer killed from inside (issue 19): a non-retriable error thrown while a batch is handled makes kafkajs stop
 * the consumer for good (CRASH, restart=false). The normalizer must then answer /readyz "not ready" with the reason,
 * restart the consumer after a backoff, and finish the work exactly once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createNormalizeMetrics, mapEnvelope, startNormalizer, type RunningNormalizer } from '../../normalize/index.ts';
import { PermanentError } from '../../runtime/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { waitUntil } from '../e2e/harness.ts';
import { cleanupTopics, envelopeMessages, normalizerEnv, produceRaw, readTopic, testTopicNames } from './kafka-helpers.ts';
import { simulatedEnvelopes } from './simulated-envelopes.ts';

describe('normalizer consumer stopped by a non-retriable error (real Kafka)', () => {
  const kafka = testKafkaClient('normalize-recovery');
  const t = testTopicNames('norm-recover');
  let normalizer: RunningNormalizer | null = null;

  afterAll(async () => {
    await normalizer?.close();
    await cleanupTopics(kafka, t);
  });

  it('is not ready while its consumer is down, says why, restarts it and delivers every event once', { timeout: 120_000 }, async () => {
    const envelopes = simulatedEnvelopes(300, 'org-recover', 'recover');
    await kafka.ensureTopics([
      { name: t.raw, partitions: 1, replicationFactor: 1, config: {} },
      { name: t.events, partitions: 1, replicationFactor: 1, config: {} },
      { name: t.dlq, partitions: 1, replicationFactor: 1, config: {} },
    ]);
    await produceRaw(kafka, t.raw, envelopeMessages(envelopes));
    let injected = 0;
    const metrics = createNormalizeMetrics(false);
    normalizer = await startNormalizer(normalizerEnv(t, { TOPIC_DATA_PARTITIONS: '1', NORMALIZE_MAX_TRANSACTION_RECORDS: '100' }), {
      metrics,
      beforeCommit: () => {
        // The first transaction dies with an error kafkajs must not retry: its consumer stops for good.
        if (injected++ === 0) throw new PermanentError('injected failure for the recovery test', 'injected');
      },
    });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${normalizer!.opsPort}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
    };
    const down = await waitUntil(
      'readiness to report the stopped consumer',
      async () => {
        const r = await readyz();
        return r.status === 503 && r.body.reason?.includes('injected failure') ? r : null;
      },
      30_000,
      50,
    );
    expect(down.body.reason).toContain(`${t.raw} consumer stopped`);

    const back = Date.now();
    await waitUntil('readiness back after the restart', async () => (await readyz()).status === 200, 60_000, 100);
    console.log(`consumer down to ready again in ${Date.now() - back} ms after the first 503`);
    const expected = new Set(
      envelopes.flatMap((e) => {
        const mapped = mapEnvelope(e);
        return mapped.kind === 'ok' ? [mapped.value.event.id] : [];
      }),
    );
    const events = await readTopic(kafka, t.events, {
      readCommitted: true,
      enough: (m) => m.length >= expected.size,
      producedBy: { groupId: t.group, input: t.raw },
      timeoutMs: 60_000,
    });
    const ids = events.map((m) => m.headers?.['m365-event-id']?.toString() ?? '');
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(expected);
    expect(normalizer.service.readiness()).toBeNull();
    expect(await metrics.registry.getSingleMetricAsString('m365siem_normalize_consumer_restarts_total')).toMatch(/ 1$/m);
  });
});
