import { describe, expect, it } from 'vitest';
import { decodeSiemEvent, encodeSiemEvent, type SiemEvent } from '../../schemas/index.ts';
import { toEventDocument, transcodeLatestAvro } from '../../index/event-document.ts';
import { isJsonObjectText, withVendorRecord } from '../../index/vendor-record.ts';

const event = (original: string | null): SiemEvent => ({
  timestamp: Date.parse('2026-11-20T10:00:00Z') * 1000,
  event: { id: 'e1', dataset: 'o365.audit', action: 'New-InboxRule', original },
  organization: { id: 'org-a' },
  m365: { source: 'management:Audit.Exchange', workload: 'Exchange' },
});

const valid = [
  '{}',
  '{"Operation":"New-InboxRule","Parameters":[{"Name":"ForwardTo","Value":"x@evil.example"}]}',
  '{"a":-0.5e+10,"b":[true,false,null,[],{}],"c":"\\"quoted\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\uD83D\\uDE00","d":0}',
  ' {"é中😀":"Ünïcödé 😀"} ',
  '{"deep":{"a":{"b":{"c":[1,[2,[3,{"d":"e"}]]]}}}}',
];
const invalid = [
  '',
  '[]',
  '"text"',
  '{',
  '{"a":1}}',
  '{"a":1} {"b":2}',
  '{"a" 1}',
  '{"a":1,}',
  '{,"a":1}',
  '{"a":[1,]}',
  '{"a":01}',
  '{"a":1.}',
  '{"a":-}',
  '{"a":tru}',
  '{"a":"\\x"}',
  '{"a":"\\u12G4"}',
  '{"a":"raw\ncontrol"}',
  '{a:1}',
  "{'a':1}",
  '{"a":[}',
  '{"a":{]}',
  `{"a":${'['.repeat(70)}${']'.repeat(70)}}`,
];

describe('vendor record (event.original spliced as m365.record)', () => {
  it('accepts exactly the texts JSON.parse reads as one object', () => {
    for (const text of [...valid, ...invalid]) {
      const bytes = Buffer.from(text, 'utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
      // Deeper than 64 levels is refused although JSON.parse reads it: the one deliberate difference.
      const expected = isObject && !text.includes('['.repeat(65));
      expect(isJsonObjectText(bytes, 0, bytes.length), text).toBe(expected);
    }
  });

  it('refuses invalid UTF-8 inside the record', () => {
    const bytes = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(isJsonObjectText(bytes, 0, bytes.length)).toBe(false);
  });

  it('transcoder and object path splice the same bytes, with Microsoft names under m365.record', () => {
    for (const original of valid) {
      const e = event(original);
      const t = transcodeLatestAvro(encodeSiemEvent(e));
      expect(t).not.toBeNull();
      const doc = toEventDocument(decodeSiemEvent(encodeSiemEvent(e)) as never, 'siem-events', 'org-a');
      expect(doc.kind).toBe('ok');
      const objectSource = doc.kind === 'ok' ? String(doc.value.source) : '';
      expect(t!.source.toString('utf8')).toBe(objectSource);
      const parsed = JSON.parse(objectSource) as Record<string, unknown>;
      expect(parsed['m365.record']).toEqual(JSON.parse(original));
      expect((parsed.event as { original: string }).original).toBe(original);
    }
  });

  it('leaves the record out, and keeps the event, when event.original is not one JSON object', () => {
    for (const original of [...invalid, null]) {
      const e = event(original);
      const t = transcodeLatestAvro(encodeSiemEvent(e));
      expect(t).not.toBeNull();
      const parsed = JSON.parse(t!.source.toString('utf8')) as Record<string, unknown>;
      expect(parsed['m365.record']).toBeUndefined();
      expect((parsed.event as { id: string }).id).toBe('e1');
      expect(withVendorRecord('{"a":1}', original)).toBe('{"a":1}');
    }
  });
});
