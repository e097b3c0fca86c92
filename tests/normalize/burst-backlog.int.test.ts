/**
 * Issue 19's reproduction at the normalizer: a backlog on one m365.raw partition (a paused, restarted or caught-up
 * normalizer sees exactly this) fetched 1 MB at a time maps to events about twice as large. Before the fix they
 * went out as one send per transaction — one record batch over the topic's max.message.bytes, MESSAGE_TOO_LARGE,
 * a crashed consumer and a partition stalled for good. Here the topics keep the broker's default limit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createNormalizeMetrics, mapEnvelope, startNormalizer, type RunningNormalizer } from '../../normalize/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { cleanupTopics, envelopeMessages, normalizerEnv, produceRaw, readTopic, testTopicNames } from './kafka-helpers.ts';
import { simulatedEnvelopes } from './simulated-envelopes.ts';

describe('normalizer under a backlog on one partition (real Kafka)', () => {
  const kafka = testKafkaClient('normalize-burst');
  const t = testTopicNames('norm-burst');
  let normalizer: RunningNormalizer | null = null;

  afterAll(async () => {
    await normalizer?.close();
    await cleanupTopics(kafka, t);
  });

  it('turns a backlog of several megabytes into events, each once, without a send the broker refuses', { timeout: 180_000 }, async () => {
    const envelopes = simulatedEnvelopes(6_000, 'org-burst', 'burst-backlog');
    const rawBytes = envelopes.reduce((n, e) => n + JSON.stringify(e).length, 0);
    expect(rawBytes).toBeGreaterThan(4 * 1024 * 1024);
    // No max.message.bytes override: the broker default (1,048,588) is the limit, as on the topics of issue 19.
    await kafka.ensureTopics([
      { name: t.raw, partitions: 1, replicationFactor: 1, config: {} },
      { name: t.events, partitions: 1, replicationFactor: 1, config: {} },
      { name: t.dlq, partitions: 1, replicationFactor: 1, config: {} },
    ]);
    await produceRaw(kafka, t.raw, envelopeMessages(envelopes));

    const metrics = createNormalizeMetrics(false);
    normalizer = await startNormalizer(normalizerEnv(t, { TOPIC_DATA_PARTITIONS: '1', NORMALIZE_MAX_TRANSACTION_RECORDS: '2000' }), {
      metrics,
      opsServer: false,
    });
    // The event ids the mapping gives these records (entity sources repeat ids: deduplicated once).
    const ids = new Set(
      envelopes.flatMap((e) => {
        const mapped = mapEnvelope(e);
        return mapped.kind === 'ok' ? [`${e.orgId}|${mapped.value.event.id}`] : [];
      }),
    );
    const events = await readTopic(kafka, t.events, {
      readCommitted: true,
      enough: (m) => m.length >= ids.size,
      producedBy: { groupId: t.group, input: t.raw },
      timeoutMs: 120_000,
    });
    const seen = events.map((m) => `${m.key?.toString()}|${m.headers?.['m365-event-id']?.toString() ?? ''}`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(ids.size);
    expect(normalizer.service.readiness()).toBeNull();
    const limits = normalizer.service.sendLimits!;
    expect(limits.limitOf(t.events)).toBe(1_048_588);
    expect(limits.largestSendBytes).toBeGreaterThan(limits.limitOf(t.events) / 2);
    expect(limits.largestSendBytes).toBeLessThanOrEqual(limits.limitOf(t.events));
    console.log(`largest send ${limits.largestSendBytes} bytes of ${limits.limitOf(t.events)}; raw backlog ${rawBytes} bytes`);
  });
});
