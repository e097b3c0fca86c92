/**
 * A standard Confluent-compatible client (@kafkajs/confluent-schema-registry) decodes siem.events:
 *  1. against our registry read API (the control plane's router over schemas/ data) with our stable ids;
 *  2. against a "real" registry (a fake one implementing POST /subjects/{subject}/versions) when SCHEMA_REGISTRY_URL is
 *     set: the normalizer registers there and frames events with the id it returns.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, it } from 'vitest';
import { schemaRegistryRouter } from '../../control-plane/schema-registry.ts';
import { startNormalizer, type RunningNormalizer } from '../../normalize/index.ts';
import { replayOrganization } from '../../cli/replay.ts';
import { createLogger, type RawEnvelope } from '../../runtime/index.ts';
import { SIEM_EVENT_SUBJECT, decodeSiemEvent, latestSiemEventSchema, toPlainJson } from '../../schemas/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { cleanupTopics, envelopeMessages, normalizerEnv, produceRaw, readTopic, testTopicNames, type TestTopics } from '../normalize/kafka-helpers.ts';
import { simulatedEnvelopes } from '../normalize/simulated-envelopes.ts';

async function listen(app: express.Express): Promise<{ url: string; server: Server }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('siem.events decoded by a Confluent Schema Registry client', () => {
  const kafka = testKafkaClient('normalize-sr');
  const used: TestTopics[] = [];
  const servers: Server[] = [];
  const normalizers: RunningNormalizer[] = [];

  afterAll(async () => {
    for (const n of normalizers) await n.close().catch(() => undefined);
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const t of used) await cleanupTopics(kafka, t);
  });

  async function run(extraEnv: Record<string, string>, envelopes: RawEnvelope[], extraMessages: Array<{ key: string; value: string }> = []) {
    const t = testTopicNames('norm-sr');
    used.push(t);
    const normalizer = await startNormalizer(normalizerEnv(t, extraEnv), { logger: createLogger('normalize', { level: 'warn' }), opsServer: false });
    normalizers.push(normalizer);
    await normalizer.ready();
    await produceRaw(kafka, t.raw, [...envelopeMessages(envelopes), ...extraMessages]);
    const messages = await readTopic(kafka, t.events, {
      readCommitted: true,
      enough: (m) => m.length >= envelopes.length,
      producedBy: { groupId: t.group, input: t.raw },
    });
    return { messages, normalizer, topics: t };
  }

  it('with our registry read API and stable schema ids (and drops a re-served duplicate)', async () => {
    const app = express();
    app.use(schemaRegistryRouter());
    const { url, server } = await listen(app);
    servers.push(server);
    const envelopes = simulatedEnvelopes(30, 'org-sr', 'sr-a');
    // Microsoft re-serves a record: the same envelope again is not produced twice (dedup horizon).
    const { messages } = await run({}, envelopes, envelopeMessages(envelopes.slice(0, 3)));
    expect(messages).toHaveLength(envelopes.length);

    const registry = new SchemaRegistry({ host: url });
    expect(await registry.getLatestSchemaId(SIEM_EVENT_SUBJECT)).toBe(latestSiemEventSchema.id);
    for (const m of messages) {
      const value = m.value as Buffer;
      expect(value.readUInt32BE(1)).toBe(latestSiemEventSchema.id);
      const viaClient = (await registry.decode(value)) as Record<string, unknown>;
      const ours = decodeSiemEvent(value);
      expect(JSON.parse(JSON.stringify(viaClient))).toEqual(JSON.parse(JSON.stringify(ours)));
      expect((viaClient.event as { id: string }).id).toBe(ours.event.id);
      expect((viaClient.organization as { id: string }).id).toBe('org-sr');
      expect(m.headers?.['m365-source']?.toString()).toBe(ours.m365?.source);
    }
    const plain = toPlainJson(decodeSiemEvent(messages[0]?.value as Buffer));
    expect(typeof plain.timestamp).toBe('string');
  });

  it('registers with a real registry when SCHEMA_REGISTRY_URL is set and frames events with its id', async () => {
    const registered: Array<{ subject: string; schema: string }> = [];
    const REGISTRY_ID = 9137;
    const app = express();
    app.use(express.json({ type: ['application/json', 'application/vnd.schemaregistry.v1+json'] }));
    app.post('/subjects/:subject/versions', (req, res) => {
      registered.push({ subject: req.params.subject, schema: (req.body as { schema: string }).schema });
      res.type('application/vnd.schemaregistry.v1+json').send(JSON.stringify({ id: REGISTRY_ID }));
    });
    app.get('/schemas/ids/:id', (req, res) => {
      const last = registered[registered.length - 1];
      if (req.params.id !== String(REGISTRY_ID) || !last) return void res.status(404).json({ error_code: 40403, message: 'Schema not found' });
      res.type('application/vnd.schemaregistry.v1+json').send(JSON.stringify({ schema: last.schema }));
    });
    const { url, server } = await listen(app);
    servers.push(server);

    const envelopes = simulatedEnvelopes(10, 'org-real-sr', 'sr-b');
    const { messages, normalizer, topics } = await run({ SCHEMA_REGISTRY_URL: url }, envelopes);
    expect(normalizer.schemaId).toBe(REGISTRY_ID);
    expect(registered).toHaveLength(1);
    expect(registered[0]?.subject).toBe(SIEM_EVENT_SUBJECT);
    expect(JSON.parse(registered[0]?.schema ?? '')).toEqual(latestSiemEventSchema.schema);

    const registry = new SchemaRegistry({ host: url });
    expect(messages).toHaveLength(envelopes.length);
    for (const m of messages) {
      const value = m.value as Buffer;
      expect(value.readUInt32BE(1)).toBe(REGISTRY_ID);
      const decoded = (await registry.decode(value)) as { event: { id: string }; organization: { id: string } };
      expect(decoded.organization.id).toBe('org-real-sr');
      expect(decoded.event.id).toBe(decodeSiemEvent(value).event.id);
    }

    // A replay frames exactly as the normalizer does: it registers the same schema and uses the registry's id.
    const replay = await replayOrganization(normalizerEnv(topics, { SCHEMA_REGISTRY_URL: url }), {
      orgId: 'org-real-sr',
      logger: createLogger('replay', { level: 'warn' }),
    });
    expect(replay.produced).toBe(envelopes.length);
    expect(registered).toHaveLength(2);
    expect(registered[1]).toEqual(registered[0]);
    const all = await readTopic(kafka, topics.events, { readCommitted: true, enough: (m) => m.length >= 2 * envelopes.length });
    const replayed = all.slice(envelopes.length);
    expect(replayed).toHaveLength(envelopes.length);
    for (const m of replayed) {
      const value = m.value as Buffer;
      expect(value.readUInt32BE(1)).toBe(REGISTRY_ID);
      expect(m.headers?.['m365-schema-id']?.toString()).toBe(String(REGISTRY_ID));
      expect(((await registry.decode(value)) as { organization: { id: string } }).organization.id).toBe('org-real-sr');
    }
  });
});
