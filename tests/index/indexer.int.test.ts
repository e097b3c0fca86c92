import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, deadLetterSchema, type DeadLetter, type KafkaProducer } from '../../runtime/index.ts';
import { organizationAliasName } from '../../schemas/opensearch/index.ts';
import { documentId, startIndexer, type RunningIndexer } from '../../index/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, countDocs, indexerEnv, offsets, openSearchAt, opensearchUrl, quietLogger, testTopics, waitFor } from './helpers/fixture.ts';
import { anyEvent, encode, signIn } from './helpers/siem-events.ts';
import { expectDeadLetterHeaders } from '../helpers/dead-letters.ts';

/** The index service end to end on the shared Kafka and OpenSearch: siem.events in, documents and dead letters out. */
describe('indexer service (real Kafka and OpenSearch)', () => {
  const prefix = uniqueName('siem-events');
  const groupId = uniqueName('index-group');
  const dlqReaderGroup = uniqueName('dlq-reader');
  const topics = testTopics(2);
  const kafka = testKafkaClient('index-test');
  const os = openSearchAt(opensearchUrl());
  const metrics = new Metrics('index', false);
  let producer: KafkaProducer;
  let indexer: RunningIndexer;

  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
    return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  };
  const allDurable = () =>
    waitFor('every message committed', async () => {
      const o = await offsets(groupId, topics.events.name);
      return o.end > 0 && o.committed === o.end;
    });

  beforeAll(async () => {
    await kafka.ensureTopics([topics.events, topics.deadLetter]);
    producer = kafka.producer();
    await producer.connect();
    indexer = await startIndexer(indexerEnv({ prefix, groupId }), { topics, logger: quietLogger(), metrics });
  });

  afterAll(async () => {
    await indexer?.close();
    await producer?.disconnect();
    await cleanup({ client: os, prefix, topics, groups: [groupId, dlqReaderGroup] });
    await os.close();
  });

  it('indexes the same events twice (re-served, replayed) as one document each, and aliases each organization', async () => {
    const orgs = ['org-a', 'org-b'];
    const events = Array.from({ length: 120 }, (_, i) => anyEvent(orgs[i % 2]!, i, Date.parse('2026-05-10T10:00:00Z') + i * 60_000));
    const send = () => producer.send({ topic: topics.events.name, acks: -1, messages: events.map((e) => ({ key: e.organization.id, value: encode(e) })) });
    await send();
    await allDurable();
    await send(); // Microsoft re-serves the content / the operator replays
    await allDurable();

    expect(await countDocs(os, prefix)).toBe(120);
    expect(await metric('m365siem_index_documents_total', { outcome: 'indexed' })).toBe(120);
    expect(await metric('m365siem_index_documents_total', { outcome: 'duplicate' })).toBe(120);
    // every event under its deterministic id, in the daily index of its own time
    const one = events[7]!;
    const got = await os.get({ index: `${prefix}-2026.05.10`, id: documentId(one.organization.id, one.event.id) });
    expect((got.body as { _source: { event: { id: string } } })._source.event.id).toBe(one.event.id);
    // per-organization filtered aliases see only their organization
    expect(await countDocs(os, organizationAliasName(prefix, 'org-a')!)).toBe(60);
    expect(await countDocs(os, organizationAliasName(prefix, 'org-b')!)).toBe(60);
    expect(await countDocs(os, organizationAliasName(prefix, 'org-b')!, { term: { 'organization.id': 'org-a' } })).toBe(0);
  });

  it('sends a mapping conflict and undecodable bytes to the dead-letter topic with the reason, and moves on', async () => {
    const at = Date.parse('2026-05-11T08:00:00Z');
    const good = signIn({ orgId: 'org-a', atMs: at, id: 'dlq-good', user: 'ann@a.example', outcome: 'success', country: 'US', ip: '192.0.2.10' });
    const conflict = signIn({ orgId: 'org-a', atMs: at, id: 'dlq-conflict', user: 'ann@a.example', outcome: 'success', country: 'US', ip: 'not-an-ip' });
    await producer.send({
      topic: topics.events.name,
      acks: -1,
      messages: [
        { key: 'org-a', value: encode(good) },
        { key: 'org-a', value: encode(conflict), headers: { 'm365-source': 'graph:signIns' } },
        { key: 'org-a', value: Buffer.from([0, 0, 0, 0, 1, 0xff, 0xfe, 0x01]) },
        { key: 'org-a', value: Buffer.from('{"not":"avro"}') },
      ],
    });
    await allDurable();

    const letters: DeadLetter[] = [];
    const headersOf = new Map<DeadLetter, Parameters<typeof expectDeadLetterHeaders>[0]>();
    const consumer = kafka.consumer({ groupId: dlqReaderGroup });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.deadLetter.name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const letter = deadLetterSchema.parse(JSON.parse(message.value!.toString()));
        headersOf.set(letter, message.headers);
        letters.push(letter);
      },
    });
    await waitFor('three dead letters', () => letters.length >= 3);
    await consumer.disconnect();
    for (const letter of letters) expectDeadLetterHeaders(headersOf.get(letter), letter);

    expect(await countDocs(os, prefix, { term: { 'event.id': 'dlq-good' } })).toBe(1);
    expect(await countDocs(os, prefix, { term: { 'event.id': 'dlq-conflict' } })).toBe(0);
    const mapping = letters.find((l) => l.errorCode === 'mapping_error')!;
    expect(mapping).toMatchObject({ stage: 'index', orgId: 'org-a', source: 'graph:signIns', inputEncoding: 'utf8' });
    expect(mapping.errorMessage).toMatch(/mapper_parsing_exception.*source\.ip/);
    expect(JSON.parse(mapping.input).event.id).toBe('dlq-conflict'); // the document that was refused
    expect(mapping.origin?.topic).toBe(topics.events.name);
    const undecodable = letters.filter((l) => l.errorCode !== 'mapping_error');
    expect(undecodable).toHaveLength(2);
    for (const l of undecodable) {
      expect(['avro_invalid', 'bad_framing', 'unknown_schema_id']).toContain(l.errorCode);
      expect(l.errorMessage).toMatch(/cannot decode Avro/);
    }
    expect(undecodable.find((l) => l.inputEncoding === 'base64')).toBeDefined();
    expect(await metric('m365siem_index_documents_total', { outcome: 'dead_letter' })).toBe(3);
  });

  it('serves readiness and its metrics on the ops port', async () => {
    const base = `http://127.0.0.1:${indexer.opsPort}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/m365siem_index_documents_total\{outcome="indexed"\} \d+/);
    expect(text).toContain('m365siem_index_bulk_seconds_bucket');
    expect(text).toContain('m365siem_index_dead_letters_total{code="mapping_error"} 1');
  });
});
