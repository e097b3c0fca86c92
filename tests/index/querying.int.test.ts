import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaProducer } from '../../runtime/index.ts';
import type { SiemEvent } from '../../schemas/index.ts';
import { organizationAliasName } from '../../schemas/opensearch/index.ts';
import { startIndexer, type RunningIndexer } from '../../index/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, countDocs, indexerEnv, offsets, openSearchAt, opensearchUrl, quietLogger, testTopics, waitFor } from './helpers/fixture.ts';
import { encode, fileDownload, inboxRule, signIn } from './helpers/siem-events.ts';

/** The example queries of docs/querying.md, read from the file and run as written. */
function readmeQueries(): Map<string, { method: string; target: string; body: Record<string, unknown> }> {
  const text = readFileSync(new URL('../../docs/querying.md', import.meta.url), 'utf8');
  const out = new Map<string, { method: string; target: string; body: Record<string, unknown> }>();
  for (const m of text.matchAll(/<!-- query: ([a-z-]+) -->\s*```http\n(GET|POST) (\S+)\n([\s\S]*?)```/g)) {
    out.set(m[1]!, { method: m[2]!, target: m[3]!, body: JSON.parse(m[4]!) as Record<string, unknown> });
  }
  return out;
}

type Buckets<T = Record<string, unknown>> = Array<{ key: string; doc_count: number } & T>;

