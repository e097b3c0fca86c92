import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { OpenSearchClient } from '../../runtime/index.ts';
import { testOpenSearchClient } from '../helpers/clients.ts';
import { deleteTestIndices, uniqueName } from '../helpers/resources.ts';

describe('OpenSearch from the stack launcher with the runtime client', () => {
  let client: OpenSearchClient;
  const indices: string[] = [];

  beforeAll(() => {
    client = testOpenSearchClient();
  });

  afterAll(async () => {
    await deleteTestIndices(client, indices);
    await client.close();
  });

  it('reports the version the global setup announced', async () => {
    const info = await client.info();
    expect(info.body.version.number).toBe(inject('opensearchVersion'));
    expect(info.body.version.number).toMatch(/^2\.19\./);
  });

  it('indexes, bulk-writes, searches and deletes documents', async () => {
    const index = uniqueName('index');
    indices.push(index);
    await client.indices.create({
      index,
      body: {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: { properties: { orgId: { type: 'keyword' }, action: { type: 'keyword' }, '@timestamp': { type: 'date' } } },
      },
    });

    await client.index({ index, id: 'single', body: { orgId: 'org-a', action: 'signIn', '@timestamp': '2026-01-01T00:00:00Z' }, refresh: true });
    const single = await client.get({ index, id: 'single' });
    expect(single.body._source).toMatchObject({ orgId: 'org-a', action: 'signIn' });

    const docs = Array.from({ length: 10 }, (_, i) => ({ id: `bulk-${i}`, orgId: i % 2 === 0 ? 'org-a' : 'org-b', action: 'audit' }));
    const bulk = await client.bulk({
      refresh: true,
      body: docs.flatMap((d) => [{ index: { _index: index, _id: d.id } }, { orgId: d.orgId, action: d.action, '@timestamp': '2026-01-01T00:00:01Z' }]),
    });
    expect(bulk.body.errors).toBe(false);
    expect(bulk.body.items).toHaveLength(10);

    // Writing the same _id again replaces the document: the idempotency the index service relies on.
    const again = await client.bulk({ refresh: true, body: [{ index: { _index: index, _id: 'bulk-0' } }, { orgId: 'org-a', action: 'audit-v2' }] });
    expect(again.body.items[0]?.index?.result).toBe('updated');

    const search = await client.search({ index, body: { query: { term: { orgId: 'org-a' } }, size: 50 } });
    const hits = search.body.hits.hits as Array<{ _id: string }>;
    expect(hits.map((h) => h._id).sort()).toEqual(['bulk-0', 'bulk-2', 'bulk-4', 'bulk-6', 'bulk-8', 'single']);
    const total = search.body.hits.total;
    expect(typeof total === 'number' ? total : total?.value).toBe(6);

    await client.delete({ index, id: 'single', refresh: true });
    const count = await client.count({ index });
    expect(count.body.count).toBe(10);

    await deleteTestIndices(client, [index]);
    const exists = await client.indices.exists({ index });
    expect(exists.body).toBe(false);
  });
});
