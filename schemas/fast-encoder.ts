/**
 * A compiled Avro binary encoder for the SIEM event schema: the normalizer encodes every event, and avsc's generic
 * writer (union dispatch per field, map writes over dictionary-mode objects) was the largest cost of the hot path.
 * The encoder is generated once per schema from its JSON and produces exactly avsc's bytes (tested byte for byte);
 * it supports the types the schema uses (null, boolean, int, long, double, string, record, array, map and
 * ["null", T] unions) and refuses to compile anything else, so a future schema falls back to avsc.
 * Maps may be given as plain objects or as `Map<string, string>`.
 */

type AvroSchema = unknown;

export class EncodeTypeError extends Error {
  constructor(readonly path: string) {
    super(`invalid value at ${path}`);
    this.name = 'EncodeTypeError';
  }
}

class Overflow extends Error {}

interface Emitter {
  names: Map<string, string>;
  functions: string[];
  counter: number;
}

function primitive(t: unknown): string | null {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && !Array.isArray(t)) {
    const o = t as { type?: unknown; logicalType?: unknown };
    if (typeof o.type === 'string' && ['null', 'boolean', 'int', 'long', 'double', 'string'].includes(o.type)) return o.type;
  }
  return null;
}

/** Emits code that writes value expression `v` of type `t`; `path` names the field in errors. */
function emit(e: Emitter, t: AvroSchema, v: string, path: string, namespace: string): string {
  const p = JSON.stringify(path);
  const prim = primitive(t);
  switch (prim) {
    case 'null':
      return `if (${v} !== null && ${v} !== undefined) fail(${p});`;
    case 'boolean':
      return `if (typeof ${v} !== 'boolean') fail(${p}); ensure(1); buf[pos++] = ${v} ? 1 : 0;`;
    case 'int':
      return `if (!Number.isInteger(${v}) || ${v} > 2147483647 || ${v} < -2147483648) fail(${p}); writeLong(${v});`;
    case 'long':
      return `if (!Number.isSafeInteger(${v})) fail(${p}); writeLong(${v});`;
    case 'double':
      return `if (typeof ${v} !== 'number') fail(${p}); ensure(8); buf.writeDoubleLE(${v}, pos); pos += 8;`;
    case 'string':
      return `if (typeof ${v} !== 'string') fail(${p}); writeString(${v});`;
  }
  if (Array.isArray(t)) {
    if (t.length !== 2 || t[0] !== 'null') throw new Error(`unsupported union at ${path}`);
    const inner = emit(e, t[1], v, path, namespace);
    return `if (${v} === null || ${v} === undefined) { ensure(1); buf[pos++] = 0; } else { ensure(1); buf[pos++] = 2; ${inner} }`;
  }
  if (typeof t === 'string') {
    // A reference to a named type defined earlier.
    const full = t.includes('.') ? t : `${namespace}.${t}`;
    const fn = e.names.get(full);
    if (!fn) throw new Error(`unknown type reference ${t} at ${path}`);
    return `if (${v} === null || typeof ${v} !== 'object') fail(${p}); ${fn}(${v});`;
  }
  const o = t as { type?: unknown; items?: unknown; values?: unknown; name?: string; namespace?: string; fields?: Array<{ name: string; type: unknown }> };
  if (o.type === 'array') {
    const i = `i${e.counter++}`;
    const x = `x${e.counter++}`;
    return `if (!Array.isArray(${v})) fail(${p}); if (${v}.length > 0) { writeLong(${v}.length); for (let ${i} = 0; ${i} < ${v}.length; ${i}++) { const ${x} = ${v}[${i}]; ${emit(e, o.items, x, `${path}[]`, namespace)} } } ensure(1); buf[pos++] = 0;`;
  }
  if (o.type === 'map') {
    const k = `k${e.counter++}`;
    const x = `x${e.counter++}`;
    const n = `n${e.counter++}`;
    const value = emit(e, o.values, x, `${path}{}`, namespace);
    return `if (${v} instanceof Map) { if (${v}.size > 0) { writeLong(${v}.size); for (const [${k}, ${x}] of ${v}) { if (typeof ${k} !== 'string') fail(${p}); writeString(${k}); ${value} } } }
      else { if (typeof ${v} !== 'object' || ${v} === null || Array.isArray(${v})) fail(${p}); let ${n} = 0; for (const ${k} in ${v}) ${n}++;
        if (${n} > 0) { writeLong(${n}); for (const ${k} in ${v}) { const ${x} = ${v}[${k}]; writeString(${k}); ${value} } } }
      ensure(1); buf[pos++] = 0;`;
  }
  if (o.type === 'record' && typeof o.name === 'string' && Array.isArray(o.fields)) {
    const ns = o.name.includes('.') ? o.name.slice(0, o.name.lastIndexOf('.')) : (o.namespace ?? namespace);
    const full = o.name.includes('.') ? o.name : `${ns}.${o.name}`;
    const fn = `w${e.counter++}`;
    e.names.set(full, fn);
    const body = o.fields
      .map((f, idx) => {
        const fv = `f${idx}`;
        return `const ${fv} = r.${f.name}; ${emit(e, f.type, fv, path ? `${path}.${f.name}` : f.name, ns)}`;
      })
      .join('\n');
    e.functions.push(`function ${fn}(r) {\n${body}\n}`);
    return `if (${v} === null || typeof ${v} !== 'object') fail(${p}); ${fn}(${v});`;
  }
  throw new Error(`unsupported Avro type at ${path}: ${JSON.stringify(t).slice(0, 80)}`);
}

const RUNTIME = `
let buf; let pos; let limit;
function fail(path) { throw new EncodeTypeError(path); }
function ensure(n) { if (pos + n > limit) throw new Overflow(); }
function writeLong(n) {
  ensure(10);
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) { buf[pos++] = (z % 128) | 128; z = Math.floor(z / 128); }
  buf[pos++] = z;
}
function writeString(s) {
  const len = s.length;
  if (len < 24) {
    // One pass: copy while the text is ASCII (then byte length = length); on the first other char, redo as UTF-8.
    ensure(len + 1);
    const start = pos;
    buf[pos++] = len * 2;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) break;
      buf[pos++] = c;
    }
    if (i === len) return;
    pos = start;
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  writeLong(bytes);
  ensure(bytes);
  // byteLength === length means pure ASCII: the cheaper latin1 copy writes the same bytes.
  if (bytes === len) buf.latin1Write(s, pos, bytes);
  else buf.utf8Write(s, pos, bytes);
  pos += bytes;
}
`;

export interface CompiledEncoder {
  /** Writes the Avro body of `value` into `target` from `offset`; returns the end offset, or -1 if it did not fit. */
  (value: unknown, target: Buffer, offset: number): number;
}

/** Compiles an encoder for a schema, or returns null when the schema uses a type this encoder does not support. */
export function compileEncoder(schema: AvroSchema): CompiledEncoder | null {
  const e: Emitter = { names: new Map(), functions: [], counter: 0 };
  let root: string;
  try {
    root = emit(e, schema, 'value', '', '');
  } catch {
    return null;
  }
  const source = `${RUNTIME}\n${e.functions.join('\n')}\nreturn function encode(value, target, offset) {
    buf = target; pos = offset; limit = target.length;
    try { ${root} } catch (error) { if (error instanceof Overflow) return -1; throw error; }
    return pos;
  };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- code generated from our own schema file, not input
  return new Function('EncodeTypeError', 'Overflow', 'Buffer', source)(EncodeTypeError, Overflow, Buffer) as CompiledEncoder;
}