describe('docs/querying.md examples against indexed simulator-like events', () => {
  const prefix = uniqueName('siem-events');
  const groupId = uniqueName('index-group');
  const topics = testTopics(1);
  const kafka = testKafkaClient('index-query');
  const os = openSearchAt(opensearchUrl());
  const queries = readmeQueries();
  let producer: KafkaProducer;
  let indexer: RunningIndexer;
  const org = 'contoso';
  const other = 'fabrikam';
  const now = Date.now();
  const H = 3_600_000;
  const D = 24 * H;

  const run = async (name: string, index = prefix) => {
    const q = queries.get(name);
    if (!q) throw new Error(`docs/querying.md has no query "${name}"`);
    expect(q.target).toBe('siem-events/_search');
    const r = await os.search({ index, body: q.body } as never);
    return r.body as { hits: { hits: Array<{ _source: Record<string, any> }> }; aggregations?: Record<string, { buckets: Buckets<any> }> };
  };

  beforeAll(async () => {
    const events: SiemEvent[] = [];
    let n = 0;
    const id = () => `q-${n++}`;
    const si = (orgId: string, user: string, outcome: 'success' | 'failure', country: string, atMs: number, ip = '192.0.2.50') =>
      events.push(signIn({ orgId, id: id(), atMs, user, outcome, country, ip }));
    // failed sign-ins: ann 6 in the last hours (reported), bob 2 (below threshold), carol 7 but two days ago
    for (let i = 0; i < 6; i++) si(org, 'ann@contoso.example', 'failure', 'US', now - (i + 1) * 10 * 60_000, `198.51.100.${i % 2}`);
    for (let i = 0; i < 2; i++) si(org, 'bob@contoso.example', 'failure', 'US', now - H);
    for (let i = 0; i < 7; i++) si(org, 'carol@contoso.example', 'failure', 'US', now - 2 * D - i * 60_000);
    // another organization's failures: only visible through the all-organizations alias
    for (let i = 0; i < 5; i++) si(other, 'ivan@fabrikam.example', 'failure', 'NL', now - 2 * H);
    // inbox rules: two forward outside, one inside
    events.push(inboxRule({ orgId: org, id: id(), atMs: now - 3 * H, user: 'dan@contoso.example', ruleName: 'fw', forwardTo: 'drop@evil.example' }));
    events.push(inboxRule({ orgId: org, id: id(), atMs: now - 2 * H, user: 'dan@contoso.example', ruleName: 'team', forwardTo: 'boss@contoso.example' }));
    events.push(inboxRule({ orgId: org, id: id(), atMs: now - H, user: 'erin@contoso.example', ruleName: 'rd', redirectTo: 'me@mail.example' }));
    // downloads: eve 60 files in the last hour, frank 10
    for (let i = 0; i < 60; i++)
      events.push(fileDownload({ orgId: org, id: id(), atMs: now - 20 * 60_000 + i * 1000, user: 'eve@contoso.example', file: `report-${i}.xlsx` }));
    for (let i = 0; i < 10; i++)
      events.push(fileDownload({ orgId: org, id: id(), atMs: now - 20 * 60_000, user: 'frank@contoso.example', file: `f-${i}.docx` }));
    // countries: gina known in US, new in RU today; hank only DE
    si(org, 'gina@contoso.example', 'success', 'US', now - 10 * D);
    si(org, 'gina@contoso.example', 'success', 'US', now - 2 * H);
    si(org, 'gina@contoso.example', 'success', 'RU', now - H, '203.0.113.99');
    si(org, 'hank@contoso.example', 'success', 'DE', now - 5 * D);
    si(org, 'hank@contoso.example', 'success', 'DE', now - H);

    await kafka.ensureTopics([topics.events, topics.deadLetter]);
    producer = kafka.producer();
    await producer.connect();
    indexer = await startIndexer(indexerEnv({ prefix, groupId }), { topics, logger: quietLogger(), opsServer: false });
    await producer.send({ topic: topics.events.name, acks: -1, messages: events.map((e) => ({ key: e.organization.id, value: encode(e) })) });
    await waitFor('events durable', async () => (await offsets(groupId, topics.events.name)).committed === events.length);
    expect(await countDocs(os, prefix)).toBe(events.length);
  });

  afterAll(async () => {
    await indexer?.close();
    await producer?.disconnect();
    await cleanup({ client: os, prefix, topics, groups: [groupId] });
    await os.close();
  });

  it('has the four documented queries', () => {
    expect([...queries.keys()].sort()).toEqual(['failed-sign-ins', 'inbox-rules-forwarding-outside', 'mass-file-downloads', 'sign-ins-from-new-countries']);
  });

  it('failed sign-ins by user: users with 5+ failures in 24 h, with error codes and IPs', async () => {
    const r = await run('failed-sign-ins');
    const users = r.aggregations!.by_user!.buckets;
    expect(users.map((b) => [b.key, b.doc_count])).toEqual([
      ['ann@contoso.example', 6],
      ['ivan@fabrikam.example', 5],
    ]);
    expect(users[0]!.error_codes.buckets[0].key).toBe('50126');
    expect(users[0]!.source_ips.buckets.map((b: { key: string }) => b.key).sort()).toEqual(['198.51.100.0', '198.51.100.1']);
    // the organization's filtered alias shows only its own users
    const own = await run('failed-sign-ins', organizationAliasName(prefix, org)!);
    expect(own.aggregations!.by_user!.buckets.map((b) => b.key)).toEqual(['ann@contoso.example']);
  });

  it('inbox rules forwarding outside: the external forward and redirect, not the internal one', async () => {
    const r = await run('inbox-rules-forwarding-outside');
    const rules = r.hits.hits.map((h) => h._source.m365.parameters.Name).sort();
    expect(rules).toEqual(['fw', 'rd']);
  });

  it('mass file downloads: the user with 50+ downloads in the last hour', async () => {
    const r = await run('mass-file-downloads');
    const users = r.aggregations!.by_user!.buckets;
    expect(users.map((b) => [b.key, b.doc_count])).toEqual([['eve@contoso.example', 60]]);
    expect(users[0]!.distinct_files.value).toBe(60);
  });

  it('sign-ins from new countries: first seen within the last day', async () => {
    const r = await run('sign-ins-from-new-countries');
    const since = now - D;
    const fresh = r.aggregations!.by_user!.buckets.flatMap((u) =>
      (u.by_country.buckets as Buckets<{ first_seen: { value: number } }>).filter((c) => c.first_seen.value >= since).map((c) => `${u.key}:${c.key}`),
    );
    // hank's DE and gina's US were seen before; ann/ivan never signed in successfully
    expect(fresh).toEqual(['gina@contoso.example:RU']);
  });
});
