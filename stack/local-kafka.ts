import { spawn } from 'node:child_process';
import { copyFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathExists } from './path-exists.ts';
import { processMarker } from './processes.ts';
import { runOrThrow } from './run-command.ts';
import type { ServiceRecord } from './state.ts';

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
  await runOrThrow('Maven download of the Kafka jars', mvn, [
    '-B',
    '-q',
    '-f',
    pom,
    'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
    `-DoutputDirectory=${tmp}`,
    '-DincludeScope=runtime',
    `-Dkafka.version=${version}`,
    `-Dlog4j.version=${LOG4J_VERSION}`,
  ], { timeoutMs: 600_000 });
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
}

/** Static-quorum combined broker+controller, sized for tests (reference/local-services.md §1.3). */
export function kafkaServerProperties(dataDir: string, port: number, controllerPort: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // The runtime creates every topic explicitly with its partitions and cleanup policy; a typo must fail.
    'auto.create.topics.enable=false',
    // Tests delete what they create.
    'delete.topic.enable=true',
    '',
  ].join('\n');
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
  const logFile = path.join(workDir, 'server.log');
  await mkdir(dataDir, { recursive: true });
  const propsFile = path.join(workDir, 'server.properties');
  const log4jFile = path.join(workDir, 'log4j2.properties');
  await writeFile(propsFile, kafkaServerProperties(dataDir, o.port, o.controllerPort));
  await writeFile(log4jFile, log4jProperties(logFile));
  const classpath = `${o.libsDir}/*`;
  if (!(await pathExists(path.join(dataDir, 'meta.properties')))) {
    await runOrThrow('formatting the Kafka storage', o.javaBin, [
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
    ], { timeoutMs: 120_000 });
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
      provider: 'local',
      version: o.version,
      endpoint: `127.0.0.1:${o.port}`,
      pid: child.pid,
      ports: { client: o.port, controller: o.controllerPort },
      logFile,
      workDir,
      startedAt: new Date().toISOString(),
    };
  } finally {
    await out.close();
  }
}
