/**
 * Avro binary → OpenSearch `_source` JSON bytes in one pass, compiled from the latest SIEM event schema: no decoded
 * objects, no intermediate strings. Decoding every event into objects and serializing them again was the largest
 * CPU cost of the indexer (and the indexer shares its cores with OpenSearch on small nodes). Output rules are those
 * of the object path (document-serializer.ts): nulls and empty records/arrays/maps left out, `timestamp` written
 * first as `@timestamp`, `timestamp-micros` fields as ISO-8601 text with microseconds. It also captures the three
 * values the indexer needs (organization.id, event.id, the event time). Anything unexpected (an older writer schema,
 * truncated bytes) makes it return null and the caller takes the object path, which dead-letters what is invalid.
 */
import { microsFormatter } from './document-serializer.ts';

export interface TranscodedEvent {
  readonly source: Buffer;
  readonly orgId: string | null;
  readonly eventId: string | null;
  /** Event time in microseconds since the epoch. */
  readonly timestampMicros: number;
}

class TruncatedError extends Error {}

/** Reads Avro binary and writes JSON into a growing scratch buffer with rollback (for empty records). */
class Cursor {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  out: Buffer = Buffer.allocUnsafe(64 * 1024);
  len = 0;
  orgId: string | null = null;
  eventId: string | null = null;
  timestamp = Number.NaN;

