import { z } from 'zod';
import {
  commonSettingsSpec,
  envBoolean,
  envInt,
  envOptionalUrl,
  lagIntervalSetting,
  opsPortSetting,
  parseKafkaSettings,
  parseSettings,
  parseTopicSettings,
  setting,
  stageGroupSettings,
  topicSpecs,
  type KafkaSettings,
  type SettingsOf,
  type Topics,
} from '../runtime/index.ts';

const name = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'expected letters, digits, dot, underscore or dash')
    .default(fallback);

/** Every normalize setting, with its default; documented in README.md § Normalize. */
export const normalizeSettingsSpec = {
  ...commonSettingsSpec,
  opsPort: opsPortSetting('NORMALIZE', 9404),
  groupId: stageGroupSettings.normalize,
  lagIntervalSeconds: lagIntervalSetting('NORMALIZE'),
  transactionalIdPrefix: setting(
    'NORMALIZE_TRANSACTIONAL_ID',
    name('m365-siem-normalize'),
    'prefix of the transactional ids; one id per m365.raw partition (<prefix>-<topic>-<partition>) so a new owner fences the old one',
  ),
  maxTransactionRecords: setting('NORMALIZE_MAX_TRANSACTION_RECORDS', envInt(500, 1, 100_000), 'most input records committed in one Kafka transaction'),
  transactionTimeoutMs: setting(
    'NORMALIZE_TRANSACTION_TIMEOUT_MS',
    envInt(60_000, 1_000, 900_000),
    'transaction timeout: the broker aborts a transaction left open this long',
  ),
  dedupCapacity: setting(
    'NORMALIZE_DEDUP_CAPACITY',
    envInt(100_000, 0, 10_000_000),
    'recently produced (organization, event id) keys remembered per assigned partition; a repeat within this horizon is not produced again (0 = off)',
  ),
  sessionTimeoutMs: setting(
    'NORMALIZE_SESSION_TIMEOUT_MS',
    envInt(30_000, 6_000, 300_000),
    "consumer session timeout: how soon a dead instance's partitions move",
  ),
  schemaRegistryUrl: setting(
    'SCHEMA_REGISTRY_URL',
    envOptionalUrl(),
    'a Confluent-compatible Schema Registry: when set, the normalizer registers the siem.events schema there and frames events with the id it returns',
  ),
  schemaRegistryUsername: setting('SCHEMA_REGISTRY_USERNAME', z.string().optional(), 'Basic-auth user for SCHEMA_REGISTRY_URL'),
  schemaRegistryPassword: setting('SCHEMA_REGISTRY_PASSWORD', z.string().optional(), 'Basic-auth password for SCHEMA_REGISTRY_URL (never logged)'),
  vendorFields: setting(
    'NORMALIZE_VENDOR_FIELDS',
    envBoolean(false),
    'also fill m365.fields (the Microsoft record flattened to dotted paths) in every event; doubles event size and halves throughput, event.original always has the record',
  ),
  shutdownTimeoutMs: setting('NORMALIZE_SHUTDOWN_TIMEOUT_MS', envInt(20_000, 100, 600_000), 'how long close() waits for the running transaction'),
} as const;

export type NormalizeSettings = SettingsOf<typeof normalizeSettingsSpec>;

export interface NormalizeConfig {
  settings: NormalizeSettings;
  kafka: KafkaSettings;
  topics: Topics;
}

/** Parses every normalize setting once, at start; a bad one throws ConfigError naming it. */
export function parseNormalizeConfig(env: Readonly<Record<string, string | undefined>>): NormalizeConfig {
  return { settings: parseSettings(normalizeSettingsSpec, env), kafka: parseKafkaSettings(env), topics: topicSpecs(parseTopicSettings(env)) };
}
