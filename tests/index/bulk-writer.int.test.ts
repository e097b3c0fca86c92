import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, type OpenSearchClient } from '../../runtime/index.ts';
import { decodeSiemEvent } from '../../schemas/index.ts';
import { dailyIndexName } from '../../schemas/opensearch/index.ts';
import { BulkWriter, createBulkWriterMetrics, type BulkDocument } from '../../index/bulk-writer.ts';
import { toEventDocument } from '../../index/event-document.ts';
import { installIndexTemplate } from '../../index/index-template.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, openSearchAt, opensearchUrl, quietLogger, waitFor } from './helpers/fixture.ts';
import { RecordingProxy } from './helpers/recording-proxy.ts';
import { anyEvent, encode } from './helpers/siem-events.ts';

/**
 * The bulk writer against the real OpenSearch node. Partial failures are real, not mocked: one daily index gets the
 * `index.blocks.read_only_allow_delete` block (what OpenSearch sets itself at the flood-stage disk watermark), so
 * OpenSearch answers 429 for exactly the items aimed at that index and 201 for the rest of the same request. A
 * recording HTTP proxy in front of the node shows which items each `_bulk` request carried.
 */
describe('BulkWriter (real OpenSearch)', () => {
  const prefix = uniqueName('siem-events');
  const org = 'org-bulk';
  const direct = openSearchAt(opensearchUrl());
  const proxy = new RecordingProxy(new URL(opensearchUrl()));
  let client: OpenSearchClient;
  const dayA = Date.parse('2026-03-01T12:00:00Z');
  const dayB = Date.parse('2026-03-02T12:00:00Z');
  const indexA = dailyIndexName(prefix, new Date(dayA));
  const indexB = dailyIndexName(prefix, new Date(dayB));

  const docsFor = (startMs: number, from: number, count: number): BulkDocument[] =>
    Array.from({ length: count }, (_, k) => {
      const out = toEventDocument(decodeSiemEvent(encode(anyEvent(org, from + k, startMs + k))) as never, prefix, org);
      if (out.kind !== 'ok') throw new Error('fixture event must be indexable');
      return { index: out.value.index, id: out.value.id, source: out.value.source };
    });

  const writer = () =>
    new BulkWriter(
      client,
      { opType: 'create', maxDocs: 1000, maxBytes: 5_000_000, retryInitialMs: 100, retryMaxMs: 400, concurrency: 2 },
      quietLogger(),
      createBulkWriterMetrics(new Metrics('index', false)),
    );

  const count = async (index: string) => {
    await direct.indices.refresh({ index });
    return Number(((await direct.count({ index })).body as { count: number }).count);
  };

  beforeAll(async () => {
    await proxy.start();
    client = openSearchAt(proxy.url);
    await installIndexTemplate(direct, { prefix, shards: 1, replicas: 0, refreshInterval: '1s' });
    await direct.indices.create({ index: indexA });
    await direct.indices.create({ index: indexB });
  });

  afterAll(async () => {
    await direct.indices.putSettings({ index: indexA, body: { 'index.blocks.read_only_allow_delete': null } }).catch(() => undefined);
    await cleanup({ client: direct, prefix });
    await client.close();
    await direct.close();
    await proxy.close();
  });

  it('retries only the items that failed with 429 and writes each document once', async () => {
    const docsA = docsFor(dayA, 0, 10);
    const docsB = docsFor(dayB, 100, 10);
    const mixed = docsA.flatMap((d, i) => [d, docsB[i]!]);
    await direct.indices.putSettings({ index: indexA, body: { 'index.blocks.read_only_allow_delete': true } });
    proxy.bulks.length = 0;

    const writing = writer().write(mixed);
    // Let a few retry rounds hit the block, then lift it (as OpenSearch does when disk space is back).
    await waitFor('three bulk attempts', () => proxy.bulks.length >= 3, 20_000, 50);
    await direct.indices.putSettings({ index: indexA, body: { 'index.blocks.read_only_allow_delete': null } });
    const results = await writing;

    expect(results.every((r) => r.kind === 'indexed')).toBe(true);
    const [first, ...retries] = proxy.bulks;
    expect(first!.ids).toEqual(mixed.map((d) => d.id));
    const idsA = new Set(docsA.map((d) => d.id));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    for (const r of retries) expect(new Set(r.ids)).toEqual(idsA);
    expect(await count(indexA)).toBe(10);
    expect(await count(indexB)).toBe(10);
  });

  it('counts a second write of the same documents as duplicates (409 on create), still one document each', async () => {
    const again = [...docsFor(dayA, 0, 10), ...docsFor(dayB, 100, 10)];
    const results = await writer().write(again);
    expect(results.map((r) => r.kind)).toEqual(Array(20).fill('duplicate'));
    expect(await count(indexA)).toBe(10);
    expect(await count(indexB)).toBe(10);
  });

  it('returns a mapping conflict as a dead letter with the reason, without holding back the others', async () => {
    const good = docsFor(dayB, 200, 3);
    const bad = { ...good[1]!, id: 'conflict-1', source: String(good[1]!.source).replace(/"ip":"[^"]+"/, '"ip":"not-an-ip"') };
    proxy.bulks.length = 0;
    const results = await writer().write([good[0]!, bad, good[2]!]);
    expect(results[0]).toEqual({ kind: 'indexed' });
    expect(results[2]).toEqual({ kind: 'indexed' });
    expect(results[1]).toMatchObject({ kind: 'dead-letter', code: 'mapping_error' });
    expect(results[1]!.kind === 'dead-letter' && results[1]!.reason).toMatch(/mapper_parsing_exception.*source\.ip/);
    expect(proxy.bulks).toHaveLength(1); // a 400 item is never retried
  });
});
