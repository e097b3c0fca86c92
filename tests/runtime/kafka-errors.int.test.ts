/**
 * The Kafka client's errors as the project's own classes (runtime/kafka/client.ts), from real broker answers: the
 * adapter maps them by the client's error classes and the broker's error types, never by message text, so services
 * classify Kafka failures without knowing which client runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  createKafkaClient,
  createLogger,
  isKafkaClientError,
  isProducerFenced,
  KafkaError,
  parseKafkaSettings,
  ProducerFencedError,
  type KafkaProducer,
} from '../../runtime/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { freePort } from '../helpers/free-port.ts';
import { uniqueName } from '../helpers/resources.ts';

describe('Kafka errors through the client boundary', () => {
  const kafka = testKafkaClient('kafka-errors');
  const topic = uniqueName('kafka-errors');
  const producers: KafkaProducer[] = [];

  afterAll(async () => {
    await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
    await kafka.deleteTopics([topic]);
  });

  it('reports a producer whose transactional id another producer took over as ProducerFencedError', async () => {
    await kafka.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1, config: { 'max.message.bytes': '65536' } }]);
    const transactionalId = uniqueName('fenced-tx');
    const first = kafka.transactionalProducer(transactionalId);
    producers.push(first);
    await first.connect();
    const open = await first.transaction();
    await open.send({ topic, acks: -1, messages: [{ key: 'org-a', value: 'before the takeover' }] });

    // A second producer initialising the same transactional id (on its first transaction) bumps its epoch: the
    // broker aborts the first one's open transaction and fences it.
    const second = kafka.transactionalProducer(transactionalId);
    producers.push(second);
    await second.connect();
    const takeover = await second.transaction();
    await takeover.send({ topic, acks: -1, messages: [{ key: 'org-a', value: 'after the takeover' }] });
    await takeover.commit();

    const failure = await open.commit().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ProducerFencedError);
    expect((failure as ProducerFencedError).code).toBe('INVALID_PRODUCER_EPOCH');
    expect((failure as ProducerFencedError).retriable).toBe(false);
    expect(isProducerFenced(failure)).toBe(true);
    expect(isKafkaClientError(failure)).toBe(true);
    // Wrapped by our own code (raw-publisher keeps the cause), still recognised.
    expect(isProducerFenced(new Error('transaction failed', { cause: failure }))).toBe(true);
  }, 60_000);

  it('reports a record the topic refuses as a non-retriable KafkaError with the broker error type, not as fencing', async () => {
    const producer = kafka.producer();
    producers.push(producer);
    await producer.connect();
    const failure = await producer.send({ topic, acks: -1, messages: [{ key: 'org-a', value: 'x'.repeat(200_000) }] }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(KafkaError);
    expect(failure).not.toBeInstanceOf(ProducerFencedError);
    expect((failure as KafkaError).code).toBe('MESSAGE_TOO_LARGE');
    expect((failure as KafkaError).retriable).toBe(false);
    expect(isProducerFenced(failure)).toBe(false);
    expect(isKafkaClientError(failure)).toBe(true);
  }, 60_000);

  it('reports a cluster nobody answers on as a KafkaError of kind connection, not as the retries running out', async () => {
    // A port nothing listens on: every connection attempt is refused at once, so only the client's retries take time.
    const settings = parseKafkaSettings({ KAFKA_BROKERS: `127.0.0.1:${await freePort()}`, KAFKA_CONNECTION_TIMEOUT_MS: '500' });
    const unreachable = createKafkaClient(settings, createLogger('test', { level: 'silent' }), 'unreachable');
    const admin = unreachable.admin();
    const failure = await admin.connect().then(
      () => null,
      (error: unknown) => error,
    );
    await admin.disconnect().catch(() => undefined);
    expect(failure).toBeInstanceOf(KafkaError);
    expect(failure).not.toBeInstanceOf(ProducerFencedError);
    expect((failure as KafkaError).code).toBe('connection');
    expect(isKafkaClientError(failure)).toBe(true);
    expect(isProducerFenced(failure)).toBe(false);
  }, 60_000);

  it('leaves errors that are not the client’s alone', () => {
    expect(isKafkaClientError(new TypeError('x is undefined'))).toBe(false);
    expect(isProducerFenced(new Error('producer fenced (only the text says so)'))).toBe(false);
  });
});
