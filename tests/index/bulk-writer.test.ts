import { describe, expect, it } from 'vitest';
import { Metrics, createLogger, type OpenSearchClient } from '../../runtime/index.ts';
import { BulkWriter, WriteAbortedError, createBulkWriterMetrics, type BulkDocument } from '../../index/bulk-writer.ts';
import { waitUntil } from '../helpers/wait.ts';

/** A scripted stand-in for `client.bulk`: each call gets the ids it was sent and answers per the script. */
type Answer = { items: number[] } | { error: { name: string; statusCode?: number } };
function fakeClient(script: (ids: string[], call: number) => Answer) {
  const calls: string[][] = [];
  const client = {
    bulk: async (params: { body: string | Buffer }) => {
      const ids = String(params.body)
        .split('\n')
        .filter((_, i) => i % 2 === 0)
        .filter(Boolean)
        .map((l) => (Object.values(JSON.parse(l))[0] as { _id: string })._id);
      calls.push(ids);
      const answer = script(ids, calls.length - 1);
      if ('error' in answer) {
        const e = Object.assign(new Error('scripted'), { name: answer.error.name, meta: { statusCode: answer.error.statusCode } });
        throw e;
      }
      const items = answer.items.map((status) => ({
        create: { status, ...(status >= 300 && status !== 409 ? { error: { type: status === 400 ? 'mapper_parsing_exception' : 'x', reason: 'r' } } : {}) },
      }));
      return { body: { errors: items.some((i) => i.create.status >= 300), items }, statusCode: 200 };
    },
  };
  return { client: client as unknown as OpenSearchClient, calls };
}

const docs = (n: number): BulkDocument[] => Array.from({ length: n }, (_, i) => ({ index: 'i', id: `d${i}`, source: `{"n":${i}}` }));
const writer = (client: OpenSearchClient, o: Partial<{ maxDocs: number; maxBytes: number; concurrency: number }> = {}) =>
  new BulkWriter(
    client,
    { opType: 'create', maxDocs: o.maxDocs ?? 100, maxBytes: o.maxBytes ?? 1_000_000, retryInitialMs: 1, retryMaxMs: 5, concurrency: o.concurrency ?? 1 },
    createLogger('t', { level: 'silent' }),
    createBulkWriterMetrics(new Metrics('index', false)),
  );

describe('BulkWriter (scripted client)', () => {
  it('re-sends only items answered 429/5xx, until they pass', async () => {
    const { client, calls } = fakeClient((ids, call) => ({
      items: ids.map((id) => (call < 2 && (id === 'd1' || id === 'd3') ? (id === 'd1' ? 429 : 503) : 201)),
    }));
    const results = await writer(client).write(docs(4));
    expect(results.map((r) => r.kind)).toEqual(['indexed', 'indexed', 'indexed', 'indexed']);
    expect(calls).toEqual([
      ['d0', 'd1', 'd2', 'd3'],
      ['d1', 'd3'],
      ['d1', 'd3'],
    ]);
  });

  it('retries a request without an answer as a whole, then takes the per-item results', async () => {
    const { client, calls } = fakeClient((ids, call) => (call < 3 ? { error: { name: 'ConnectionError' } } : { items: ids.map(() => 201) }));
    const results = await writer(client).write(docs(3));
    expect(results.every((r) => r.kind === 'indexed')).toBe(true);
    expect(calls).toHaveLength(4);
  });

  it('sends the items of a request rejected as a whole (400) one by one and dead-letters only the bad one', async () => {
    const { client, calls } = fakeClient((ids) =>
      ids.length > 1 || ids[0] === 'd1' ? { error: { name: 'ResponseError', statusCode: 400 } } : { items: [201] },
    );
    const results = await writer(client).write(docs(3));
    expect(results.map((r) => r.kind)).toEqual(['indexed', 'dead-letter', 'indexed']);
    expect(results[1]).toMatchObject({ code: 'bulk_request_rejected' });
    expect(calls).toEqual([['d0', 'd1', 'd2'], ['d0'], ['d1'], ['d2']]);
  });

  it('splits requests at the document and byte limits', async () => {
    const { client, calls } = fakeClient((ids) => ({ items: ids.map(() => 201) }));
    await writer(client, { maxDocs: 2 }).write(docs(5));
    expect(calls.map((c) => c.length)).toEqual([2, 2, 1]);
    const bytes = fakeClient((ids) => ({ items: ids.map(() => 201) }));
    await writer(bytes.client, { maxBytes: 90 }).write(docs(4)); // each item is ~40 bytes of NDJSON
    expect(bytes.calls.map((c) => c.length)).toEqual([2, 2]);
  });

  it('stops retrying when the caller aborts, without results', async () => {
    const { client } = fakeClient(() => ({ error: { name: 'ConnectionError' } }));
    let waits = 0;
    await expect(writer(client).write(docs(2), { onWait: async () => void waits++, shouldAbort: () => waits >= 3 })).rejects.toBeInstanceOf(WriteAbortedError);
  });
});

