/**
 * Avro binary → OpenSearch `_source` JSON bytes in one pass, compiled from the latest SIEM event schema: no decoded
 * objects, no intermediate strings. Decoding every event into objects and serializing them again was the largest
 * CPU cost of the indexer, and on small nodes the indexer shares its cores with OpenSearch: every microsecond it
 * spends per event is taken from OpenSearch (docs/decisions/0045).
 *
 * Output rules are those of the object path (document-serializer.ts): nulls and empty records/arrays/maps left out,
 * `timestamp` written first as `@timestamp`, `timestamp-micros` fields as ISO-8601 text with microseconds, strings
 * escaped exactly as JSON.stringify does. It also captures the three values the indexer needs (organization.id,
 * event.id, the event time). Anything unexpected (an older writer schema, truncated bytes, invalid UTF-8) makes it
 * return null or take the object path's own escaping, so the caller decodes and dead-letters what is invalid.
 *
 * Each record type becomes one generated function of straight-line code (as avsc does for its decoders): a branch
 * per field, scalar leaves inline, arrays and maps as inline loops, nested records through a call site that only
 * ever calls one function. The generated code contains only indices and variable names; every key is pre-encoded
 * JSON bytes passed in a table, so nothing from the schema or the data becomes code.
 */
import { isUtf8 } from 'node:buffer';
import { microsFormatter } from './document-serializer.ts';
import { VENDOR_RECORD_KEY, isJsonObjectText } from './vendor-record.ts';

export interface TranscodedEvent {
  /** The `_source` bytes: a view into an arena shared with the documents transcoded before and after it. */
  readonly source: Buffer;
  readonly orgId: string | null;
  readonly eventId: string | null;
  /** Event time in microseconds since the epoch. */
  readonly timestampMicros: number;
}

class TruncatedError extends Error {}
/** One instance: a malformed value is an expected outcome here, not worth a stack trace. */
const TRUNCATED = new TruncatedError('Avro value truncated or not of this schema');

/**
 * Documents are written one after another into an arena and handed out as views, so no per-document copy or
 * allocation is made; a new arena starts when fewer than ARENA_MIN_FREE bytes are left. An arena lives as long as
 * any document in it (until its batch is written).
 */
const ARENA_BYTES = 1 << 20;
const ARENA_MIN_FREE = 64 * 1024;

/** Per `timestamp-micros` field: the `"YYYY-MM-DDTHH:MM:SS.` bytes of the last second seen (events come in runs). */
interface MicrosField {
  second: number;
  prefix: Buffer;
  /** The object path's formatter, for years outside 0000–9999. */
  readonly fallback: (micros: number) => string;
}

const HEX = '0123456789abcdef';
/** JSON.stringify's short escapes for control characters. */
const SHORT_ESCAPES: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };

/** Reads Avro binary and writes JSON into the arena. Saved positions are relative to the document's start. */
class Cursor {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  out: Buffer = Buffer.allocUnsafe(ARENA_BYTES);
  len = 0;
  /** Where the current document starts in `out`. */
  start = 0;
  orgId: string | null = null;
  eventId: string | null = null;
  timestamp = Number.NaN;
  /** Where the bytes of `event.original` are in the input (-1: none), for the vendor record splice. */
  originalFrom = -1;
  originalTo = -1;

  begin(value: Buffer, from: number): void {
    this.buf = value;
    this.pos = from;
    this.end = value.length;
    if (this.out.length - this.len < ARENA_MIN_FREE) {
      this.out = Buffer.allocUnsafe(ARENA_BYTES);
      this.len = 0;
    }
    this.start = this.len;
    this.orgId = null;
    this.eventId = null;
    this.timestamp = Number.NaN;
    this.originalFrom = -1;
    this.originalTo = -1;
  }

  /** Remembers where the next Avro string's bytes are (it is written by `str()` right after). */
  markOriginal(): void {
    const mark = this.pos;
    const n = this.long();
    if (n < 0 || this.pos + n > this.end) throw TRUNCATED;
    this.originalFrom = this.pos;
    this.originalTo = this.pos + n;
    this.pos = mark;
  }

