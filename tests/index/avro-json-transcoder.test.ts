import { describe, expect, it } from 'vitest';
import { decodeSiemEvent, encodeSiemEvent, latestSiemEventSchema, type SiemEvent } from '../../schemas/index.ts';
import { compileDocumentWriter } from '../../index/document-serializer.ts';
import { transcodeLatestAvro } from '../../index/event-document.ts';
import { withVendorRecord } from '../../index/vendor-record.ts';
import { anyEvent, fileDownload, inboxRule, signIn } from './helpers/siem-events.ts';

/** The transcoder (Avro bytes → JSON bytes) must write exactly what the object path writes (decode → serialize). */
const objectPath = compileDocumentWriter(latestSiemEventSchema.schema);
const viaObjects = (e: SiemEvent) => {
  const decoded = decodeSiemEvent(encodeSiemEvent(e)) as unknown as Record<string, unknown>;
  return withVendorRecord(objectPath(decoded), (decoded.event as { original?: unknown }).original);
};

const at = Date.parse('2026-11-25T22:10:00.123Z');
const samples: SiemEvent[] = [
  signIn({ orgId: 'acme', atMs: at, id: 'a', user: 'ann@acme.example', outcome: 'failure', country: 'DE', ip: '192.0.2.1' }),
  inboxRule({ orgId: 'acme', atMs: at, id: 'b', user: 'ann@acme.example', ruleName: 'r', forwardTo: 'x@evil.example' }),
  fileDownload({ orgId: 'acme', atMs: at, id: 'c', user: 'ann@acme.example', file: 'a "quoted" \\ back\nslash\t\u0001 é中😀.xlsx' }),
  ...Array.from({ length: 20 }, (_, i) => anyEvent(`org-${i}`, i, at - i * 86_400_000 * 400)),
  {
    timestamp: -1_234_567,
    event: { id: 'edge', dataset: 'x', severity: -42, category: [], type: ['a', 'b'], original: '{"raw":"\\u2028"}' },
    organization: { id: 'o' },
    source: { port: 0, geo: { location: { lat: -0.5, lon: 179.999999 } } },
    user: { target: {} },
    m365: {
      record_type: 2147483647,
      mailbox: { operation_count: 4_503_599_627_370_495, external_access: false },
      fields: {},
      parameters: { 'a.b': 'c', 'q"k': 'v\u0000' },
      device: { is_compliant: true },
    },
  },
];

describe('Avro → JSON transcoder', () => {
  it('writes the same bytes as decoding and serializing, and captures org, event id and time', () => {
    for (const e of samples) {
      const t = transcodeLatestAvro(encodeSiemEvent(e));
      expect(t).not.toBeNull();
      expect(t!.source.toString('utf8')).toBe(viaObjects(e));
      expect(JSON.parse(t!.source.toString('utf8'))['@timestamp']).toBeTypeOf('string');
      expect(t!.orgId).toBe(e.organization.id);
      expect(t!.eventId).toBe(e.event.id);
      expect(t!.timestampMicros).toBe(e.timestamp);
    }
  });

  it('declines what it cannot read exactly, so the decoder path decides (and dead-letters) instead', () => {
    const good = encodeSiemEvent(samples[0]!);
    expect(transcodeLatestAvro(good.subarray(0, good.length - 3))).toBeNull(); // truncated
    expect(transcodeLatestAvro(Buffer.concat([good, Buffer.from([0])]))).toBeNull(); // trailing bytes
    const otherId = Buffer.from(good);
    otherId.writeUInt32BE(latestSiemEventSchema.id + 1000, 1);
    expect(transcodeLatestAvro(otherId)).toBeNull(); // another writer schema
    expect(transcodeLatestAvro(Buffer.from('{"not":"avro"}'))).toBeNull();
    expect(transcodeLatestAvro(Buffer.from([0, 0, 0, 0, latestSiemEventSchema.id, 0xff, 0xff, 0xff]))).toBeNull();
  });
});
