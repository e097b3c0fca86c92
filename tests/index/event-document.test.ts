import { describe, expect, it } from 'vitest';
import { decodeSiemEvent } from '../../schemas/index.ts';
import { documentId } from '../../index/document-id.ts';
import { microsToIso, toEventDocument } from '../../index/event-document.ts';
import { dailyIndexName, parseDailyIndexName } from '../../schemas/opensearch/index.ts';
import { encode, signIn } from './helpers/siem-events.ts';

describe('document id', () => {
  it('is deterministic per (organization, event) and differs across organizations', () => {
    expect(documentId('org-a', 'e1')).toBe(documentId('org-a', 'e1'));
    expect(documentId('org-a', 'e1')).not.toBe(documentId('org-b', 'e1'));
    expect(documentId('ab', 'c')).not.toBe(documentId('a', 'bc'));
    expect(documentId('org-a', 'e1')).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});

describe('daily index names', () => {
  it('uses the event day in UTC', () => {
    expect(dailyIndexName('siem-events', new Date('2026-11-25T23:59:59.999Z'))).toBe('siem-events-2026.11.25');
    expect(dailyIndexName('siem-events', new Date('2026-11-26T00:00:00Z'))).toBe('siem-events-2026.11.26');
  });
  it('parses only exact daily names of the prefix', () => {
    expect(parseDailyIndexName('siem-events', 'siem-events-2026.02.28')?.toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(parseDailyIndexName('siem-events', 'siem-events-2026.02.30')).toBeNull();
    expect(parseDailyIndexName('siem-events', 'siem-events-org-acme')).toBeNull();
    expect(parseDailyIndexName('siem-events', 'x-siem-events-2026.02.28')).toBeNull();
    expect(parseDailyIndexName('siem-events', 'siem-events-2026.02.28-restored')).toBeNull();
  });
});

describe('event → document', () => {
  const at = Date.parse('2026-11-25T22:10:00.123Z');
  const decoded = () =>
    decodeSiemEvent(
      encode(signIn({ orgId: 'acme', atMs: at, id: 'evt-1', user: 'ann@acme.example', outcome: 'failure', country: 'DE', ip: '192.0.2.1' })),
    ) as unknown as Record<string, unknown>;

  it('files the event under its own day with @timestamp in microseconds and no nulls', () => {
    const out = toEventDocument(decoded(), 'siem-events', 'acme');
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect(out.value.index).toBe('siem-events-2026.11.25');
    expect(out.value.id).toBe(documentId('acme', 'evt-1'));
    const doc = JSON.parse(String(out.value.source)) as Record<string, any>;
    expect(doc['@timestamp']).toBe('2026-11-25T22:10:00.123000Z');
    expect(doc.timestamp).toBeUndefined();
    expect(doc.event.ingested).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(String(out.value.source)).not.toContain('null');
    expect(doc.group).toBeUndefined();
    expect(doc.source.geo.location).toEqual({ lat: 47.6, lon: -122.3 });
  });

  it('drops a geo point whose lat and lon are both null instead of failing the document', () => {
    const e = decoded();
    (e.source as any).geo.location = { lat: null, lon: null };
    const out = toEventDocument(e, 'siem-events', 'acme');
    expect(out.kind).toBe('ok');
    if (out.kind === 'ok') expect(JSON.parse(String(out.value.source)).source.geo.location).toBeUndefined();
  });

  it('dead-letters events that cannot be filed', () => {
    expect(toEventDocument(decoded(), 'siem-events', 'other-org')).toMatchObject({ kind: 'dead-letter', code: 'organization_mismatch' });
    const noId = decoded();
    (noId.event as any).id = '';
    expect(toEventDocument(noId, 'siem-events', 'acme')).toMatchObject({ kind: 'dead-letter', code: 'missing_event_id' });
    const noOrg = decoded();
    (noOrg.organization as any).id = '';
    expect(toEventDocument(noOrg, 'siem-events', null)).toMatchObject({ kind: 'dead-letter', code: 'missing_organization_id' });
    const badTime = decoded();
    badTime.timestamp = Number.NaN;
    expect(toEventDocument(badTime, 'siem-events', 'acme')).toMatchObject({ kind: 'dead-letter', code: 'invalid_timestamp' });
  });

  it('formats microseconds, also before 1970', () => {
    expect(microsToIso(1_700_000_000_123_456)).toBe('2023-11-14T22:13:20.123456Z');
    expect(microsToIso(-1)).toBe('1969-12-31T23:59:59.999999Z');
  });
});

describe('compiled _source writer', () => {
  it('writes the same document as the generic path, for sign-ins, inbox rules and downloads', async () => {
    const { inboxRule, fileDownload } = await import('./helpers/siem-events.ts');
    const at = Date.parse('2026-11-25T22:10:00.123Z');
    const samples = [
      signIn({ orgId: 'acme', atMs: at, id: 'a', user: 'ann@acme.example', outcome: 'failure', country: 'DE', ip: '192.0.2.1' }),
      inboxRule({ orgId: 'acme', atMs: at, id: 'b', user: 'ann@acme.example', ruleName: 'r', forwardTo: 'x@evil.example' }),
      fileDownload({ orgId: 'acme', atMs: at, id: 'c', user: 'ann@acme.example', file: 'a "quoted" \u00e9\u4e2d.xlsx' }),
    ];
    for (const e of samples) {
      const decoded = decodeSiemEvent(encode(e)) as unknown as Record<string, unknown>;
      const compiled = toEventDocument(decoded, 'p', 'acme');
      // the generic path: same event, already carrying @timestamp
      const { timestamp, ...rest } = decoded;
      const generic = toEventDocument({ '@timestamp': microsToIso(timestamp as number), ...rest }, 'p', 'acme');
      expect(compiled.kind === 'ok' && generic.kind === 'ok').toBe(true);
      if (compiled.kind !== 'ok' || generic.kind !== 'ok') return;
      expect(JSON.parse(String(compiled.value.source))).toEqual(JSON.parse(String(generic.value.source)));
      expect(Object.keys(JSON.parse(String(compiled.value.source)))[0]).toBe('@timestamp');
      expect(compiled.value.index).toBe(generic.value.index);
    }
  });
});

describe('microsecond times', () => {
  it('formats runs within one second and jumps between seconds and eras alike', async () => {
    const { microsToIso: fast } = await import('../../index/document-serializer.ts');
    const cases = [1_700_000_000_000_001, 1_700_000_000_999_999, 1_700_000_001_000_000, 0, -1, -1_000_000, 8_999_999_999_999_999, 1_700_000_000_000_001];
    for (const m of cases) {
      const ms = Math.floor(m / 1000);
      const expected = `${new Date(ms).toISOString().slice(0, -1)}${String(m - ms * 1000).padStart(3, '0')}Z`;
      expect(fast(m)).toBe(expected);
    }
  });
});
