import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import {
  SIEM_EVENT_SUBJECT,
  decodeSiemEvent,
  encodeSiemEvent,
  fullTransitiveProblems,
  latestSiemEventSchema,
  rememberSchemaId,
  schemaIdOf,
  schemaRegistryRoutes,
  schemaRegistryView,
  siemEventSchemas,
  toPlainJson,
  type SiemEvent,
} from '../../schemas/index.ts';

type Field = { name: string; type: unknown; doc?: string; default?: unknown };
type RecordSchema = { type: 'record'; name: string; fields: Field[]; doc?: string };

/** Required (non-null) fields by dotted path; everything else must be ["null", T] with default null. */
const REQUIRED = new Set(['timestamp', 'event', 'event.id', 'event.dataset', 'organization', 'organization.id']);

function walk(schema: RecordSchema, prefix: string, visit: (path: string, field: Field) => void): void {
  for (const f of schema.fields) {
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    visit(path, f);
    const branches = Array.isArray(f.type) ? f.type : [f.type];
    for (const b of branches) if (b && typeof b === 'object' && (b as RecordSchema).type === 'record') walk(b as RecordSchema, path, visit);
  }
}

const sample: SiemEvent = {
  timestamp: Date.UTC(2026, 10, 20, 10, 0, 0) * 1000 + 123456,
  event: { id: 'e-1', dataset: 'o365.audit', kind: 'event', category: ['iam'], type: ['user', 'creation'], outcome: 'success' },
  organization: { id: 'org-1' },
  user: { email: 'a@b.com', target: { email: 'c@d.com' } },
  source: { ip: '2001:db8::1', port: 443, geo: { location: { lat: 1.5, lon: -2.5 } } },
  related: { ip: ['2001:db8::1'], user: ['a@b.com'] },
  m365: { fields: { 'Parameters.ForwardTo': 'x@y.z' }, parameters: { ForwardTo: 'x@y.z' } },
};

describe('the Avro schema files', () => {
  it('parse, with a doc on every field and the record', () => {
    for (const v of siemEventSchemas) {
      expect(() => avro.Type.forSchema(v.schema as avro.Schema)).not.toThrow();
      const missing: string[] = [];
      walk(v.schema as unknown as RecordSchema, '', (path, f) => {
        if (!f.doc || f.doc.trim().length < 3) missing.push(path);
      });
      expect(missing, `fields without doc in ${v.file}`).toEqual([]);
    }
  });

  it('make every optional field nullable with default null, times timestamp-micros, no enums', () => {
    const schema = latestSiemEventSchema.schema as unknown as RecordSchema;
    const problems: string[] = [];
    const text = JSON.stringify(schema);
    expect(text).not.toContain('"enum"');
    walk(schema, '', (path, f) => {
      if (REQUIRED.has(path)) {
        if (Array.isArray(f.type)) problems.push(`${path} should be required`);
        return;
      }
      if (!Array.isArray(f.type) || f.type[0] !== 'null' || f.default !== null) problems.push(`${path} must be ["null", T] with default null`);
    });
    expect(problems).toEqual([]);
    const timestamp = schema.fields.find((f) => f.name === 'timestamp');
    expect(timestamp?.type).toEqual({ type: 'long', logicalType: 'timestamp-micros' });
  });

  it('has stable, unique schema ids and consecutive versions', () => {
    expect(siemEventSchemas.map((v) => v.version)).toEqual(siemEventSchemas.map((_, i) => i + 1));
    expect(new Set(siemEventSchemas.map((v) => v.id)).size).toBe(siemEventSchemas.length);
    expect(siemEventSchemas[0]?.id).toBe(1); // v1 is id 1 forever: consumers and stored messages depend on it
  });

  it('each version is FULL_TRANSITIVE-compatible with all earlier ones', () => {
    for (let i = 1; i < siemEventSchemas.length; i++) {
      const v = siemEventSchemas[i] as (typeof siemEventSchemas)[number];
      expect(fullTransitiveProblems(v.schema, siemEventSchemas.slice(0, i)), v.file).toEqual([]);
    }
  });
});

