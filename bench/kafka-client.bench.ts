/**
 * What the Kafka client costs per record (issue 16, item 6; docs/decisions/0172): 1 KB records produced with acks=all
 * (idempotent) and consumed back, through runtime/kafka/ (the kafkajs adapter) as the services use it, against Kafka's own
 * `ProducerPerformance` / `ConsumerPerformance` tools (the classes behind kafka-producer-perf-test.sh and
 * kafka-consumer-perf-test.sh) on the same broker in the same run. The tools' jars come from Maven Central into the
 * shared cache (~/.cache/m365-siem/kafka-tools-<version>), like the broker's.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKafkaClient, createLogger, parseKafkaSettings } from '../runtime/index.ts';
import { findJavaInstalls, loadStackConfig, pathExists, pickKafkaJava, runOrThrow } from '../stack/index.ts';
import type { BenchContext, BenchResult } from './types.ts';

const RECORDS = 100_000;
const RECORD_BYTES = 1024;
const BATCH = 1_000;
const TOOLS_POM = fileURLToPath(new URL('./kafka-tools-pom.xml', import.meta.url));

async function ensureToolJars(cacheDir: string, version: string): Promise<string> {
  const libs = path.join(cacheDir, `kafka-tools-${version}`, 'libs');
  if (await pathExists(path.join(libs, '.complete'))) return libs;
  const base = path.dirname(libs);
  await mkdir(base, { recursive: true });
  const pom = path.join(base, 'pom.xml');
  await copyFile(TOOLS_POM, pom);
  const tmp = `${libs}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await runOrThrow(
    'Maven download of the Kafka tools',
    'mvn',
    [
      '-B',
      '-q',
      '-f',
      pom,
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
      `-Dkafka.version=${version}`,
    ],
    { timeoutMs: 600_000 },
  );
  await writeFile(path.join(tmp, '.complete'), new Date().toISOString());
  await rm(libs, { recursive: true, force: true });
  await rename(tmp, libs);
  return libs;
}

function runJava(java: string, classpath: string, main: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(java, ['-Xmx512m', '-cp', classpath, main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${main} exited with ${code}: ${out.slice(-2000)}`))));
  });
}

export default async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const config = loadStackConfig();
  const java = pickKafkaJava(await findJavaInstalls(config.javaHome));
  if (!java) throw new Error('Java 17+ is needed for the Kafka perf tools');
  const tools = await ensureToolJars(config.cacheDir, config.kafkaVersion);
  const classpath = `${tools}/*`;
  const logger = createLogger('bench', { level: 'warn' });
  const kafka = createKafkaClient(parseKafkaSettings({ KAFKA_BROKERS: ctx.kafkaBrokers }), logger, 'bench');
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const javaTopic = `bench-kafka-client-java-${suffix}`;
  const jsTopic = `bench-kafka-client-js-${suffix}`;
  await kafka.ensureTopics([javaTopic, jsTopic].map((name) => ({ name, partitions: 3, replicationFactor: 1, config: {} })));
  try {
    // Baseline: Kafka's own producer and consumer, same broker, same record size, acks=all + idempotence.
    // The JVM's start and JIT warm-up are inside the tool's figure; 100,000 records keep that to a few per cent.
    const produced = await runJava(java.javaBin, classpath, 'org.apache.kafka.tools.ProducerPerformance', [
      '--topic',
      javaTopic,
      '--num-records',
      String(RECORDS),
      '--record-size',
      String(RECORD_BYTES),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${ctx.kafkaBrokers}`,
      'acks=all',
      'enable.idempotence=true',
    ]);
    const javaProduce = Number(/(\d+) records sent, ([\d.]+) records\/sec/.exec(produced.trim().split('\n').at(-1) ?? '')?.[2]);
    const consumed = await runJava(java.javaBin, classpath, 'org.apache.kafka.tools.ConsumerPerformance', [
      '--bootstrap-server',
      ctx.kafkaBrokers,
      '--topic',
      javaTopic,
      '--messages',
      String(RECORDS),
      '--hide-header',
      '--group',
      `bench-java-${suffix}`,
    ]);
    // fetch.nMsg.sec (10th column): messages per second of fetching, without the group join, as timed for kafkajs below.
    const javaConsume = Number(consumed.trim().split('\n').at(-1)?.split(',')[9]?.trim());
    if (!(javaProduce > 0) || !(javaConsume > 0)) throw new Error(`could not read the perf tools' figures:\n${produced}\n${consumed}`);

    // runtime/kafka/ as the services use it: the idempotent producer, batches of 1,000, acks=all.
    const value = Buffer.alloc(RECORD_BYTES, 'x');
    const producer = kafka.producer();
    await producer.connect();
    const produceCpu = process.cpuUsage();
    let start = performance.now();
    for (let sent = 0; sent < RECORDS; sent += BATCH) {
      await producer.send({ topic: jsTopic, acks: -1, messages: Array.from({ length: BATCH }, (_, k) => ({ key: String((sent + k) % 97), value })) });
    }
    const jsProduce = RECORDS / ((performance.now() - start) / 1000);
    const produceCpuUs = process.cpuUsage(produceCpu);
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `bench-js-${suffix}`, readCommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: jsTopic, fromBeginning: true });
    let received = 0;
    let consumeCpu = process.cpuUsage();
    start = 0;
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (start === 0) {
              start = performance.now();
              consumeCpu = process.cpuUsage();
            }
            received += batch.messages.length;
            if (received >= RECORDS) resolve();
          },
        })
        .catch(reject);
    });
    const jsConsume = received / ((performance.now() - start) / 1000);
    const consumeCpuUs = process.cpuUsage(consumeCpu);
    await consumer.disconnect();
    const usPerRecord = (c: NodeJS.CpuUsage) => (c.user + c.system) / RECORDS;
    process.stderr.write(
      `[kafka-client] produce: kafkajs ${Math.round(jsProduce)} rec/s (${usPerRecord(produceCpuUs).toFixed(1)} CPU µs/record) vs Java ${Math.round(javaProduce)} rec/s; ` +
        `consume: kafkajs ${Math.round(jsConsume)} rec/s (${usPerRecord(consumeCpuUs).toFixed(1)} CPU µs/record) vs Java ${Math.round(javaConsume)} rec/s\n`,
    );
    return [
      {
        name: 'kafka.client.produce_1kb',
        value: jsProduce,
        unit: 'records/s',
        baseline: 'Kafka ProducerPerformance (Java client), acks=all, idempotent, same broker',
        baselineValue: javaProduce,
        ratio: jsProduce / javaProduce,
        goal: 'informational (decision 0172)',
        notes: `${usPerRecord(produceCpuUs).toFixed(1)} CPU µs per record in the Node process`,
      },
      {
        name: 'kafka.client.consume_1kb',
        value: jsConsume,
        unit: 'records/s',
        baseline: 'Kafka ConsumerPerformance (Java client), same broker',
        baselineValue: javaConsume,
        ratio: jsConsume / javaConsume,
        goal: 'informational (decision 0172)',
        notes: `${usPerRecord(consumeCpuUs).toFixed(1)} CPU µs per record in the Node process`,
      },
    ];
  } finally {
    await kafka.deleteTopics([javaTopic, jsTopic]).catch(() => undefined);
  }
}
