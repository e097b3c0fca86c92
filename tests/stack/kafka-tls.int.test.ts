import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaClient, createLogger, parseKafkaSettings, type KafkaClient } from '../../runtime/index.ts';
import { ensureKafkaJars, startLocalKafka } from '../../stack/local-kafka.ts';
import { stopOurProcess } from '../../stack/processes.ts';
import { findJavaInstalls, loadStackConfig, pickKafkaJava } from '../../stack/index.ts';
import { which } from '../../stack/requirements.ts';
import { waitUntil } from '../e2e/harness.ts';
import { createServerCertificate, type ServerCertificate } from '../helpers/certificates.ts';
import { freePort } from '../helpers/free-port.ts';

/**
 * Issue 16 item 1: the services' Kafka settings work against a secured cluster. A broker of our own with a SASL_SSL
 * listener (a certificate from a CA made for this test, SASL/PLAIN users) is reached through exactly the settings a
 * deployment sets (KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*), with the runtime's client: topics, a produce and a
 * read back. A client that does not trust the CA, or holds a wrong password, is refused, and the password is in no
 * error message.
 */

const STACK_ID = `tls-proof-${process.pid}`;
const USER = 'pipeline';
const PASSWORD = `pw-${process.pid}-${Date.now()}`;

function secureClient(env: Record<string, string>): KafkaClient {
  const settings = parseKafkaSettings({ KAFKA_CLIENT_ID: 'm365-siem-tls-test', KAFKA_CONNECTION_TIMEOUT_MS: '5000', ...env });
  return createKafkaClient(settings, createLogger('test', { level: 'fatal' }), 'tls');
}

/** The error connecting gives; throws when the connection is accepted instead. */
async function connectError(client: KafkaClient): Promise<Error> {
  const admin = client.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (error) {
    return error as Error;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  throw new Error('the connection was accepted');
}

describe('Kafka over TLS with SASL/PLAIN, certificates of our own', () => {
  let dir: string;
  let certificate: ServerCertificate;
  let brokers: string;
  let pid: number | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'm365-siem-kafka-tls-'));
    certificate = await createServerCertificate(dir, 'kafka');
    const config = loadStackConfig({ ...process.env, KAFKA_BROKERS: undefined, OPENSEARCH_URL: undefined });
    const java = pickKafkaJava(await findJavaInstalls(config.javaHome));
    if (!java) throw new Error('no Java for Kafka found (the stack launcher needs one too)');
    const libsDir = await ensureKafkaJars(config.cacheDir, config.kafkaVersion, (await which('mvn')) ?? 'mvn', () => undefined);
    const [port, controllerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    brokers = `127.0.0.1:${securePort}`;
    const record = await startLocalKafka({
      stackDir: dir,
      stackId: STACK_ID,
      version: config.kafkaVersion,
      libsDir,
      javaBin: java.javaBin,
      port,
      controllerPort,
      secureListener: { port: securePort, keystorePemFile: certificate.keystorePemFile, users: { [USER]: PASSWORD } },
    });
    pid = record.pid;
  }, 180_000);

  afterAll(async () => {
    if (pid !== undefined) await stopOurProcess(pid, STACK_ID, 10_000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const trusted = (): Record<string, string> => ({
    KAFKA_BROKERS: brokers,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: certificate.caFile,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: PASSWORD,
  });

  it('creates a topic, produces and reads back through the deployment settings', async () => {
    const client = secureClient(trusted());
    // The JVM takes a while to open its listeners on a busy machine: wait for the TLS handshake to succeed.
    await waitUntil(
      'the SASL_SSL listener to accept the trusted client',
      () =>
        connectError(client).then(
          () => false,
          () => true,
        ),
      120_000,
      1000,
    );
    const topic = 'test-tls-proof';
    await client.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1, config: {} }]);
    const producer = client.producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: 'org-tls', value: 'over TLS' }] });
    } finally {
      await producer.disconnect();
    }
    const read = await client.readCompactedToEnd(topic, 'test-tls-proof');
    expect([...read.entries()].map(([key, value]) => [key, value?.toString()])).toEqual([['org-tls', 'over TLS']]);
  }, 180_000);

  it('refuses a broker whose certificate the client does not trust (no CA file given)', async () => {
    const { KAFKA_SSL_CA_FILE: _ca, ...untrusting } = trusted();
    const error = await connectError(secureClient(untrusting));
    expect(error.message).toMatch(/self-signed certificate in certificate chain/);
  }, 120_000);

  it('refuses a wrong password and never shows a password in the error', async () => {
    const wrong = `wrong-${PASSWORD}`;
    const error = await connectError(secureClient({ ...trusted(), KAFKA_SASL_PASSWORD: wrong }));
    const text = `${error.name}: ${error.message} ${String(error.stack)}`;
    expect(text).toMatch(/SASL|authentication/i);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(PASSWORD);
  }, 120_000);
});