describe('the compatibility check itself', () => {
  const latest = latestSiemEventSchema.schema as unknown as RecordSchema;
  const history = [{ version: 1, schema: latest }];
  const clone = (): RecordSchema => JSON.parse(JSON.stringify(latest)) as RecordSchema;

  it('accepts adding an optional field with a null default', () => {
    const next = clone();
    next.fields.push({ name: 'tags', type: ['null', { type: 'array', items: 'string' }], default: null, doc: 'ECS tags' });
    expect(fullTransitiveProblems(next, history)).toEqual([]);
  });
  it('rejects adding a required field (old data cannot be read)', () => {
    const next = clone();
    next.fields.push({ name: 'mandatory', type: 'string', doc: 'x' });
    expect(fullTransitiveProblems(next, history).map((p) => p.direction)).toContain('backward');
  });
  it('rejects removing a required field (old readers cannot read new data)', () => {
    const next = clone();
    next.fields = next.fields.filter((f) => f.name !== 'timestamp');
    expect(fullTransitiveProblems(next, history).map((p) => p.direction)).toContain('forward');
  });
  it("rejects changing a field's type", () => {
    const next = clone();
    const msg = next.fields.find((f) => f.name === 'message') as Field;
    msg.type = ['null', 'int'];
    expect(fullTransitiveProblems(next, history).length).toBeGreaterThan(0);
  });
});

describe('Confluent wire format', () => {
  it('frames with magic byte 0 and the big-endian schema id, and round-trips to plain nested JSON', () => {
    const buf = encodeSiemEvent(sample);
    expect(buf[0]).toBe(0);
    expect(buf.readUInt32BE(1)).toBe(latestSiemEventSchema.id);
    expect(schemaIdOf(buf)).toBe(latestSiemEventSchema.id);
    const back = decodeSiemEvent(buf);
    expect(back.event.id).toBe('e-1');
    expect(back.source?.port).toBe(443);
    expect(back.message).toBeNull(); // absent optional fields decode as null, not union wrappers
    expect(back.m365?.fields).toEqual({ 'Parameters.ForwardTo': 'x@y.z' });
    expect(JSON.parse(JSON.stringify(back.user))).toMatchObject({ email: 'a@b.com', target: { email: 'c@d.com' } });
  });

  it('writes a registry-assigned id when given one and decodes it once remembered', () => {
    const buf = encodeSiemEvent(sample, 4242);
    expect(buf.readUInt32BE(1)).toBe(4242);
    expect(() => decodeSiemEvent(buf)).toThrow(/unknown schema id 4242/);
    rememberSchemaId(4242, latestSiemEventSchema.schema);
    expect(decodeSiemEvent(buf).event.id).toBe('e-1');
  });

  it('decodes data written with an older, smaller schema into the latest shape', () => {
    const old = JSON.parse(JSON.stringify(latestSiemEventSchema.schema)) as RecordSchema;
    old.fields = old.fields.filter((f) => f.name !== 'm365' && f.name !== 'rule');
    const oldType = avro.Type.forSchema(old as avro.Schema, { wrapUnions: false });
    rememberSchemaId(777, old);
    const body = oldType.toBuffer({ timestamp: 5, event: { id: 'old', dataset: 'd' }, organization: { id: 'o' } });
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 3, 9]), body]);
    const ev = decodeSiemEvent(framed);
    expect(ev.event.id).toBe('old');
    expect(ev.m365).toBeNull();
  });

  it('rejects unframed input', () => {
    expect(() => decodeSiemEvent(Buffer.from('{"json":true}'))).toThrow(/magic byte/);
  });

  it('toPlainJson drops nulls and renders timestamp-micros as ISO with microseconds', () => {
    const plain = toPlainJson(decodeSiemEvent(encodeSiemEvent(sample)));
    expect(plain.timestamp).toBe('2026-11-20T10:00:00.123456Z');
    expect(plain).not.toHaveProperty('message');
    expect((plain.event as Record<string, unknown>).id).toBe('e-1');
  });
});

