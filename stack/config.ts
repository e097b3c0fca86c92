import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { envInt, parseSettings, setting } from '../runtime/settings.ts';

/** Kafka release the local and Docker stacks run (docs/decisions/0001-kafka-version-pin.md). */
export const DEFAULT_KAFKA_VERSION = '4.1.1';
/** OpenSearch release the local and Docker stacks run. */
export const DEFAULT_OPENSEARCH_VERSION = '2.19.3';

const optionalString = z.string().optional();

export const stackSettingsSpec = {
  kafkaBrokers: setting('KAFKA_BROKERS', optionalString, 'Kafka bootstrap servers (host:port,…); when set, `stack up` uses them instead of starting Kafka'),
  opensearchUrl: setting('OPENSEARCH_URL', optionalString, 'OpenSearch base URL; when set, `stack up` uses it instead of starting OpenSearch'),
  provider: setting(
    'M365_SIEM_STACK_PROVIDER',
    z.enum(['auto', 'docker', 'local'], { message: 'expected auto, docker or local' }).default('auto'),
    'how `stack up` starts services that no env endpoint provides: auto (Docker when an engine answers, else local JVMs), docker, local',
  ),
  cacheDir: setting(
    'M365_SIEM_CACHE_DIR',
    z.string().default(path.join(os.homedir(), '.cache', 'm365-siem')),
    'download cache for the Kafka jars and the OpenSearch distribution',
  ),
  stackDir: setting('M365_SIEM_STACK_DIR', optionalString, 'state, data and logs of the local stack (default <M365_SIEM_CACHE_DIR>/stack)'),
  kafkaVersion: setting(
    'M365_SIEM_KAFKA_VERSION',
    z
      .string()
      .regex(/^4\.\d+\.\d+$/, 'expected a Kafka 4.x version such as 4.1.1')
      .default(DEFAULT_KAFKA_VERSION),
    'Kafka release started locally or in Docker',
  ),
  opensearchVersion: setting(
    'M365_SIEM_OPENSEARCH_VERSION',
    z
      .string()
      .regex(/^2\.\d+\.\d+$/, 'expected an OpenSearch 2.x version such as 2.19.3')
      .default(DEFAULT_OPENSEARCH_VERSION),
    'OpenSearch release started locally or in Docker',
  ),
  kafkaBrokerCount: setting(
    'M365_SIEM_STACK_KAFKA_BROKERS',
    envInt(1, 1, 5),
    'Kafka brokers `stack up` starts (local JVMs or containers); 3 gives a KRaft quorum with internal topics replicated 3 times (also: --kafka-brokers)',
  ),
  opensearchNodeCount: setting(
    'M365_SIEM_STACK_OPENSEARCH_NODES',
    envInt(1, 1, 5),
    'OpenSearch nodes `stack up` starts; 2+ form one cluster (also: --opensearch-nodes)',
  ),
  kafkaPort: setting('M365_SIEM_STACK_KAFKA_PORT', envInt(19092, 1, 65535), 'preferred Kafka client port (a free one is picked when taken)'),
  opensearchPort: setting('M365_SIEM_STACK_OPENSEARCH_PORT', envInt(19200, 1, 65535), 'preferred OpenSearch HTTP port (a free one is picked when taken)'),
  serviceUser: setting(
    'M365_SIEM_STACK_USER',
    z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, 'expected a Unix user name')
      .default('m365siem'),
    'unprivileged user OpenSearch runs as when the launcher runs as root (created if missing)',
  ),
  javaHome: setting('M365_SIEM_JAVA_HOME', optionalString, 'JDK used for Kafka and OpenSearch (default: JAVA_HOME, then java on PATH, then /usr/lib/jvm/*)'),
  systemJavaHome: setting('JAVA_HOME', optionalString, 'JDK location (used when M365_SIEM_JAVA_HOME is not set)'),
  startTimeoutSeconds: setting('M365_SIEM_STACK_TIMEOUT_SECONDS', envInt(240, 10, 3600), 'how long `stack up` waits for downloads and both services to answer'),
};

export interface StackConfig {
  readonly kafkaBrokers: string | undefined;
  readonly opensearchUrl: string | undefined;
  readonly provider: 'auto' | 'docker' | 'local';
  readonly cacheDir: string;
  readonly stackDir: string;
  readonly kafkaVersion: string;
  readonly opensearchVersion: string;
  readonly kafkaBrokerCount: number;
  readonly opensearchNodeCount: number;
  readonly kafkaPort: number;
  readonly opensearchPort: number;
  readonly serviceUser: string;
  readonly javaHome: string | undefined;
  readonly startTimeoutMs: number;
}

/** Reads the launcher settings; `overrides` (from CLI flags or the test setup) win over the environment. */
export function loadStackConfig(env: Readonly<Record<string, string | undefined>> = process.env, overrides: Partial<StackConfig> = {}): StackConfig {
  const s = parseSettings(stackSettingsSpec, env);
  const cacheDir = path.resolve(overrides.cacheDir ?? s.cacheDir);
  const config: StackConfig = {
    kafkaBrokers: s.kafkaBrokers,
    opensearchUrl: s.opensearchUrl?.replace(/\/+$/, ''),
    provider: s.provider,
    cacheDir,
    stackDir: path.resolve(overrides.stackDir ?? s.stackDir ?? path.join(cacheDir, 'stack')),
    kafkaVersion: s.kafkaVersion,
    opensearchVersion: s.opensearchVersion,
    kafkaBrokerCount: s.kafkaBrokerCount,
    opensearchNodeCount: s.opensearchNodeCount,
    kafkaPort: s.kafkaPort,
    opensearchPort: s.opensearchPort,
    serviceUser: s.serviceUser,
    javaHome: s.javaHome ?? s.systemJavaHome,
    startTimeoutMs: s.startTimeoutSeconds * 1000,
  };
  return { ...config, ...stripUndefined(overrides) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