  /**
   * Appends `"m365.record": <event.original's JSON>` as the document's last member when that text is one valid JSON
   * object (index/vendor-record.ts): the bytes are copied, never parsed.
   */
  spliceVendorRecord(): void {
    const from = this.originalFrom;
    const to = this.originalTo;
    if (from < 0 || !isJsonObjectText(this.buf, from, to)) return;
    this.len--; // the document's closing brace
    this.raw(VENDOR_RECORD_KEY);
    const n = to - from;
    this.ensure(n + 1);
    this.buf.copy(this.out, this.len, from, to);
    this.len += n;
    this.out[this.len++] = 0x7d;
  }

  /** The finished document (a view; the next one is written after it). */
  finish(): Buffer {
    return this.out.subarray(this.start, this.len);
  }

  /** Gives the space of an unfinished document back. */
  abandon(): void {
    this.len = this.start;
  }

  /** Makes room for n more bytes; a document that outgrows its arena moves to the start of a bigger one. */
  ensure(n: number): void {
    if (this.len + n <= this.out.length) return;
    const used = this.len - this.start;
    const next = Buffer.allocUnsafe(Math.max(ARENA_BYTES, 2 * (used + n)));
    this.out.copy(next, 0, this.start, this.len);
    this.out = next;
    this.start = 0;
    this.len = used;
  }

  byte(b: number): void {
    if (this.len >= this.out.length) this.ensure(1);
    this.out[this.len++] = b;
  }

  /** Pre-encoded bytes (keys, punctuation). */
  raw(bytes: Buffer): void {
    const n = bytes.length;
    this.ensure(n);
    const out = this.out;
    let len = this.len;
    for (let i = 0; i < n; i++) out[len++] = bytes[i]!;
    this.len = len;
  }