  ensure(n: number): void {
    if (this.len + n <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.len + n));
    this.out.copy(bigger, 0, 0, this.len);
    this.out = bigger;
  }

  /** ASCII text (numbers, ISO times, punctuation): a JS loop beats Buffer#write's native call for short strings. */
  writeAscii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const out = this.out;
    let len = this.len;
    for (let i = 0; i < n; i++) out[len++] = s.charCodeAt(i);
    this.len = len;
  }

  /** Pre-encoded bytes (field keys). */
  writeRaw(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    const out = this.out;
    let len = this.len;
    for (let i = 0; i < n; i++) out[len++] = b[i]!;
    this.len = len;
  }

  writeBytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.out, this.len);
    this.len += b.length;
  }

  readLong(): number {
    if (this.pos < this.end) {
      const first = this.buf[this.pos]!;
      if (first < 0x80) {
        // one-byte varint (branch indexes, small counts and lengths): the common case
        this.pos++;
        return first & 1 ? -(first + 1) / 2 : first / 2;
      }
    }
    let n = 0;
    let shift = 1;
    let b: number;
    do {
      if (this.pos >= this.end) throw new TruncatedError();
      b = this.buf[this.pos++]!;
      n += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    // Beyond 2^53 a number loses precision: avsc refuses such longs, so leave them to it (and to the DLQ).
    if (n > Number.MAX_SAFE_INTEGER) throw new TruncatedError();
    // zig-zag (exact for |n| <= 2^53)
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  readDouble(): number {
    if (this.pos + 8 > this.end) throw new TruncatedError();
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  readFloat(): number {
    if (this.pos + 4 > this.end) throw new TruncatedError();
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  readBoolean(): boolean {
    if (this.pos >= this.end) throw new TruncatedError();
    return this.buf[this.pos++] === 1;
  }

  /** Writes an Avro string as a JSON string; raw UTF-8 bytes when nothing needs escaping. */
  writeString(): void {
    const n = this.readLong();
    if (n < 0 || this.pos + n > this.end) throw new TruncatedError();
    const start = this.pos;
    this.pos += n;
    let clean = true;
    for (let i = start; i < start + n; i++) {
      const c = this.buf[i]!;
      if (c < 0x20 || c === 0x22 || c === 0x5c) {
        clean = false;
        break;
      }
    }
    if (clean) {
      this.ensure(n + 2);
      const out = this.out;
      let len = this.len;
      out[len++] = 0x22;
      if (n < 64) {
        const buf = this.buf;
        for (let i = start; i < start + n; i++) out[len++] = buf[i]!;
      } else {
        this.buf.copy(out, len, start, start + n);
        len += n;
      }
      out[len++] = 0x22;
      this.len = len;
    } else {
      const text = JSON.stringify(this.buf.toString('utf8', start, start + n));
      const size = Buffer.byteLength(text);
      this.ensure(size);
      this.len += this.out.write(text, this.len);
    }
  }

  readStringValue(): string {
    const n = this.readLong();
    if (n < 0 || this.pos + n > this.end) throw new TruncatedError();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  skipString(): void {
    const n = this.readLong();
    if (n < 0 || this.pos + n > this.end) throw new TruncatedError();
    this.pos += n;
  }
}

/** Writes the JSON of one value at the cursor; false when it wrote nothing (null, empty). */
type Step = (c: Cursor) => boolean;

interface AvroField {
  name: string;
  type: unknown;
}

/** Paths whose values the indexer needs, captured while transcoding. */
type Capture = 'orgId' | 'eventId' | 'timestamp' | null;

class TranscoderCompiler {
  private readonly named = new Map<string, Step>();

  compile(type: unknown, capture: Capture = null, path = ''): Step {
    if (typeof type === 'string') return this.primitive(type, capture);
    if (Array.isArray(type)) {
      if (type.length !== 2 || type[0] !== 'null') throw new Error(`${path}: only ["null", T] unions are supported`);
      const inner = this.compile(type[1], capture, path);
      return (c) => {
        const branch = c.readLong();
        if (branch === 0) return false;
        if (branch !== 1) throw new TruncatedError();
        return inner(c);
      };
    }
    const t = type as { type: unknown; name?: string; namespace?: string; logicalType?: string; fields?: AvroField[]; items?: unknown; values?: unknown };
    if (t.type === 'record') {
      let compiled: Step = () => false;
      const ref: Step = (c) => compiled(c);
      if (t.name) {
        this.named.set(t.name, ref);
        if (t.namespace) this.named.set(`${t.namespace}.${t.name}`, ref);
      }
      compiled = this.record(t.fields ?? [], path);
      return compiled;
    }
    if (t.type === 'array') {
      const item = this.compile(t.items, null, `${path}[]`);
      return (c) => {
        const mark = c.len;
        c.writeAscii('[');
        let any = false;
        for (;;) {
          let count = c.readLong();
          if (count === 0) break;
          if (count < 0) {
            count = -count;
            c.readLong(); // block size in bytes
          }
          for (let i = 0; i < count; i++) {
            const before = c.len;
            if (any) c.writeAscii(',');
            if (item(c)) any = true;
            else c.len = before;
          }
        }
        if (!any) {
          c.len = mark;
          return false;
        }
        c.writeAscii(']');
        return true;
      };
    }
    if (t.type === 'map') {
      const value = this.compile(t.values, null, `${path}{}`);
      return (c) => {
        const mark = c.len;
        c.writeAscii('{');
        let any = false;
        for (;;) {
          let count = c.readLong();
          if (count === 0) break;
          if (count < 0) {
            count = -count;
            c.readLong();
          }
          for (let i = 0; i < count; i++) {
            const before = c.len;
            if (any) c.writeAscii(',');
            c.writeString();
            c.writeAscii(':');
            if (value(c)) any = true;
            else c.len = before;
          }
        }
        if (!any) {
          c.len = mark;
          return false;
        }
        c.writeAscii('}');
        return true;
      };
    }
    if (t.type === 'long' && t.logicalType === 'timestamp-micros') {
      const microsToIso = microsFormatter();
      return (c) => {
        const v = c.readLong();
        if (capture === 'timestamp') c.timestamp = v;
        c.writeAscii(`"${microsToIso(v)}"`);
        return true;
      };
    }
    if (typeof t.type === 'string' && !t.logicalType) return this.primitive(t.type, capture);
    throw new Error(`${path}: unsupported Avro type ${JSON.stringify(type).slice(0, 80)}`);
  }

  private primitive(name: string, capture: Capture): Step {
    switch (name) {
      case 'string':
        if (capture === 'orgId' || capture === 'eventId') {
          return (c) => {
            const mark = c.pos;
            const value = c.readStringValue();
            if (capture === 'orgId') c.orgId = value;
            else c.eventId = value;
            c.pos = mark;
            c.writeString();
            return true;
          };
        }
        return (c) => {
          c.writeString();
          return true;
        };
      case 'int':
      case 'long':
        return (c) => {
          c.writeAscii(String(c.readLong()));
          return true;
        };
      case 'double':
      case 'float':
        return (c) => {
          const v = name === 'double' ? c.readDouble() : c.readFloat();
          if (!Number.isFinite(v)) return false;
          c.writeAscii(String(v));
          return true;
        };
      case 'boolean':
        return (c) => {
          c.writeAscii(c.readBoolean() ? 'true' : 'false');
          return true;
        };
      case 'null':
        return () => false;
      default: {
        const ref = this.named.get(name) ?? [...this.named.entries()].find(([k]) => k.endsWith(`.${name}`))?.[1];
        if (!ref) throw new Error(`unknown Avro type ${name}`);
        return ref;
      }
    }
  }

  private record(fields: readonly AvroField[], path: string, rename: Record<string, string> = {}): Step {
    const steps = fields.map((f) => {
      const fieldPath = path ? `${path}.${f.name}` : f.name;
      const capture: Capture =
        fieldPath === 'organization.id' ? 'orgId' : fieldPath === 'event.id' ? 'eventId' : fieldPath === 'timestamp' ? 'timestamp' : null;
      const key = `${JSON.stringify(rename[f.name] ?? f.name)}:`;
      // ["null", T]: the branch is read before the key is written, so absent fields (most of them) cost one byte read.
      const nullable = Array.isArray(f.type) && f.type.length === 2 && f.type[0] === 'null';
      const step = this.compile(nullable ? (f.type as unknown[])[1] : f.type, capture, fieldPath);
      return { first: Buffer.from(`{${key}`), next: Buffer.from(`,${key}`), nullable, step };
    });
    return (c) => {
      const mark = c.len;
      let any = false;
      for (const s of steps) {
        if (s.nullable) {
          // union branch index as a zig-zag varint: 0x00 = null, 0x02 = the value
          if (c.pos >= c.end) throw new TruncatedError();
          const branch = c.buf[c.pos++];
          if (branch === 0) continue;
          if (branch !== 2) throw new TruncatedError();
        }
        const before = c.len;
        c.writeRaw(any ? s.next : s.first);
        if (s.step(c)) any = true;
        else c.len = before;
      }
      if (!any) {
        c.len = mark;
        return false;
      }
      c.writeAscii('}');
      return true;
    };
  }

  root(schema: { fields?: AvroField[] }): Step {
    const fields = schema.fields ?? [];
    // JSON key order follows the Avro field order; `timestamp` is the schema's first field, written as @timestamp.
    return this.record(fields, '', { timestamp: '@timestamp' });
  }
}

/**
 * Compiles a transcoder for Confluent-framed values written with `schemaId` and `schema`. It returns null for a
 * value framed with another schema id or that is not valid for the schema (the caller falls back to decoding).
 */
export function compileAvroJsonTranscoder(schema: unknown, schemaId: number): (value: Buffer) => TranscodedEvent | null {
  const step = new TranscoderCompiler().root(schema as { fields?: AvroField[] });
  const cursor = new Cursor();
  return (value) => {
    if (value.length < 5 || value[0] !== 0 || value.readUInt32BE(1) !== schemaId) return null;
    cursor.buf = value;
    cursor.pos = 5;
    cursor.end = value.length;
    cursor.len = 0;
    cursor.orgId = null;
    cursor.eventId = null;
    cursor.timestamp = Number.NaN;
    try {
      if (!step(cursor) || cursor.pos !== cursor.end) return null;
    } catch (error) {
      if (error instanceof TruncatedError || error instanceof RangeError) return null;
      throw error;
    }
    return {
      source: Buffer.from(cursor.out.subarray(0, cursor.len)),
      orgId: cursor.orgId,
      eventId: cursor.eventId,
      timestampMicros: cursor.timestamp,
    };
  };
}
