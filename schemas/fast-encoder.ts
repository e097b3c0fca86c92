/**
 * A compiled Avro binary encoder for the SIEM event schema: the normalizer encodes every event, and avsc's generic
 * writer (union dispatch per field, map writes over dictionary-mode objects) was the largest cost of the hot path.
 * The encoder is generated once per schema from its JSON and produces exactly avsc's bytes (tested byte for byte);
 * it supports the types the schema uses (null, boolean, int, long, double, string, record, array, map and
 * ["null", T] unions) and refuses to compile anything else, so a future schema falls back to avsc.
 * Maps may be given as plain objects or as `Map<string, string>`.
 *
 * Why it is shaped this way (issue 15, measured in bench/normalize.bench.ts): the write position is a local that each
 * generated function takes and returns (a shared closure variable cost a context load and store per byte), and the
 * room left in the target is checked where a variable-length value is written, not before every byte: every such
 * check also reserves `slack` bytes, the most that fixed-size writes (union branches, numbers, booleans, array ends)
 * can add before the next check, so those writes need none. Long strings are written without measuring them first:
 * room for three bytes per UTF-16 unit is reserved, the text is written after a length prefix sized for that, and
 * the prefix is narrowed (the bytes moved) only when the real length needs fewer varint bytes.
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
  /** Named record schemas, for sizing references. */
  schemas: Map<string, unknown>;
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

type RecordSchema = { type: 'record'; name: string; namespace?: string; fields: Array<{ name: string; type: unknown }> };
type ComplexSchema = { type?: unknown; items?: unknown; values?: unknown; name?: string; namespace?: string; fields?: Array<{ name: string; type: unknown }> };

function qualified(name: string, namespace: string): string {
  return name.includes('.') ? name : namespace ? `${namespace}.${name}` : name;
}

/**
 * The most bytes a value of type `t` writes without a room check of its own (see the file comment): union branch,
 * numbers, booleans, array and map ends, summed over nested records. Array items and map values check room per entry,
 * so they are counted once.
 */
function fixedBytes(e: Emitter, t: AvroSchema, namespace: string, depth = 0): number {
  if (depth > 64) throw new Error('schema nests too deeply to size');
  switch (primitive(t)) {
    case 'null':
      return 0;
    case 'boolean':
      return 1;
    case 'int':
    case 'long':
      return 10;
    case 'double':
      return 8;
    case 'string':
      return 0;
  }
  if (Array.isArray(t)) return 1 + fixedBytes(e, t[1], namespace, depth + 1);
  if (typeof t === 'string') {
    const named = e.schemas.get(qualified(t, namespace));
    if (!named) throw new Error(`unknown type reference ${t}`);
    return fixedBytes(e, named, namespace, depth + 1);
  }
  const o = t as ComplexSchema;
  if (o.type === 'array') return 1 + fixedBytes(e, o.items, namespace, depth + 1);
  if (o.type === 'map') return 1 + fixedBytes(e, o.values, namespace, depth + 1);
  if (o.type === 'record' && typeof o.name === 'string' && Array.isArray(o.fields)) {
    const ns = o.name.includes('.') ? o.name.slice(0, o.name.lastIndexOf('.')) : (o.namespace ?? namespace);
    e.schemas.set(qualified(o.name, ns), o);
    let n = 0;
    for (const f of o.fields) n += fixedBytes(e, f.type, ns, depth + 1);
    return n;
  }
  throw new Error('unsupported Avro type');
}

