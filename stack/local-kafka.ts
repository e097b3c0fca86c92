import { spawn } from 'node:child_process';
import { copyFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathExists } from './path-exists.ts';
import { processMarker } from './processes.ts';
import { runOrThrow } from './run-command.ts';
import type { NodeRecord, ServiceRecord } from './state.ts';

/** Same cluster id as Kafka's own Docker examples; any valid base64 UUID works for a single node. */
const CLUSTER_ID = '4L6g3nShT-eMCtK--X86sw';
const LOG4J_VERSION = '2.24.3';
const KAFKA_POM = fileURLToPath(new URL('./maven/kafka-pom.xml', import.meta.url));

export function kafkaLibsDir(cacheDir: string, version: string): string {
  return path.join(cacheDir, `kafka-${version}`, 'libs');
}

/** True when the broker classpath of this version is already in the cache (no Maven needed). */
export function kafkaJarsCached(cacheDir: string, version: string): Promise<boolean> {
  return pathExists(path.join(kafkaLibsDir(cacheDir, version), '.complete'));
}

/**
 * Puts the broker's runtime classpath (kafka_2.13 and its dependencies plus an SLF4J binding) into the
 * cache with Maven. Downloads into a temporary folder and renames it, so an interrupted download is never
 * mistaken for a complete one.
 */
export async function ensureKafkaJars(cacheDir: string, version: string, mvn: string, log: (line: string) => void): Promise<string> {
  const libs = kafkaLibsDir(cacheDir, version);
  if (await kafkaJarsCached(cacheDir, version)) return libs;
  const base = path.dirname(libs);
  await mkdir(base, { recursive: true });
  const pom = path.join(base, 'pom.xml');
  await copyFile(KAFKA_POM, pom);
  const tmp = `${libs}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  log(`downloading Kafka ${version} jars from Maven Central into ${libs}`);
  await runOrThrow(
    'Maven download of the Kafka jars',
    mvn,
    [
      '-B',
      '-q',
      '-f',
      pom,
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
      `-Dkafka.version=${version}`,
      `-Dlog4j.version=${LOG4J_VERSION}`,
    ],
    { timeoutMs: 600_000 },
  );
  if (!(await pathExists(path.join(tmp, `kafka_2.13-${version}.jar`)))) throw new Error(`Maven did not produce kafka_2.13-${version}.jar in ${tmp}`);
  await writeFile(path.join(tmp, '.complete'), new Date().toISOString());
  await rm(libs, { recursive: true, force: true });
  await rename(tmp, libs);
  return libs;
}

export interface LocalKafkaOptions {
  readonly stackDir: string;
  readonly stackId: string;
  readonly version: string;
  readonly libsDir: string;
  readonly javaBin: string;
  readonly port: number;
  readonly controllerPort: number;
  /** A second client listener with TLS and SASL/PLAIN (the TLS proof's broker); the PLAINTEXT one stays for the broker itself. */
  readonly secureListener?: SecureListener;
}

/**
 * A SASL_SSL client listener: the broker's certificate chain and unencrypted PKCS#8 key in one PEM file (Kafka's
 * PEM keystore, KIP-651) and the SASL/PLAIN users it accepts.
 */
export interface SecureListener {
  readonly port: number;
  readonly keystorePemFile: string;
  readonly users: Readonly<Record<string, string>>;
}

/** One member of a local Kafka cluster: node.id and its two ports. */
export interface KafkaMember {
  readonly id: number;
  readonly port: number;
  readonly controllerPort: number;
}

/**
 * Replication of Kafka's internal topics for a cluster of `brokers`: up to 3 copies, and a transaction needs 2 of
 * them in sync once there are 3 (the same rule runtime/topics.ts applies to the pipeline's topics).
 */
export function internalReplication(brokers: number): { replicationFactor: number; minIsr: number } {
  const replicationFactor = Math.min(3, Math.max(1, brokers));
  return { replicationFactor, minIsr: replicationFactor >= 3 ? 2 : 1 };
}

/**
 * Static-quorum combined broker+controller, sized for tests (reference/local-services.md §1.3). With `members`
 * (a cluster) every member is a voter of the KRaft quorum and internal topics are replicated.
 */
export function kafkaServerProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  cluster?: { nodeId: number; members: readonly KafkaMember[] },
  secure?: SecureListener,
): string {
  const members = cluster?.members ?? [{ id: 1, port, controllerPort }];
  const { replicationFactor, minIsr } = internalReplication(members.length);
  const internalPartitions = members.length > 1 ? 3 : 1;
  const secureListener = secure ? `,SASL_SSL://127.0.0.1:${secure.port}` : '';
  return [
    'process.roles=broker,controller',
    `node.id=${cluster?.nodeId ?? 1}`,
    `controller.quorum.voters=${members.map((m) => `${m.id}@127.0.0.1:${m.controllerPort}`).join(',')}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${secureListener}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${secureListener}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL' : ''}`,
    ...(secure ? secureListenerProperties(secure) : []),
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    `offsets.topic.replication.factor=${replicationFactor}`,
    `offsets.topic.num.partitions=${internalPartitions}`,
    `transaction.state.log.replication.factor=${replicationFactor}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `transaction.state.log.num.partitions=${internalPartitions}`,
    `share.coordinator.state.topic.replication.factor=${replicationFactor}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    // The runtime creates every topic explicitly with its partitions and cleanup policy; a typo must fail.
    'auto.create.topics.enable=false',
    // Tests delete what they create.
    'delete.topic.enable=true',
    ...(members.length > 1
      ? [
          // A killed broker is fenced (its partitions led elsewhere) after 6 s instead of 9 s: fault tests stay short.
          'broker.session.timeout.ms=6000',
          'broker.heartbeat.interval.ms=1000',
          `default.replication.factor=${replicationFactor}`,
        ]
      : []),
    '',
  ].join('\n');
}

