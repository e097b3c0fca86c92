import { inject } from 'vitest';
import {
  createKafkaClient,
  createLogger,
  createOpenSearchClient,
  parseKafkaSettings,
  parseOpenSearchSettings,
  type KafkaClient,
  type OpenSearchClient,
} from '../../runtime/index.ts';

/** A runtime Kafka client for the brokers the global setup provided (warnings only in test output). */
export function testKafkaClient(clientIdSuffix = 'test'): KafkaClient {
  const settings = parseKafkaSettings({ KAFKA_BROKERS: inject('kafkaBrokers'), KAFKA_CLIENT_ID: 'm365-siem-test' });
  return createKafkaClient(settings, createLogger('test', { level: 'warn' }), clientIdSuffix);
}

/** A runtime OpenSearch client for the URL the global setup provided. */
export function testOpenSearchClient(): OpenSearchClient {
  return createOpenSearchClient(parseOpenSearchSettings({ OPENSEARCH_URL: inject('opensearchUrl') }));
}