describe('schema registry read view', () => {
  const view = schemaRegistryView();
  it('answers the four Confluent read endpoints', () => {
    expect(view.subjects()).toEqual({ status: 200, body: [SIEM_EVENT_SUBJECT] });
    expect(view.versions(SIEM_EVENT_SUBJECT)).toEqual({ status: 200, body: siemEventSchemas.map((v) => v.version) });
    const latest = view.subjectVersion(SIEM_EVENT_SUBJECT, 'latest');
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ subject: SIEM_EVENT_SUBJECT, version: latestSiemEventSchema.version, id: latestSiemEventSchema.id });
    const byId = view.schemaById(String(latestSiemEventSchema.id));
    expect(byId.status).toBe(200);
    expect(JSON.parse((byId.body as { schema: string }).schema)).toEqual(latestSiemEventSchema.schema);
    expect(view.subjectVersion(SIEM_EVENT_SUBJECT, 1).body).toMatchObject({ version: 1, id: 1 });
  });
  it('answers 404 with Confluent error codes for unknown ids, subjects and versions', () => {
    expect(view.schemaById(999)).toMatchObject({ status: 404, body: { error_code: 40403 } });
    expect(view.versions('nope-value')).toMatchObject({ status: 404, body: { error_code: 40401 } });
    expect(view.subjectVersion(SIEM_EVENT_SUBJECT, 99)).toMatchObject({ status: 404, body: { error_code: 40402 } });
    expect(view.subjectVersion(SIEM_EVENT_SUBJECT, 'abc')).toMatchObject({ status: 422 });
  });
  it('exposes the routes as framework-neutral data', () => {
    const routes = schemaRegistryRoutes(view);
    expect(routes.map((r) => r.path)).toEqual(['/schemas/ids/:id', '/subjects', '/subjects/:subject/versions', '/subjects/:subject/versions/:version']);
    expect(routes[3]?.answer({ subject: SIEM_EVENT_SUBJECT, version: 'latest' }).status).toBe(200);
  });
});

describe('compiled encoder', () => {
  it('writes exactly the bytes avsc writes, for every golden and simulated event', async () => {
    const { compileEncoder } = await import('../../schemas/fast-encoder.ts');
    const { parseAvroType } = await import('../../schemas/index.ts');
    const { normalizeValue } = await import('../../normalize/mapper.ts');
    const { goldenCases } = await import('../normalize/golden.ts');
    const { simulatedEnvelopes } = await import('../normalize/simulated-envelopes.ts');
    const encode = compileEncoder(latestSiemEventSchema.schema);
    expect(encode).not.toBeNull();
    const type = parseAvroType(latestSiemEventSchema.schema);
    const inputs = [...goldenCases().map((c) => c.input), ...simulatedEnvelopes(300, 'org-enc').map((e) => JSON.stringify(e))];
    const scratch = Buffer.alloc(1 << 20);
    let compared = 0;
    for (const input of inputs) {
      for (const vendorFields of [false, true]) {
        const out = normalizeValue(input, { vendorFields });
        if (out.kind !== 'ok') continue;
        const end = encode?.(out.value, scratch, 0) ?? -1;
        expect(scratch.subarray(0, end).equals(type.toBuffer(out.value))).toBe(true);
        compared++;
      }
    }
    expect(compared).toBe(inputs.length * 2);
    expect(() => encode?.({ ...sample, source: { port: 'x' } }, scratch, 0)).toThrow(/source\.port/);
    expect(encode?.(sample, Buffer.alloc(10), 0)).toBe(-1); // does not fit: caller grows the buffer
    const withMap = { ...sample, m365: { fields: new Map([['a', 'b']]) } };
    expect(
      decodeSiemEvent(Buffer.concat([Buffer.from([0, 0, 0, 0, latestSiemEventSchema.id]), scratch.subarray(0, encode?.(withMap, scratch, 0))])).m365?.fields,
    ).toEqual({ a: 'b' });
  });
});

