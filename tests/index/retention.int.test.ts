import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRetention, installIndexTemplate, listDailyIndices } from '../../index/index.ts';
import { dailyIndexName } from '../../schemas/opensearch/index.ts';
import { deleteTestIndices, uniqueName } from '../helpers/resources.ts';
import { cleanup, openSearchAt, opensearchUrl } from './helpers/fixture.ts';

describe('index template and retention (real OpenSearch)', () => {
  const prefix = uniqueName('siem-events');
  const os = openSearchAt(opensearchUrl());
  const now = new Date();
  const daysAgo = (n: number) => dailyIndexName(prefix, new Date(now.getTime() - n * 86_400_000));
  const lookalike = `${prefix}-2020.01.01-restored`;

  beforeAll(async () => {
    await installIndexTemplate(os, { prefix, shards: 1, replicas: 0, refreshInterval: '1s' });
    for (const name of [daysAgo(0), daysAgo(1), daysAgo(5), daysAgo(40), lookalike]) await os.indices.create({ index: name });
  });

  afterAll(async () => {
    await deleteTestIndices(os, [lookalike]);
    await cleanup({ client: os, prefix });
    await os.close();
  });

  it('creates daily indices with the template: mappings, settings and the read alias', async () => {
    const idx = daysAgo(0);
    const mapping = (await os.indices.getMapping({ index: idx })).body as Record<string, { mappings: { dynamic: string; properties: Record<string, any> } }>;
    const m = mapping[idx]!.mappings;
    expect(String(m.dynamic)).toBe('false');
    expect(m.properties.source.properties.ip.type).toBe('ip');
    expect(m.properties.m365.properties.fields.type).toBe('flat_object');
    const aliases = (await os.indices.getAlias({ index: idx })).body as Record<string, { aliases: Record<string, unknown> }>;
    expect(Object.keys(aliases[idx]!.aliases)).toEqual([prefix]);
  });

  it('deletes only daily indices of the prefix older than N days, by exact name', async () => {
    const dry = await applyRetention(os, { prefix, days: 3, dryRun: true });
    expect(dry.deleted).toEqual([daysAgo(40), daysAgo(5)].sort());
    expect((await listDailyIndices(os, prefix)).length).toBe(4);

    const result = await applyRetention(os, { prefix, days: 3 });
    expect(result.deleted).toEqual([daysAgo(40), daysAgo(5)].sort());
    expect((await listDailyIndices(os, prefix)).sort()).toEqual([daysAgo(1), daysAgo(0)].sort());
    expect((await os.indices.exists({ index: lookalike })).body).toBe(true);
  });
});
