import { describe, expect, it } from 'vitest';
import { isKafkaClientError, isProducerFenced } from '../../runtime/index.ts';

describe('Kafka error classification (runtime/kafka.ts is the only place that knows the client)', () => {
  it('recognises fencing by the broker error type, also when wrapped, and nothing else', () => {
    const fencedAnswer = Object.assign(new Error('The producer attempted to use a producer id which is not currently assigned'), {
      name: 'KafkaJSProtocolError',
      type: 'PRODUCER_FENCED',
    });
    const wrapped = Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: fencedAnswer });
    expect(isProducerFenced(fencedAnswer)).toBe(true);
    expect(isProducerFenced(wrapped)).toBe(true);
    expect(isProducerFenced(Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' }))).toBe(false);
    expect(isKafkaClientError(wrapped)).toBe(true);
    expect(isKafkaClientError(new TypeError('x is undefined'))).toBe(false);
  });
});
