import { describe, expect, it } from 'vitest';
import { classifyItem, classifyRequestFailure } from '../../index/retry-policy.ts';
import { expiredIndices } from '../../index/retention.ts';

describe('bulk item verdicts (Vector rules + 409 on create = already indexed)', () => {
  it('retries 429 and 5xx items only', () => {
    expect(classifyItem(201, undefined, 'create')).toEqual({ kind: 'indexed' });
    expect(classifyItem(200, undefined, 'index')).toEqual({ kind: 'indexed' });
    expect(classifyItem(429, { type: 'cluster_block_exception' }, 'create')).toEqual({ kind: 'retry', reason: 'throttled' });
    expect(classifyItem(429, { type: 'es_rejected_execution_exception' }, 'create')).toEqual({ kind: 'retry', reason: 'throttled' });
    expect(classifyItem(503, { type: 'unavailable_shards_exception' }, 'create')).toEqual({ kind: 'retry', reason: 'server_error' });
  });
  it('counts a 409 on create as success, but not on index', () => {
    expect(classifyItem(409, { type: 'version_conflict_engine_exception' }, 'create')).toEqual({ kind: 'duplicate' });
    expect(classifyItem(409, { type: 'version_conflict_engine_exception' }, 'index')).toMatchObject({ kind: 'dead-letter' });
  });
  it('dead-letters mapping errors and other 4xx with a code and the reason', () => {
    const v = classifyItem(
      400,
      {
        type: 'mapper_parsing_exception',
        reason: 'failed to parse field [source.ip] of type [ip]',
        caused_by: { type: 'illegal_argument_exception', reason: "'nope' is not an IP string literal." },
      },
      'create',
    );
    expect(v).toMatchObject({ kind: 'dead-letter', code: 'mapping_error' });
    expect(v.kind === 'dead-letter' && v.reason).toContain('source.ip');
    expect(classifyItem(400, { type: 'index_closed_exception', reason: 'closed' }, 'create')).toMatchObject({ kind: 'dead-letter', code: 'index_closed' });
    expect(classifyItem(404, { type: 'index_not_found_exception' }, 'create')).toMatchObject({ kind: 'dead-letter', code: 'index_rejected' });
  });
  it('retries whole-request failures without an answer, 429, 5xx and auth errors; splits other 4xx', () => {
    expect(classifyRequestFailure(undefined, 'ECONNREFUSED')).toEqual({ kind: 'retry', reason: 'unavailable' });
    expect(classifyRequestFailure(429, 'x')).toEqual({ kind: 'retry', reason: 'throttled' });
    expect(classifyRequestFailure(502, 'x')).toEqual({ kind: 'retry', reason: 'server_error' });
    expect(classifyRequestFailure(401, 'x').kind).toBe('retry');
    expect(classifyRequestFailure(400, 'x')).toMatchObject({ kind: 'split', code: 'bulk_request_rejected' });
    expect(classifyRequestFailure(413, 'x')).toMatchObject({ kind: 'split', code: 'document_too_large' });
  });
});

describe('retention', () => {
  const names = [
    'siem-events-2026.11.20',
    'siem-events-2026.11.23',
    'siem-events-2026.11.24',
    'siem-events-2026.11.25',
    'siem-events-2026.11.26',
    'siem-events-org-acme',
    'other-siem-events-2026.01.01',
    'siem-events-2025.13.01',
  ];
  const now = new Date('2026-11-26T08:00:00Z');
  it('selects only whole days older than N days, of this prefix, exact names', () => {
    // 2 days before now = 2026-11-24T08:00Z: days ending at or before that go (…11.23 ends 11.24T00:00).
    expect(expiredIndices('siem-events', names, 2, now)).toEqual(['siem-events-2026.11.20', 'siem-events-2026.11.23']);
    expect(expiredIndices('siem-events', names, 0, now)).toEqual([]);
    expect(expiredIndices('siem-events', names, 30, now)).toEqual([]);
  });
});
