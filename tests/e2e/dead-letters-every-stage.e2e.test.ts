/**
 * One dead-letter builder for every stage (issue 14, decision 0093): a bad input at each stage — a Management
 * Activity record larger than m365.raw accepts (ingest), a raw message that is not JSON (normalize), an events
 * message that is not Avro (index) — ends on the one dead-letter topic, read back from Kafka, each with the one
 * header set and within the one size rule: a letter always fits the dead-letter topic, its input cut to fit when
 * it would not (the raw and events inputs here are quote characters, which JSON escaping doubles past the limit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RAW_HEADERS } from '../../runtime/index.ts';
import { expectDeadLetterHeaders } from '../helpers/dead-letters.ts';
import { startWholePipeline, waitUntil, type ConnectedOrganization, type DeadLetterOnTopic, type Pipeline } from './harness.ts';

const SOURCE = 'management:Audit.Exchange' as const;
/** The smallest max.message.bytes the setting allows: small inputs make the size rule bite. */
const TOPIC_MAX_BYTES = 1_048_588;

describe('every stage dead-letters through the one builder (real Kafka, OpenSearch and simulator)', () => {
  let p: Pipeline;
  let org: ConnectedOrganization;

  beforeAll(async () => {
    p = await startWholePipeline({
      TOPIC_DATA_MAX_MESSAGE_BYTES: String(TOPIC_MAX_BYTES),
      INGEST_GRAPH_LAG_MS: '60000',
      INGEST_INITIAL_LOOKBACK_MS: '3600000',
    });
    const tenant = await p.control.createTenant({ name: 'Dead letters Contoso', domain: `dlq-${Date.now().toString(36)}.example`, publicationDelayMs: [0, 0] });
    org = await p.connect(tenant);
  }, 180_000);

  afterAll(async () => {
    await p?.close();
  }, 120_000);

  it('writes one header set and fits the topic, for ingest, normalize and index alike', async () => {
    await waitUntil(
      'ingest to start the Exchange subscription',
      async () => (await p.control.getTenant(org.tenant.tenantId)).subscriptions.some((s) => s.contentType === 'Audit.Exchange' && s.status === 'enabled'),
      60_000,
    );
    // ingest: one record larger than m365.raw takes even alone.
    await p.control.addRecords(org.tenant.tenantId, SOURCE, 1, { recordBytes: TOPIC_MAX_BYTES + 200_000 });
    // normalize and index: inputs that fit their topic but whose dead letter, JSON-escaped, would not.
    const quotes = Buffer.alloc(700_000, '"');
    const producer = p.kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: p.topics.raw.name, acks: -1, messages: [{ key: org.orgId, value: quotes, headers: { [RAW_HEADERS.source]: SOURCE } }] });
      await producer.send({ topic: p.topics.events.name, acks: -1, messages: [{ key: org.orgId, value: quotes, headers: { [RAW_HEADERS.source]: SOURCE } }] });
    } finally {
      await producer.disconnect();
    }

    const byStage = await waitUntil(
      'a dead letter from each stage',
      async () => {
        const letters = (await p.readDeadLetters()).filter((l) => l.orgKey === org.orgId);
        const first = (stage: string) => letters.find((l) => l.stage === stage);
        const found = { ingest: first('ingest'), normalize: first('normalize'), index: first('index') };
        return found.ingest && found.normalize && found.index ? (found as Record<'ingest' | 'normalize' | 'index', DeadLetterOnTopic>) : null;
      },
      180_000,
      1_000,
    );

    expect(byStage.ingest.errorCode).toBe('record_too_large');
    expect(byStage.normalize.errorCode).toBe('invalid_json');
    expect(byStage.index.errorCode).toBe('bad_framing'); // not the Confluent framing (magic byte 0, schema id)
    for (const stage of ['ingest', 'normalize', 'index'] as const) {
      const letter = byStage[stage];
      expectDeadLetterHeaders(letter.headers, { stage, errorCode: letter.errorCode, source: SOURCE });
      // The size rule: every letter fits the dead-letter topic, the oversized inputs cut to fit and saying so.
      expect(letter.bytes, stage).toBeLessThanOrEqual(TOPIC_MAX_BYTES);
      expect(letter.bytes, stage).toBeGreaterThan(500_000);
      expect(letter.head, stage).toContain('input truncated from');
    }
  }, 300_000);
});