  /** ASCII text (numbers): a JS loop beats Buffer#write's native call for short strings. */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const out = this.out;
    let len = this.len;
    for (let i = 0; i < n; i++) out[len++] = s.charCodeAt(i);
    this.len = len;
  }

  integer(v: number): void {
    if (v >= 0 && v < 10) this.byte(0x30 + v);
    else this.ascii(String(v));
  }

  long(): number {
    const first = this.buf[this.pos];
    if (first !== undefined && first < 0x80 && this.pos < this.end) {
      // one-byte varint (branch indexes, small counts and lengths): the common case
      this.pos++;
      return first & 1 ? -(first + 1) / 2 : first / 2;
    }
    let n = 0;
    let shift = 1;
    let b: number;
    do {
      if (this.pos >= this.end) throw TRUNCATED;
      b = this.buf[this.pos++]!;
      n += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    // Beyond 2^53 a number loses precision: avsc refuses such longs, so leave them to it (and to the DLQ).
    if (n > Number.MAX_SAFE_INTEGER) throw TRUNCATED;
    // zig-zag (exact for |n| <= 2^53)
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw TRUNCATED;
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    if (this.pos + 4 > this.end) throw TRUNCATED;
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  bool(): void {
    if (this.pos >= this.end) throw TRUNCATED;
    this.raw(this.buf[this.pos++] === 1 ? TRUE : FALSE);
  }

  /** A finite double or float as JSON; false (nothing written) for NaN and ±Infinity, which JSON cannot hold. */
  number(v: number): boolean {
    if (!Number.isFinite(v)) return false;
    this.ascii(String(v));
    return true;
  }

  /** The next Avro string as a JS value, without moving past it (captured values are written afterwards). */
  peekString(): string {
    const mark = this.pos;
    const n = this.long();
    if (n < 0 || this.pos + n > this.end) throw TRUNCATED;
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos = mark;
    return s;
  }

  /**
   * An Avro string as a JSON string, bytes copied as they are and escaped as JSON.stringify does (`\"`, `\\`,
   * `\b \t \n \f \r`, `\u00xx` for other control characters). Invalid UTF-8 goes through the decoder and
   * JSON.stringify, so the replacement characters are those of the object path.
   */
  str(): void {
    const n = this.long();
    if (n < 0 || this.pos + n > this.end) throw TRUNCATED;
    const buf = this.buf;
    const from = this.pos;
    const stop = from + n;
    this.pos = stop;
    this.ensure(n + 2);
    const out = this.out;
    const opened = this.len;
    let len = opened;
    out[len++] = 0x22;
    let seen = 0;
    let i = from;
    for (; i < stop; i++) {
      const b = buf[i]!;
      if (b < 0x20 || b === 0x22 || b === 0x5c) break;
      seen |= b;
      out[len++] = b;
    }
    this.len = len;
    if (i < stop) {
      for (let k = i; k < stop; k++) seen |= buf[k]!;
      if (seen & 0x80 && !isUtf8(buf.subarray(from, stop))) return this.decodedString(opened, from, stop);
      return this.escapeRest(i, stop);
    }
    if (seen & 0x80 && !isUtf8(buf.subarray(from, stop))) return this.decodedString(opened, from, stop);
    out[this.len++] = 0x22;
  }

  private escapeRest(from: number, stop: number): void {
    this.ensure(6 * (stop - from) + 1);
    const buf = this.buf;
    const out = this.out;
    let len = this.len;
    for (let i = from; i < stop; i++) {
      const b = buf[i]!;
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
        out[len++] = b;
      } else if (b === 0x22 || b === 0x5c) {
        out[len++] = 0x5c;
        out[len++] = b;
      } else if (SHORT_ESCAPES[b] !== undefined) {
        out[len++] = 0x5c;
        out[len++] = SHORT_ESCAPES[b];
      } else {
        out[len++] = 0x5c;
        out[len++] = 0x75; // u
        out[len++] = 0x30;
        out[len++] = 0x30;
        out[len++] = HEX.charCodeAt(b >> 4);
        out[len++] = HEX.charCodeAt(b & 15);
      }
    }
    out[len++] = 0x22;
    this.len = len;
  }

  private decodedString(opened: number, from: number, stop: number): void {
    this.len = opened;
    const text = JSON.stringify(this.buf.toString('utf8', from, stop));
    this.ensure(Buffer.byteLength(text));
    this.len += this.out.write(text, this.len);
  }

  /** `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` for a `timestamp-micros` value. */
  micros(v: number, field: MicrosField): void {
    const second = Math.floor(v / 1_000_000);
    if (second !== field.second) {
      const iso = new Date(second * 1000).toISOString();
      if (iso.length !== 24) return this.ascii(`"${field.fallback(v)}"`);
      field.second = second;
      field.prefix = Buffer.from(`"${iso.slice(0, 20)}`);
    }
    this.raw(field.prefix);
    this.ensure(8);
    const out = this.out;
    let frac = v - second * 1_000_000;
    for (let d = this.len + 5; d >= this.len; d--) {
      const digit = frac % 10;
      out[d] = 0x30 + digit;
      frac = (frac - digit) / 10;
    }
    out[this.len + 6] = 0x5a; // Z
    out[this.len + 7] = 0x22;
    this.len += 8;
  }
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

interface AvroField {
  name: string;
  type: unknown;
}

type AvroType = { type: unknown; name?: string; namespace?: string; logicalType?: string; fields?: AvroField[]; items?: unknown; values?: unknown };

/** Paths whose values the indexer needs, captured while transcoding. */
type Capture = 'orgId' | 'eventId' | 'timestamp' | 'original' | null;

type RecordFn = (c: Cursor) => boolean;

/** The tables a generated function reads: key bytes, record functions, micros fields. */
interface Tables {
  keys: Buffer[];
  records: RecordFn[];
  micros: MicrosField[];
}

/** Code for one record function under construction: its statements and the locals they declare. */
class FunctionBody {
  readonly lines: string[] = [];
  private readonly locals: string[] = [];

  local(prefix: string): string {
    const name = `${prefix}${this.locals.length}`;
    this.locals.push(name);
    return name;
  }

  source(name: string): string {
    const declared = this.locals.length > 0 ? `let ${this.locals.join(', ')};\n` : '';
    return `return function ${name}(c) {\nconst buf = c.buf;\n${declared}${this.lines.join('\n')}\n};`;
  }
}

class TranscoderCompiler {
  private readonly tables: Tables = { keys: [], records: [], micros: [] };
  /** Named record types → their index in `tables.records` (so references, recursive ones too, share one function). */
  private readonly named = new Map<string, number>();

  root(schema: { fields?: AvroField[] }): RecordFn {
    // JSON key order follows the Avro field order; `timestamp` is the schema's first field, written as @timestamp.
    const index = this.record(schema.fields ?? [], '', { timestamp: '@timestamp' });
    return this.tables.records[index]!;
  }

  private key(bytes: string): string {
    this.tables.keys.push(Buffer.from(bytes));
    return `K[${this.tables.keys.length - 1}]`;
  }

  /** Compiles a record into its own function; returns its index in the record table. */
  private record(fields: readonly AvroField[], path: string, rename: Record<string, string> = {}, name?: string[]): number {
    const index = this.tables.records.length;
    this.tables.records.push(() => false); // placeholder: a recursive reference resolves through the table at run time
    for (const n of name ?? []) this.named.set(n, index);
    const body = new FunctionBody();
    const lines = body.lines;
    const any = body.local('any');
    const branch = body.local('br');
    lines.push(`${any} = false;`);
    for (const f of fields) {
      const fieldPath = path ? `${path}.${f.name}` : f.name;
      const capture: Capture =
        fieldPath === 'organization.id'
          ? 'orgId'
          : fieldPath === 'event.id'
            ? 'eventId'
            : fieldPath === 'timestamp'
              ? 'timestamp'
              : fieldPath === 'event.original'
                ? 'original'
                : null;
      const label = JSON.stringify(rename[f.name] ?? f.name);
      const first = this.key(`{${label}:`);
      const next = this.key(`,${label}:`);
      // ["null", T]: the branch is read before the key is written, so absent fields (most of them) cost one byte read.
      const nullable = Array.isArray(f.type) && f.type.length === 2 && f.type[0] === 'null';
      const type = nullable ? (f.type as unknown[])[1] : f.type;
      const value: string[] = [];
      const ok = this.value(type, capture, fieldPath, body, value);
      const field: string[] = [];
      if (ok === null) {
        field.push(`c.raw(${any} ? ${next} : ${first});`, ...value, `${any} = true;`);
      } else {
        const at = body.local('at');
        field.push(`${at} = c.len - c.start;`, `c.raw(${any} ? ${next} : ${first});`, ...value);
        field.push(`if (${ok}) ${any} = true; else c.len = c.start + ${at};`);
      }
      if (nullable) {
        // union branch index as a zig-zag varint: 0x00 = null, 0x02 = the value (undefined past the end: truncated)
        lines.push(
          `${branch} = buf[c.pos++];`,
          `if (${branch} === 2) {`,
          ...field.map((l) => `  ${l}`),
          `} else if (${branch} !== 0 || c.pos > c.end) throw T;`,
        );
      } else {
        lines.push(...field);
      }
    }
    lines.push(`if (!${any}) return false;`, 'c.byte(0x7d);', 'return true;');
    const factory = new Function('K', 'R', 'M', 'T', body.source(`record${index}`)) as (k: Buffer[], r: RecordFn[], m: MicrosField[], t: Error) => RecordFn;
    this.tables.records[index] = factory(this.tables.keys, this.tables.records, this.tables.micros, TRUNCATED);
    return index;
  }

  /**
   * Appends code that writes one value of `type`. Returns the name of a local that says whether anything was
   * written, or null when the type always writes something (strings, integers, booleans, times).
   */
  private value(type: unknown, capture: Capture, path: string, body: FunctionBody, lines: string[]): string | null {
    if (typeof type === 'string') return this.primitive(type, capture, path, body, lines);
    if (Array.isArray(type)) {
      if (type.length !== 2 || type[0] !== 'null') throw new Error(`${path}: only ["null", T] unions are supported`);
      const ok = body.local('ok');
      const inner: string[] = [];
      const innerOk = this.value(type[1], capture, path, body, inner);
      lines.push(`switch (c.long()) {`, `  case 0: ${ok} = false; break;`, `  case 1:`, ...inner.map((l) => `    ${l}`));
      lines.push(`    ${ok} = ${innerOk ?? 'true'};`, `    break;`, `  default: throw T;`, `}`);
      return ok;
    }
    const t = type as AvroType;
    if (t.type === 'record') {
      const names = t.name ? [t.name, ...(t.namespace ? [`${t.namespace}.${t.name}`] : [])] : [];
      const index = this.record(t.fields ?? [], path, {}, names);
      const ok = body.local('ok');
      lines.push(`${ok} = R[${index}](c);`);
      return ok;
    }
    if (t.type === 'array' || t.type === 'map') return this.collection(t, path, body, lines);
    if (t.type === 'long' && t.logicalType === 'timestamp-micros') {
      this.tables.micros.push({ second: Number.NaN, prefix: Buffer.alloc(0), fallback: microsFormatter() });
      const v = body.local('v');
      lines.push(`${v} = c.long();`);
      if (capture === 'timestamp') lines.push(`c.timestamp = ${v};`);
      lines.push(`c.micros(${v}, M[${this.tables.micros.length - 1}]);`);
      return null;
    }
    if (typeof t.type === 'string' && !t.logicalType) return this.primitive(t.type, capture, path, body, lines);
    throw new Error(`${path}: unsupported Avro type ${JSON.stringify(type).slice(0, 80)}`);
  }

  /** Arrays and maps: Avro blocks (a negative count is followed by the block's byte size), empty ones left out. */
  private collection(t: AvroType, path: string, body: FunctionBody, lines: string[]): string {
    const isMap = t.type === 'map';
    const ok = body.local('ok');
    const at = body.local('at');
    const count = body.local('n');
    const i = body.local('i');
    const item = body.local('at');
    const written = body.local('any');
    const inner: string[] = [];
    const innerOk = this.value(isMap ? t.values : t.items, null, `${path}${isMap ? '{}' : '[]'}`, body, inner);
    lines.push(
      `${at} = c.len - c.start;`,
      `c.byte(${isMap ? '0x7b' : '0x5b'});`,
      `${written} = false;`,
      `for (;;) {`,
      `  ${count} = c.long();`,
      `  if (${count} === 0) break;`,
      `  if (${count} < 0) { ${count} = -${count}; c.long(); }`,
      // every item takes at least one byte (a null item is a branch byte): a count beyond the bytes left is garbage
      `  if (${count} > c.end - c.pos) throw T;`,
      `  for (${i} = 0; ${i} < ${count}; ${i}++) {`,
      `    ${item} = c.len - c.start;`,
      `    if (${written}) c.byte(0x2c);`,
      ...(isMap ? ['    c.str();', '    c.byte(0x3a);'] : []),
      ...inner.map((l) => `    ${l}`),
      innerOk === null ? `    ${written} = true;` : `    if (${innerOk}) ${written} = true; else c.len = c.start + ${item};`,
      `  }`,
      `}`,
      `if (${written}) { c.byte(${isMap ? '0x7d' : '0x5d'}); ${ok} = true; } else { c.len = c.start + ${at}; ${ok} = false; }`,
    );
    return ok;
  }

  private primitive(name: string, capture: Capture, path: string, body: FunctionBody, lines: string[]): string | null {
    switch (name) {
      case 'string':
        if (capture === 'orgId') lines.push('c.orgId = c.peekString();');
        if (capture === 'eventId') lines.push('c.eventId = c.peekString();');
        if (capture === 'original') lines.push('c.markOriginal();');
        lines.push('c.str();');
        return null;
      case 'int':
      case 'long':
        lines.push('c.integer(c.long());');
        return null;
      case 'double':
      case 'float': {
        const ok = body.local('ok');
        lines.push(`${ok} = c.number(c.${name}());`);
        return ok;
      }
      case 'boolean':
        lines.push('c.bool();');
        return null;
      case 'null': {
        const ok = body.local('ok');
        lines.push(`${ok} = false;`);
        return ok;
      }
      default: {
        const index = this.named.get(name) ?? [...this.named.entries()].find(([k]) => k.endsWith(`.${name}`))?.[1];
        if (index === undefined) throw new Error(`${path}: unknown Avro type ${name}`);
        const ok = body.local('ok');
        lines.push(`${ok} = R[${index}](c);`);
        return ok;
      }
    }
  }
}

/**
 * Compiles a transcoder for Confluent-framed values written with `schemaId` and `schema`. It returns null for a
 * value framed with another schema id or that is not valid for the schema (the caller falls back to decoding).
 */
export function compileAvroJsonTranscoder(schema: unknown, schemaId: number): (value: Buffer) => TranscodedEvent | null {
  const root = new TranscoderCompiler().root(schema as { fields?: AvroField[] });
  const cursor = new Cursor();
  return (value) => {
    if (value.length < 5 || value[0] !== 0 || value.readUInt32BE(1) !== schemaId) return null;
    cursor.begin(value, 5);
    try {
      if (!root(cursor) || cursor.pos !== cursor.end) {
        cursor.abandon();
        return null;
      }
      cursor.spliceVendorRecord();
    } catch (error) {
      cursor.abandon();
      if (error instanceof TruncatedError || error instanceof RangeError) return null;
      throw error;
    }
    return { source: cursor.finish(), orgId: cursor.orgId, eventId: cursor.eventId, timestampMicros: cursor.timestamp };
  };
}
