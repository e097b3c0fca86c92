import { describe, expect, it } from 'vitest';
import { parseIndexConfig, parseIndexSettings } from '../../index/config.ts';

describe('index settings', () => {
  it('has working defaults', () => {
    const s = parseIndexSettings({});
    expect(s).toMatchObject({
      groupId: 'm365-siem-index',
      prefix: 'siem-events',
      retentionDays: 90,
      bulkMaxDocs: 1000,
      opType: 'create',
      bulkConcurrency: 2,
      pipelineDepth: 4,
    });
    expect(parseIndexConfig({}).topics.events).toBe('siem.events');
  });
  it('names the bad setting', () => {
    expect(() => parseIndexSettings({ INDEX_PREFIX: 'Siem Events' })).toThrow(/INDEX_PREFIX/);
    expect(() => parseIndexSettings({ INDEX_RETENTION_DAYS: '-1' })).toThrow(/INDEX_RETENTION_DAYS/);
    expect(() => parseIndexSettings({ INDEX_OP_TYPE: 'upsert' })).toThrow(/INDEX_OP_TYPE/);
    expect(() => parseIndexSettings({ INDEX_RETRY_INITIAL_MS: '5000', INDEX_RETRY_MAX_MS: '100' })).toThrow(/INDEX_RETRY_MAX_MS/);
  });
});
