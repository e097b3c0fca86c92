/** Kafka connection settings (KAFKA_*), parsed once at start; the adapter turns them into its client's config. */
import { z } from 'zod';
import { envBoolean, envInt, parseSettings, setting } from '../settings.ts';

export const kafkaSettingsSpec = {
  brokers: setting(
    'KAFKA_BROKERS',
    z
      .string()
      .default('127.0.0.1:9092')
      .transform((v) =>
        v
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean),
      )
      .refine((list) => list.length > 0 && list.every((b) => /^[^:\s]+:\d{1,5}$/.test(b)), {
        message: 'expected host:port[,host:port…]',
      }),
    'Kafka bootstrap brokers, comma separated',
  ),
  clientId: setting('KAFKA_CLIENT_ID', z.string().default('m365-siem'), 'client id prefix sent to Kafka'),
  ssl: setting('KAFKA_SSL', envBoolean(false), 'connect to Kafka over TLS'),
  sslCaFile: setting('KAFKA_SSL_CA_FILE', z.string().optional(), "PEM file of the CA that signed the brokers' certificates"),
  sslRejectUnauthorized: setting('KAFKA_SSL_REJECT_UNAUTHORIZED', envBoolean(true), 'verify broker certificates (keep true in production)'),
  saslMechanism: setting(
    'KAFKA_SASL_MECHANISM',
    z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    'SASL mechanism: plain, scram-sha-256 or scram-sha-512; unset = no SASL',
  ),
  saslUsername: setting('KAFKA_SASL_USERNAME', z.string().optional(), 'SASL user name'),
  saslPassword: setting('KAFKA_SASL_PASSWORD', z.string().optional(), 'SASL password (never logged)'),
  connectionTimeoutMs: setting('KAFKA_CONNECTION_TIMEOUT_MS', envInt(10_000, 100, 600_000), 'broker connection timeout'),
  requestTimeoutMs: setting('KAFKA_REQUEST_TIMEOUT_MS', envInt(30_000, 100, 600_000), 'broker request timeout'),
  maxBatchBytes: setting(
    'KAFKA_MAX_BATCH_BYTES',
    envInt(Number.MAX_SAFE_INTEGER, 1_024),
    "most bytes of one send (record batch); the topics' max.message.bytes, read at start, applies when lower (unset = that limit)",
  ),
} as const;

export type KafkaSettings = ReturnType<typeof parseKafkaSettings>;

export function parseKafkaSettings(env: Readonly<Record<string, string | undefined>>) {
  const s = parseSettings(kafkaSettingsSpec, env);
  if (s.saslMechanism && (!s.saslUsername || !s.saslPassword)) {
    throw new Error('invalid configuration:\n  - KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set');
  }
  return s;
}