describe('compiled encoder edge cases (issue 15: lengths written after the text, room checked per value)', () => {
  const type = parseAvroTypeForTest();
  const texts = [
    '',
    'a',
    'x'.repeat(31),
    'x'.repeat(32),
    'x'.repeat(63),
    'x'.repeat(64),
    'é'.repeat(21),
    'é'.repeat(22),
    `${'x'.repeat(30)}é`,
    '😀'.repeat(40),
    'x'.repeat(2730),
    'é'.repeat(2731),
    '€'.repeat(2731),
    'x'.repeat(8191),
    'x'.repeat(8192),
    'ü'.repeat(70_000),
  ];
  const numbers = [0, 1, -1, 63, 64, -64, -65, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31, 2 ** 52 + 1, -(2 ** 52) - 1, 1_764_000_000_000_000];

  it('writes avsc’s bytes for strings around every length-prefix boundary and for longs beyond 32 bits', async () => {
    const { compileEncoder } = await import('../../schemas/fast-encoder.ts');
    const encode = compileEncoder(latestSiemEventSchema.schema);
    const scratch = Buffer.alloc(1 << 20);
    for (const text of texts) {
      for (const timestamp of numbers) {
        const event: SiemEvent = { ...sample, timestamp, message: text, event: { ...sample.event, original: text, severity: Math.trunc(timestamp / 2 ** 22) } };
        const end = encode?.(event, scratch, 3) ?? -1;
        expect(end).toBeGreaterThan(3);
        expect(scratch.subarray(3, end).equals(type.toBuffer(event)), `${text.length} chars, ${timestamp}`).toBe(true);
      }
    }
  });

  it('writes a lone surrogate as U+FFFD, as Buffer does (avsc would write the surrogate itself)', () => {
    for (const text of ['\ud800 lone', `${'x'.repeat(40)}\udc00`]) {
      expect(decodeSiemEvent(encodeSiemEvent({ ...sample, message: text })).message).toBe(text.replace(/[\ud800-\udfff]/, '\ufffd'));
    }
  });

  it('reports -1 instead of writing past the end, for every target size up to the event', async () => {
    const { compileEncoder } = await import('../../schemas/fast-encoder.ts');
    const encode = compileEncoder(latestSiemEventSchema.schema);
    const event: SiemEvent = { ...sample, message: 'é'.repeat(300), event: { ...sample.event, original: 'x'.repeat(500) } };
    const expected = type.toBuffer(event);
    for (let size = 0; size < expected.length + 1200; size += 7) {
      const target = Buffer.alloc(size + 16, 0xab);
      const end = encode?.(event, target.subarray(0, size), 0) ?? -2;
      if (end >= 0) expect(target.subarray(0, end).equals(expected)).toBe(true);
      // Never a byte beyond the target it was given.
      expect(target.subarray(size).every((b) => b === 0xab)).toBe(true);
    }
  });

  it('hands out events as separate slices: later encodes never change earlier ones, also across slabs and for events larger than a slab', () => {
    const events: SiemEvent[] = [];
    for (let i = 0; i < 400; i++) {
      const size = i === 150 ? 600_000 : i % 37 === 0 ? 40_000 : 100 + i;
      events.push({ ...sample, event: { ...sample.event, id: `e-${i}`, original: String(i % 10).repeat(size) } });
    }
    const encoded = events.map((e) => encodeSiemEvent(e));
    const copies = encoded.map((b) => Buffer.from(b));
    for (let i = 0; i < 200; i++) encodeSiemEvent({ ...sample, message: 'z'.repeat(5000) });
    encoded.forEach((buf, i) => {
      expect(buf.equals(copies[i] as Buffer)).toBe(true);
      const back = decodeSiemEvent(buf);
      expect(back.event.id).toBe(`e-${i}`);
      expect(back.event.original).toBe(events[i]?.event.original);
    });
  });
});

function parseAvroTypeForTest(): avro.Type {
  return avro.Type.forSchema(latestSiemEventSchema.schema as avro.Schema, { wrapUnions: false });
}
