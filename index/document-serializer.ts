/**
 * Writes a decoded SIEM event as the JSON `_source` in one pass, compiled once from the Avro schema: null and empty
 * fields left out, `timestamp` written first as `@timestamp`, every `timestamp-micros` field as ISO-8601 text with
 * microseconds. Decoded Avro records carry every optional field (mostly null), so copying them into clean objects
 * before `JSON.stringify` cost more CPU than the indexer's whole Kafka side; this writer allocates only the output.
 */

/**
 * Appends the JSON of a value to `out` and says whether it wrote anything (false for null and for arrays, maps and
 * records left empty, which the caller then drops together with their key). One array of pieces per document,
 * joined once: no intermediate strings per nesting level.
 */
type Writer = (value: unknown, out: string[]) => boolean;

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export const microsToIso = microsFormatter();

/**
 * A microsecond formatter with its own one-second cache: events come in runs within the same second, so the
 * `YYYY-MM-DDTHH:MM:SS.` part is formatted once per second. One per field (event time, ingest time, …), so fields
 * of different times do not evict each other.
 */
export function microsFormatter(): (micros: number) => string {
  let lastSecond = Number.NaN;
  let lastPrefix = '';
  return (micros) => {
    const second = Math.floor(micros / 1_000_000);
    if (second !== lastSecond) {
      const iso = new Date(second * 1000).toISOString();
      if (iso.length !== 24) return slowMicrosToIso(micros); // years outside 0000–9999
      lastSecond = second;
      lastPrefix = iso.slice(0, 20);
    }
    return `${lastPrefix}${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
  };
}

function slowMicrosToIso(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, -1)}${rest < 10 ? '00' : rest < 100 ? '0' : ''}${rest}Z`;
}

interface AvroField {
  name: string;
  type: unknown;
}

/** The scalar kind of a field's non-null type, for inline writing; 'other' for records, arrays, maps, named refs. */
function leafKind(type: unknown): 'string' | 'number' | 'boolean' | 'micros' | 'other' {
  const t = Array.isArray(type) ? type.filter((b) => b !== 'null') : [type];
  if (t.length !== 1) return 'other';
  const only = t[0];
  if (only === 'string') return 'string';
  if (only === 'int' || only === 'long' || only === 'float' || only === 'double') return 'number';
  if (only === 'boolean') return 'boolean';
  if (only && typeof only === 'object' && (only as { logicalType?: string }).logicalType === 'timestamp-micros') return 'micros';
  return 'other';
}

class SchemaCompiler {
  private readonly named = new Map<string, Writer>();

  compile(type: unknown): Writer {
    if (typeof type === 'string') return this.primitive(type);
    if (Array.isArray(type)) {
      const branches = type.filter((t) => t !== 'null');
      if (branches.length !== 1) throw new Error('only ["null", T] unions are supported');
      const inner = this.compile(branches[0]);
      return (v, out) => (v === null || v === undefined ? false : inner(v, out));
    }
    const t = type as { type: unknown; name?: string; namespace?: string; logicalType?: string; fields?: AvroField[]; items?: unknown; values?: unknown };
    if (t.type === 'record') {
      // Register before compiling the fields so a record may refer to itself or be referred to later by name.
      let compiled: Writer = () => false;
      const ref: Writer = (v, out) => compiled(v, out);
      if (t.name) this.register(t.name, t.namespace, ref);
      compiled = this.record(t.fields ?? []);
      return compiled;
    }
    if (t.type === 'array') {
      const item = this.compile(t.items);
      return (v, out) => {
        if (!Array.isArray(v) || v.length === 0) return false;
        const mark = out.length;
        out.push('[');
        let any = false;
        for (const x of v) {
          if (x === null || x === undefined) continue;
          const before = out.length;
          if (any) out.push(',');
          if (item(x, out)) any = true;
          else out.length = before;
        }
        if (!any) {
          out.length = mark;
          return false;
        }
        out.push(']');
        return true;
      };
    }
    if (t.type === 'map') {
      const value = this.compile(t.values);
      return (v, out) => {
        if (v === null || typeof v !== 'object') return false;
        const mark = out.length;
        out.push('{');
        let any = false;
        for (const k in v as Record<string, unknown>) {
          const x = (v as Record<string, unknown>)[k];
          if (x === null || x === undefined) continue;
          const before = out.length;
          out.push(any ? `,${JSON.stringify(k)}:` : `${JSON.stringify(k)}:`);
          if (value(x, out)) any = true;
          else out.length = before;
        }
        if (!any) {
          out.length = mark;
          return false;
        }
        out.push('}');
        return true;
      };
    }
    if (t.logicalType === 'timestamp-micros') {
      return (v, out) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) return false;
        out.push(`"${microsToIso(v)}"`);
        return true;
      };
    }
    if (t.type === 'enum' || t.type === 'fixed') return this.primitive('string');
    return this.compile(t.type);
  }

  private register(name: string, namespace: string | undefined, writer: Writer): void {
    this.named.set(name, writer);
    if (namespace) this.named.set(`${namespace}.${name}`, writer);
  }

  private primitive(name: string): Writer {
    switch (name) {
      case 'string':
        return (v, out) => {
          if (typeof v !== 'string') return false;
          out.push(JSON.stringify(v));
          return true;
        };
      case 'int':
      case 'long':
      case 'float':
      case 'double':
        return (v, out) => {
          if (typeof v === 'number' && Number.isFinite(v)) out.push(String(v));
          else if (typeof v === 'bigint') out.push(v.toString());
          else return false;
          return true;
        };
      case 'boolean':
        return (v, out) => {
          if (v !== true && v !== false) return false;
          out.push(v ? 'true' : 'false');
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

  /**
   * A record writer generated as straight-line code (as avsc does for decoding): one branch per field, scalar leaves
   * written inline, nested records, arrays and maps through their compiled writers. Field names are Avro names
   * (`[A-Za-z_][A-Za-z0-9_]*`) and every literal is embedded with JSON.stringify, so nothing from data reaches the code.
   */
  private record(fields: readonly AvroField[], rename: Record<string, string> = {}): Writer {
    const writers: Writer[] = [];
    const formatters: Array<(v: number) => string> = [];
    const lines: string[] = ['let any = false, b, x;'];
    for (const f of fields) {
      const key = `${JSON.stringify(rename[f.name] ?? f.name)}:`;
      const first = JSON.stringify(`{${key}`);
      const next = JSON.stringify(`,${key}`);
      const head = `any ? ${next} : ${first}`;
      lines.push(`x = o[${JSON.stringify(f.name)}];`, 'if (x !== null && x !== undefined) {');
      switch (leafKind(f.type)) {
        case 'string':
          lines.push(`  if (typeof x === 'string') { out.push(${head}, JSON.stringify(x)); any = true; }`);
          break;
        case 'number':
          lines.push(`  if (typeof x === 'number' ? Number.isFinite(x) : typeof x === 'bigint') { out.push(${head}, String(x)); any = true; }`);
          break;
        case 'boolean':
          lines.push(`  if (x === true || x === false) { out.push(${head}, x ? 'true' : 'false'); any = true; }`);
          break;
        case 'micros':
          formatters.push(microsFormatter());
          lines.push(`  if (typeof x === 'number' && Number.isFinite(x)) { out.push(${head}, '"' + micros[${formatters.length - 1}](x) + '"'); any = true; }`);
          break;
        default:
          writers.push(this.compile(f.type));
          lines.push(`  b = out.length; out.push(${head});`, `  if (w[${writers.length - 1}](x, out)) any = true; else out.length = b;`);
      }
      lines.push('}');
    }
    lines.push('if (!any) return false;', "out.push('}');", 'return true;');
    const factory = new Function('w', 'micros', `return function writeRecord(o, out) {\n${lines.join('\n')}\n};`) as (
      w: Writer[],
      micros: Array<(v: number) => string>,
    ) => (o: Record<string, unknown>, out: string[]) => boolean;
    const write = factory(writers, formatters);
    return (v, out) => (v === null || typeof v !== 'object' ? false : write(v as Record<string, unknown>, out));
  }

  /** The top-level event: `timestamp` becomes `@timestamp` (Avro names cannot start with @) and comes first. */
  root(schema: { fields?: AvroField[] }): Writer {
    const fields = schema.fields ?? [];
    const ordered = [...fields.filter((f) => f.name === 'timestamp'), ...fields.filter((f) => f.name !== 'timestamp')];
    return this.record(ordered, { timestamp: '@timestamp' });
  }
}

/** Compiles the `_source` writer for an Avro SIEM event schema (parsed JSON). */
export function compileDocumentWriter(schema: unknown): (event: Record<string, unknown>) => string {
  const writer = new SchemaCompiler().root(schema as { fields?: AvroField[] });
  // One scratch array reused for every document (writing is synchronous), so it does not regrow per event.
  const out: string[] = [];
  return (event) => {
    out.length = 0;
    const json = writer(event, out) ? out.join('') : '{}';
    out.length = 0;
    return json;
  };
}