describe('BulkWriter concurrency', () => {
  it('keeps several requests in flight and still settles every item exactly once', async () => {
    let inFlight = 0;
    let peak = 0;
    const calls: string[][] = [];
    const client = {
      bulk: async (params: { body: string | Buffer }) => {
        const ids = String(params.body)
          .split('\n')
          .filter((_, i) => i % 2 === 0)
          .filter(Boolean)
          .map((l) => (Object.values(JSON.parse(l))[0] as { _id: string })._id);
        calls.push(ids);
        inFlight++;
        peak = Math.max(peak, inFlight);
        // OpenSearch's latency, simulated so that requests overlap; the assertions below need no particular timing.
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { body: { errors: false, items: ids.map(() => ({ create: { status: 201 } })) } };
      },
    } as unknown as OpenSearchClient;
    const results = await writer(client, { maxDocs: 2, concurrency: 3 }).write(docs(11));
    expect(results.every((r) => r.kind === 'indexed')).toBe(true);
    expect(peak).toBe(3);
    expect(calls.flat().sort()).toEqual(
      docs(11)
        .map((d) => d.id)
        .sort(),
    );

    // the limit holds across concurrent writes (several Kafka batches in the pipeline)
    peak = 0;
    const shared = writer(client, { maxDocs: 2, concurrency: 2 });
    await Promise.all([shared.write(docs(6)), shared.write(docs(6)), shared.write(docs(4))]);
    expect(peak).toBe(2);
  });
  it('keeps the backpressure gauge and the waiting time while any concurrent write is still retrying', async () => {
    // d-ids of the first write pass at once; the second write's items are throttled until `release` is set.
    let release = false;
    const { client } = fakeClient((ids) => ({ items: ids.map((id) => (id.startsWith('slow') && !release ? 429 : 201)) }));
    const metrics = new Metrics('index', false);
    const w = new BulkWriter(
      client,
      { opType: 'create', maxDocs: 100, maxBytes: 1_000_000, retryInitialMs: 5, retryMaxMs: 5, concurrency: 2 },
      createLogger('t', { level: 'silent' }),
      createBulkWriterMetrics(metrics),
    );
    const gauge = async () => (await metrics.registry.getSingleMetric('m365siem_index_backpressure_active')!.get()).values[0]?.value;
    const slow = w.write([{ index: 'i', id: 'slow0', source: '{}' }]);
    await waitUntil('the throttled write to raise the gauge', async () => (await gauge()) === 1, 5_000, 5);
    expect(await gauge()).toBe(1);
    const since = w.waitingSinceMs;
    expect(since).not.toBeNull();

    // A write that succeeds meanwhile must not clear what the retrying one set.
    expect((await w.write(docs(3))).every((r) => r.kind === 'indexed')).toBe(true);
    expect(await gauge()).toBe(1);
    expect(w.waitingSinceMs).toBe(since);

    release = true;
    expect((await slow).map((r) => r.kind)).toEqual(['indexed']);
    expect(await gauge()).toBe(0);
    expect(w.waitingSinceMs).toBeNull();
  });
});
