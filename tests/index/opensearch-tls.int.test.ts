import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { organizationAliasName } from '../../schemas/opensearch/index.ts';
import { startIndexer, type RunningIndexer } from '../../index/index.ts';
import { Metrics, createOpenSearchClient, parseOpenSearchSettings, type KafkaProducer, type OpenSearchClient } from '../../runtime/index.ts';
import { createServerCertificate, type ServerCertificate } from '../helpers/certificates.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { freePort } from '../helpers/free-port.ts';
import { uniqueName } from '../helpers/resources.ts';
import { startSecureOpenSearch, type SecureOpenSearch } from '../helpers/secure-opensearch.ts';
import { countDocs, indexerEnv, offsets, quietLogger, testTopics, waitFor } from './helpers/fixture.ts';
import { anyEvent, encode } from './helpers/siem-events.ts';

/**
 * Issue 16 item 1: the indexer's OpenSearch settings work against a secured cluster. A node with the OpenSearch
 * Security plugin, TLS from a CA made for this test and an internal user is written to by the real indexer service
 * through exactly the settings a deployment sets (OPENSEARCH_URL https, OPENSEARCH_CA_FILE, OPENSEARCH_USERNAME,
 * OPENSEARCH_PASSWORD); a client that does not trust the CA, or holds a wrong password, is refused, and the
 * password is in no error.
 */

const USER = 'indexer';
const PASSWORD = `Pw-${process.pid}-${Date.now()}`;

function client(url: string, env: Record<string, string>): OpenSearchClient {
  return createOpenSearchClient(parseOpenSearchSettings({ OPENSEARCH_URL: url, OPENSEARCH_REQUEST_TIMEOUT_MS: '10000', ...env }));
}

async function requestError(c: OpenSearchClient): Promise<Error> {
  try {
    await c.info();
  } catch (error) {
    return error as Error;
  }
  throw new Error('the request was accepted');
}

describe('indexer against OpenSearch with TLS and basic auth (Security plugin, certificates of our own)', () => {
  let dir: string;
  let certificate: ServerCertificate;
  let node: SecureOpenSearch | undefined;
  let secure: OpenSearchClient;
  let trustedEnv: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'm365-siem-opensearch-tls-'));
    certificate = await createServerCertificate(dir, 'opensearch');
    node = await startSecureOpenSearch({
      name: 'opensearch-tls',
      certificate,
      username: USER,
      password: PASSWORD,
      httpPort: await freePort(),
      transportPort: await freePort(),
    });
    trustedEnv = { OPENSEARCH_CA_FILE: certificate.caFile, OPENSEARCH_USERNAME: USER, OPENSEARCH_PASSWORD: PASSWORD };
    secure = client(node.url, trustedEnv);
    // The security index is created on first start; until then the node answers 503 (or not at all).
    await waitFor(
      'the secured node to answer an authenticated request',
      () =>
        secure.cluster.health({ wait_for_status: 'yellow', timeout: '5s' }).then(
          (r) => r.statusCode === 200,
          () => false,
        ),
      240_000,
      1000,
    );
  }, 420_000);

  afterAll(async () => {
    await secure?.close();
    await node?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('indexes events from Kafka through the deployment settings, one document each, under each organization', async () => {
    const prefix = uniqueName('siem-events-tls');
    const groupId = uniqueName('index-tls-group');
    const topics = testTopics(1);
    const kafka = testKafkaClient('index-tls-test');
    await kafka.ensureTopics([topics.events, topics.deadLetter]);
    const producer: KafkaProducer = kafka.producer();
    await producer.connect();
    let indexer: RunningIndexer | undefined;
    try {
      indexer = await startIndexer(indexerEnv({ prefix, groupId, opensearchUrl: node!.url, extra: trustedEnv }), {
        topics,
        logger: quietLogger(),
        metrics: new Metrics('index', false),
      });
      const events = Array.from({ length: 40 }, (_, i) => anyEvent(i % 2 === 0 ? 'org-tls-a' : 'org-tls-b', i, Date.parse('2026-05-10T10:00:00Z') + i * 1000));
      await producer.send({ topic: topics.events.name, acks: -1, messages: events.map((e) => ({ key: e.organization.id, value: encode(e) })) });
      await waitFor(
        'every event committed by the indexer',
        async () => {
          const o = await offsets(groupId, topics.events.name);
          return o.end === 40 && o.committed === 40;
        },
        120_000,
      );
      expect(await countDocs(secure, prefix)).toBe(40);
      expect(await countDocs(secure, organizationAliasName(prefix, 'org-tls-a')!)).toBe(20);
      expect(await countDocs(secure, organizationAliasName(prefix, 'org-tls-b')!)).toBe(20);
    } finally {
      await indexer?.close();
      await producer.disconnect();
      await kafka.deleteTopics([topics.events.name, topics.deadLetter.name]);
    }
  }, 240_000);

  it('refuses a node whose certificate the client does not trust (no CA file given)', async () => {
    const { OPENSEARCH_CA_FILE: _ca, ...untrusting } = trustedEnv;
    const error = await requestError(client(node!.url, untrusting));
    // The node sends its own certificate without the CA: Node.js cannot build a chain to any root it trusts.
    expect(error.message).toMatch(/unable to verify the first certificate/);
  });

  it('refuses a wrong password with 401 and never shows a password in the error', async () => {
    const wrong = `wrong-${PASSWORD}`;
    const error = (await requestError(client(node!.url, { ...trustedEnv, OPENSEARCH_PASSWORD: wrong }))) as Error & { meta?: { statusCode?: number } };
    expect(error.meta?.statusCode).toBe(401);
    const text = `${error.name}: ${error.message} ${String(error.stack)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(PASSWORD);
  });
});
