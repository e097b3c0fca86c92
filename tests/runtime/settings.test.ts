import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  envBoolean,
  envInt,
  envOptionalUrl,
  envUrl,
  parseKafkaSettings,
  parseOpenSearchSettings,
  parseSettings,
  parseTopicSettings,
  setting,
  topicSpecs,
} from '../../runtime/index.ts';

describe('parseSettings', () => {
  const spec = {
    port: setting('EXAMPLE_PORT', envInt(8080, 1, 65535), 'example port'),
    debug: setting('EXAMPLE_DEBUG', envBoolean(false), 'example flag'),
    name: setting('EXAMPLE_NAME', z.string().min(3), 'example name'),
  };

  it('applies defaults and parses values', () => {
    expect(parseSettings(spec, { EXAMPLE_NAME: 'abc', EXAMPLE_DEBUG: 'true' })).toEqual({ port: 8080, debug: true, name: 'abc' });
  });

  it('treats an empty string as unset', () => {
    expect(parseSettings(spec, { EXAMPLE_NAME: 'abc', EXAMPLE_PORT: '' }).port).toBe(8080);
  });

  it('names every bad setting by its env var in one error', () => {
    let error: unknown;
    try {
      parseSettings(spec, { EXAMPLE_PORT: '99999', EXAMPLE_DEBUG: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('EXAMPLE_PORT: expected an integer from 1 to 65535, got "99999"');
    expect(message).toContain('EXAMPLE_DEBUG: expected true or false');
    expect(message).toContain('EXAMPLE_NAME');
    expect((error as ConfigError).problems).toHaveLength(3);
  });
});

describe('URL settings', () => {
  const spec = {
    base: setting('EXAMPLE_BASE_URL', envUrl('http://localhost:8080'), 'example base URL'),
    registry: setting('EXAMPLE_REGISTRY_URL', envOptionalUrl(), 'example optional URL'),
  };

  it('uses the default or leaves an optional URL unset', () => {
    expect(parseSettings(spec, {})).toEqual({ base: 'http://localhost:8080', registry: undefined });
    expect(parseSettings(spec, { EXAMPLE_REGISTRY_URL: 'https://registry.example:8081' }).registry).toBe('https://registry.example:8081');
  });

  it('rejects a value that is not an absolute URL, naming the setting', () => {
    expect(() => parseSettings(spec, { EXAMPLE_BASE_URL: 'localhost', EXAMPLE_REGISTRY_URL: '/relative' })).toThrow(
      /EXAMPLE_BASE_URL: expected an absolute URL[\s\S]*EXAMPLE_REGISTRY_URL: expected an absolute URL/,
    );
  });
});

describe('kafka settings', () => {
  it('splits brokers and rejects malformed ones, naming KAFKA_BROKERS', () => {
    expect(parseKafkaSettings({ KAFKA_BROKERS: 'a:1, b:2' }).brokers).toEqual(['a:1', 'b:2']);
    expect(() => parseKafkaSettings({ KAFKA_BROKERS: 'no-port' })).toThrow(/KAFKA_BROKERS/);
  });

  it('requires SASL credentials with a mechanism', () => {
    expect(() => parseKafkaSettings({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toThrow(/KAFKA_SASL_USERNAME/);
    expect(() => parseKafkaSettings({ KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(/KAFKA_SASL_MECHANISM/);
    const s = parseKafkaSettings({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SSL: 'true' });
    expect(s.ssl).toBe(true);
    expect(s.saslMechanism).toBe('plain');
  });
});

describe('opensearch settings', () => {
  it('requires user and password together and a valid URL', () => {
    expect(() => parseOpenSearchSettings({ OPENSEARCH_USERNAME: 'admin' })).toThrow(/OPENSEARCH_PASSWORD/);
    expect(() => parseOpenSearchSettings({ OPENSEARCH_URL: 'not a url' })).toThrow(/OPENSEARCH_URL/);
    expect(parseOpenSearchSettings({}).url).toBe('http://127.0.0.1:9200');
  });
});

describe('topic specs', () => {
  it('follows ARCHITECTURE.md: compacted state topics, retained data topics', () => {
    const topics = topicSpecs(parseTopicSettings({ TOPIC_RAW_RETENTION_DAYS: '45' }));
    expect(topics.tenants.name).toBe('m365.tenants');
    expect(topics.tenants.config['cleanup.policy']).toBe('compact');
    expect(topics.checkpoints.config['cleanup.policy']).toBe('compact');
    expect(topics.status.config['cleanup.policy']).toBe('compact');
    expect(topics.raw.config['cleanup.policy']).toBe('delete');
    expect(topics.raw.config['retention.ms']).toBe(String(45 * 86_400_000));
    expect(topics.events.name).toBe('siem.events');
    expect(topics.deadLetter.name).toBe('siem.events.dlq');
  });

  it('sets min.insync.replicas from the replication factor (RF 3 → 2), or as configured, never above the RF', () => {
    expect(topicSpecs(parseTopicSettings({})).raw.config['min.insync.replicas']).toBeUndefined();
    const cluster = topicSpecs(parseTopicSettings({ TOPIC_REPLICATION_FACTOR: '3' }));
    for (const t of Object.values(cluster)) {
      expect(t.replicationFactor).toBe(3);
      expect(t.config['min.insync.replicas']).toBe('2');
    }
    expect(cluster.checkpoints.config['cleanup.policy']).toBe('compact');
    expect(topicSpecs(parseTopicSettings({ TOPIC_REPLICATION_FACTOR: '2' })).events.config['min.insync.replicas']).toBe('1');
    expect(topicSpecs(parseTopicSettings({ TOPIC_REPLICATION_FACTOR: '5', TOPIC_MIN_INSYNC_REPLICAS: '3' })).raw.config['min.insync.replicas']).toBe('3');
    expect(() => topicSpecs(parseTopicSettings({ TOPIC_REPLICATION_FACTOR: '2', TOPIC_MIN_INSYNC_REPLICAS: '3' }))).toThrow(/TOPIC_MIN_INSYNC_REPLICAS/);
  });

  it('rejects an invalid topic name by its setting', () => {
    expect(() => parseTopicSettings({ TOPIC_RAW: 'bad name!' })).toThrow(/TOPIC_RAW/);
  });
});