function secureListenerProperties(secure: SecureListener): string[] {
  // JAAS option values are quoted strings: a quote or backslash in a test password would end them early.
  const users = Object.entries(secure.users).map(([user, password]) => {
    if (!/^[A-Za-z0-9_-]+$/.test(user) || /["\\]/.test(password))
      throw new Error(`SASL user ${user}: use letters, digits, - and _ in names and no quote or backslash in passwords`);
    return `user_${user}="${password}"`;
  });
  return [
    'sasl.enabled.mechanisms=PLAIN',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${users.join(' ')};`,
    'listener.name.sasl_ssl.ssl.keystore.type=PEM',
    `listener.name.sasl_ssl.ssl.keystore.location=${secure.keystorePemFile}`,
    // Clients are authenticated by SASL, not by certificates.
    'listener.name.sasl_ssl.ssl.client.auth=none',
  ];
}

function log4jProperties(logFile: string): string {
  return [
    'status = warn',
    'appender.file.type = RollingFile',
    'appender.file.name = FILE',
    `appender.file.fileName = ${logFile}`,
    `appender.file.filePattern = ${logFile}.%i`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.file.policies.type = Policies',
    'appender.file.policies.size.type = SizeBasedTriggeringPolicy',
    'appender.file.policies.size.size = 50MB',
    'appender.file.strategy.type = DefaultRolloverStrategy',
    'appender.file.strategy.max = 3',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    // The request logger and the state-change logger are noisy at INFO on a busy test broker.
    'logger.request.name = kafka.request.logger',
    'logger.request.level = WARN',
    'logger.state.name = state.change.logger',
    'logger.state.level = WARN',
    '',
  ].join('\n');
}

/**
 * Formats the storage (first start only) and starts the broker as its own process group, detached from
 * the launcher, with stdout/stderr and the log4j log in files under <stackDir>/kafka.
 */
export async function startLocalKafka(o: LocalKafkaOptions): Promise<ServiceRecord> {
  const workDir = path.join(o.stackDir, 'kafka');
  const dataDir = path.join(workDir, 'data');
  const node = await startKafkaProcess(o, workDir, kafkaServerProperties(dataDir, o.port, o.controllerPort, undefined, o.secureListener), dataDir);
  return {
    provider: 'local',
    version: o.version,
    endpoint: node.endpoint,
    pid: node.pid!,
    ports: node.ports,
    logFile: node.logFile,
    workDir,
    startedAt: new Date().toISOString(),
  };
}

/** The folder of cluster member `id` (its data, logs and properties). */
export function kafkaMemberDir(stackDir: string, id: number): string {
  return path.join(stackDir, 'kafka', `broker-${id}`);
}

/**
 * Starts one member of a local cluster (all of them at `stack up`, a single one when `stack up` finds it dead):
 * same properties, data folder and ports each time, so a restarted broker rejoins with its log.
 */
export async function startLocalKafkaMember(
  o: Omit<LocalKafkaOptions, 'port' | 'controllerPort'>,
  member: KafkaMember,
  members: readonly KafkaMember[],
): Promise<NodeRecord> {
  const workDir = kafkaMemberDir(o.stackDir, member.id);
  const dataDir = path.join(workDir, 'data');
  const properties = kafkaServerProperties(dataDir, member.port, member.controllerPort, { nodeId: member.id, members });
  return startKafkaProcess({ ...o, port: member.port, controllerPort: member.controllerPort }, workDir, properties, dataDir, member.id);
}

async function startKafkaProcess(o: LocalKafkaOptions, workDir: string, properties: string, dataDir: string, id = 1): Promise<NodeRecord> {
  const logFile = path.join(workDir, 'server.log');
  await mkdir(dataDir, { recursive: true });
  const propsFile = path.join(workDir, 'server.properties');
  const log4jFile = path.join(workDir, 'log4j2.properties');
  await writeFile(propsFile, properties);
  await writeFile(log4jFile, log4jProperties(logFile));
  const classpath = `${o.libsDir}/*`;
  if (!(await pathExists(path.join(dataDir, 'meta.properties')))) {
    await runOrThrow(
      'formatting the Kafka storage',
      o.javaBin,
      [
        '-cp',
        classpath,
        `-Dlog4j2.configurationFile=${log4jFile}`,
        'kafka.tools.StorageTool',
        'format',
        '--ignore-formatted',
        '-t',
        CLUSTER_ID,
        '-c',
        propsFile,
      ],
      { timeoutMs: 120_000 },
    );
  }
  const stdoutFile = path.join(workDir, 'kafka.out');
  const out = await open(stdoutFile, 'a');
  try {
    const child = spawn(
      o.javaBin,
      [
        '-Xms256m',
        '-Xmx512m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        processMarker(o.stackId),
        `-Dlog4j2.configurationFile=${log4jFile}`,
        `-Dkafka.logs.dir=${workDir}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        propsFile,
      ],
      { cwd: workDir, detached: true, stdio: ['ignore', out.fd, out.fd] },
    );
    if (child.pid === undefined) throw new Error(`could not start ${o.javaBin}`);
    child.unref();
    return {
      name: `broker-${id}`,
      id,
      endpoint: `127.0.0.1:${o.port}`,
      pid: child.pid,
      ports: { client: o.port, controller: o.controllerPort },
      logFile,
      workDir,
    };
  } finally {
    await out.close();
  }
}
