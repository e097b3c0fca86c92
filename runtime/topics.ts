import { z } from 'zod';
import { envInt, parseSettings, setting } from './settings.ts';

/** Logical topics of ARCHITECTURE.md § Topics. Names, partition counts and retention are configuration. */
export const TOPIC_KEYS = ['tenants', 'checkpoints', 'status', 'raw', 'events', 'deadLetter'] as const;
export type TopicKey = (typeof TOPIC_KEYS)[number];

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly config: Readonly<Record<string, string>>;
}

export type Topics = Readonly<Record<TopicKey, TopicSpec>>;

const DAY_MS = 24 * 60 * 60 * 1000;
const name = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name')
    .default(fallback);

export const topicSettingsSpec = {
  tenants: setting('TOPIC_TENANTS', name('m365.tenants'), 'compacted connection-state topic written by the control plane'),
  checkpoints: setting('TOPIC_CHECKPOINTS', name('m365.checkpoints'), 'compacted poller cursor and ledger topic'),
  status: setting('TOPIC_STATUS', name('m365.status'), 'compacted per-source status topic written by ingest'),
  raw: setting('TOPIC_RAW', name('m365.raw'), 'raw Microsoft records (JSON envelopes)'),
  events: setting('TOPIC_EVENTS', name('siem.events'), 'normalized SIEM events (Avro, Confluent framing)'),
  deadLetter: setting('TOPIC_DLQ', name('siem.events.dlq'), 'dead letters with input, error and stage'),
  tenantPartitions: setting('TOPIC_TENANTS_PARTITIONS', envInt(12, 1, 10_000), 'partitions of the tenants topic = the unit of poller sharding'),
  dataPartitions: setting('TOPIC_DATA_PARTITIONS', envInt(6, 1, 10_000), 'partitions of m365.raw, siem.events and the dead-letter topic'),
  replicationFactor: setting(
    'TOPIC_REPLICATION_FACTOR',
    envInt(1, 1, 16),
    'replication factor for topics the pipeline creates (3 on a cluster of 3+ brokers: `stack up --kafka-brokers 3` prints it)',
  ),
  minInsyncReplicas: setting(
    'TOPIC_MIN_INSYNC_REPLICAS',
    envInt(0, 0, 16),
    'min.insync.replicas of the topics the pipeline creates; 0 = derived: replication factor − 1, at most 2 (so RF 3 → 2: an acknowledged write is on two brokers)',
  ),
  rawRetentionDays: setting('TOPIC_RAW_RETENTION_DAYS', envInt(30, 1, 3650), "retention of m365.raw, longer than Microsoft's 7 days so replay reaches past it"),
  eventsRetentionDays: setting('TOPIC_EVENTS_RETENTION_DAYS', envInt(7, 1, 3650), 'retention of siem.events'),
  dataMaxMessageBytes: setting(
    'TOPIC_DATA_MAX_MESSAGE_BYTES',
    envInt(8 * 1024 * 1024, 1_048_588, 64 * 1024 * 1024),
    'max.message.bytes of m365.raw, siem.events and the dead-letter topic when the pipeline creates them: the largest record (batch) they take (docs/decisions/0091)',
  ),
  deadLetterRetentionDays: setting('TOPIC_DLQ_RETENTION_DAYS', envInt(30, 1, 3650), 'retention of the dead-letter topic'),
} as const;

export type TopicSettings = ReturnType<typeof parseTopicSettings>;

export function parseTopicSettings(env: Readonly<Record<string, string | undefined>>) {
  return parseSettings(topicSettingsSpec, env);
}

export function topicSpecs(s: TopicSettings): Topics {
  const compactBase = { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(60 * 60 * 1000) };
  // Data topics take records far larger than the broker's 1 MiB default: a Microsoft record of a few megabytes must
  // reach the index (docs/decisions/0091); the sends stay bounded by whatever limit the topic really has.
  const retainedBase = (days: number) => ({
    'cleanup.policy': 'delete',
    'retention.ms': String(days * DAY_MS),
    'max.message.bytes': String(s.dataMaxMessageBytes),
  });
  const rf = s.replicationFactor;
  const isr = minInsyncReplicas(rf, s.minInsyncReplicas);
  // With one replica the broker default (1) is all there is; setting it would only hide a typo in a cluster's RF.
  const durable: Record<string, string> = rf > 1 ? { 'min.insync.replicas': String(isr) } : {};
  const compact = { ...compactBase, ...durable };
  const retained = (days: number) => ({ ...retainedBase(days), ...durable });
  return {
    tenants: { name: s.tenants, partitions: s.tenantPartitions, replicationFactor: rf, config: compact },
    checkpoints: { name: s.checkpoints, partitions: s.tenantPartitions, replicationFactor: rf, config: compact },
    status: { name: s.status, partitions: s.tenantPartitions, replicationFactor: rf, config: compact },
    raw: { name: s.raw, partitions: s.dataPartitions, replicationFactor: rf, config: retained(s.rawRetentionDays) },
    events: { name: s.events, partitions: s.dataPartitions, replicationFactor: rf, config: retained(s.eventsRetentionDays) },
    deadLetter: { name: s.deadLetter, partitions: s.dataPartitions, replicationFactor: rf, config: retained(s.deadLetterRetentionDays) },
  };
}

/**
 * min.insync.replicas for a replication factor: the setting when given (it must leave a replica to lose), else
 * RF − 1 capped at 2 — RF 3 → 2 keeps writes going with one broker down while an acknowledged record is always on two.
 */
export function minInsyncReplicas(replicationFactor: number, configured: number): number {
  if (configured > 0) {
    if (configured > replicationFactor) {
      throw new Error(`invalid configuration:\n  - TOPIC_MIN_INSYNC_REPLICAS (${configured}) cannot exceed TOPIC_REPLICATION_FACTOR (${replicationFactor})`);
    }
    return configured;
  }
  return Math.max(1, Math.min(2, replicationFactor - 1));
}

/** Topics with a suffix on every name: how tests get their own isolated set. */
export function suffixedTopics(topics: Topics, suffix: string): Topics {
  const out = {} as Record<TopicKey, TopicSpec>;
  for (const key of TOPIC_KEYS) out[key] = { ...topics[key], name: `${topics[key].name}.${suffix}` };
  return out;
}