/** Emits code that writes value expression `v` of type `t` at local position `p` into local buffer `b`. */
function emit(e: Emitter, t: AvroSchema, v: string, path: string, namespace: string): string {
  const p = JSON.stringify(path);
  const prim = primitive(t);
  switch (prim) {
    case 'null':
      return `if (${v} !== null && ${v} !== undefined) fail(${p});`;
    case 'boolean':
      return `if (typeof ${v} !== 'boolean') fail(${p}); b[p++] = ${v} ? 1 : 0;`;
    case 'int':
      return `if (!Number.isInteger(${v}) || ${v} > 2147483647 || ${v} < -2147483648) fail(${p}); p = writeLong(b, p, ${v});`;
    case 'long':
      return `if (!Number.isSafeInteger(${v})) fail(${p}); p = writeLong(b, p, ${v});`;
    case 'double':
      return `if (typeof ${v} !== 'number') fail(${p}); b.writeDoubleLE(${v}, p); p += 8;`;
    case 'string':
      return `if (typeof ${v} !== 'string') fail(${p}); p = writeString(b, p, ${v});`;
  }
  if (Array.isArray(t)) {
    if (t.length !== 2 || t[0] !== 'null') throw new Error(`unsupported union at ${path}`);
    const inner = emit(e, t[1], v, path, namespace);
    return `if (${v} === null || ${v} === undefined) { b[p++] = 0; } else { b[p++] = 2; ${inner} }`;
  }
  if (typeof t === 'string') {
    // A reference to a named type defined earlier.
    const fn = e.names.get(qualified(t, namespace));
    if (!fn) throw new Error(`unknown type reference ${t} at ${path}`);
    return `if (${v} === null || typeof ${v} !== 'object') fail(${p}); p = ${fn}(${v}, p);`;
  }
  const o = t as ComplexSchema;
  if (o.type === 'array') {
    const i = `i${e.counter++}`;
    const x = `x${e.counter++}`;
    return `if (!Array.isArray(${v})) fail(${p}); if (${v}.length > 0) { room(p, 10); p = writeLong(b, p, ${v}.length);
      for (let ${i} = 0; ${i} < ${v}.length; ${i}++) { const ${x} = ${v}[${i}]; room(p, 0); ${emit(e, o.items, x, `${path}[]`, namespace)} } } b[p++] = 0;`;
  }
  if (o.type === 'map') {
    const k = `k${e.counter++}`;
    const x = `x${e.counter++}`;
    const n = `n${e.counter++}`;
    const value = emit(e, o.values, x, `${path}{}`, namespace);
    return `if (${v} instanceof Map) { if (${v}.size > 0) { room(p, 10); p = writeLong(b, p, ${v}.size); for (const [${k}, ${x}] of ${v}) { if (typeof ${k} !== 'string') fail(${p}); p = writeString(b, p, ${k}); ${value} } } }
      else { if (typeof ${v} !== 'object' || ${v} === null || Array.isArray(${v})) fail(${p}); let ${n} = 0; for (const ${k} in ${v}) ${n}++;
        if (${n} > 0) { room(p, 10); p = writeLong(b, p, ${n}); for (const ${k} in ${v}) { const ${x} = ${v}[${k}]; p = writeString(b, p, ${k}); ${value} } } }
      b[p++] = 0;`;
  }
  if (o.type === 'record' && typeof o.name === 'string' && Array.isArray(o.fields)) {
    const rec = o as RecordSchema;
    const ns = rec.name.includes('.') ? rec.name.slice(0, rec.name.lastIndexOf('.')) : (rec.namespace ?? namespace);
    const fn = `w${e.counter++}`;
    e.names.set(qualified(rec.name, ns), fn);
    const body = rec.fields
      .map((f, idx) => {
        const fv = `f${idx}`;
        return `const ${fv} = r.${f.name}; ${emit(e, f.type, fv, path ? `${path}.${f.name}` : f.name, ns)}`;
      })
      .join('\n');
    e.functions.push(`function ${fn}(r, p) {\nconst b = buf;\n${body}\nreturn p;\n}`);
    return `if (${v} === null || typeof ${v} !== 'object') fail(${p}); p = ${fn}(${v}, p);`;
  }
  throw new Error(`unsupported Avro type at ${path}: ${JSON.stringify(t).slice(0, 80)}`);
}

const RUNTIME = `
let buf; let limit;
const OVERFLOW = new Overflow('does not fit');
function fail(path) { throw new EncodeTypeError(path); }
// Room for n bytes plus the slack that fixed-size writes after them may use.
function room(p, n) { if (p + n + SLACK > limit) throw OVERFLOW; }
function writeLong(b, p, n) {
  if (n >= -1073741824 && n < 1073741824) {
    let z = (n << 1) ^ (n >> 31);
    while (z > 127) { b[p++] = (z & 127) | 128; z >>>= 7; }
    b[p++] = z;
    return p;
  }
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) { b[p++] = (z % 128) | 128; z = Math.floor(z / 128); }
  b[p++] = z;
  return p;
}
// Bytes of the zigzag varint for a non-negative length n.
function lengthBytes(n) {
  let z = n * 2; let k = 1;
  while (z >= 128) { z = Math.floor(z / 128); k++; }
  return k;
}
function writeString(b, p, s) {
  const len = s.length;
  if (len < 32) {
    // One pass: copy while the text is ASCII (then byte length = length); on the first other char, write it as UTF-8.
    room(p, len + 1);
    const start = p;
    b[p++] = len * 2;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) break;
      b[p++] = c;
    }
    if (i === len) return p;
    p = start;
  }
  const most = len * 3;
  const reserved = lengthBytes(most);
  room(p, reserved + most);
  const bytes = b.utf8Write(s, p + reserved, most);
  const needed = lengthBytes(bytes);
  if (needed !== reserved) b.copyWithin(p + needed, p + reserved, p + reserved + bytes);
  return writeLong(b, p, bytes) + bytes;
}
`;

export interface CompiledEncoder {
  /** Writes the Avro body of `value` into `target` from `offset`; returns the end offset, or -1 if it did not fit. */
  (value: unknown, target: Buffer, offset: number): number;
}

/** Compiles an encoder for a schema, or returns null when the schema uses a type this encoder does not support. */
export function compileEncoder(schema: AvroSchema): CompiledEncoder | null {
  const e: Emitter = { names: new Map(), schemas: new Map(), functions: [], counter: 0 };
  let root: string;
  let slack: number;
  try {
    slack = fixedBytes(e, schema, '');
    root = emit(e, schema, 'value', '', '');
  } catch {
    return null;
  }
  const source = `const SLACK = ${slack};\n${RUNTIME}\n${e.functions.join('\n')}\nreturn function encode(value, target, offset) {
    buf = target; limit = target.length; const b = target; let p = offset;
    try { room(p, 0); ${root} } catch (error) { if (error === OVERFLOW) return -1; throw error; }
    return p;
  };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- code generated from our own schema file, not input
  return new Function('EncodeTypeError', 'Overflow', source)(EncodeTypeError, Overflow) as CompiledEncoder;
}
