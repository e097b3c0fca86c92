/**
 * The Avro side of `siem.events`: the versioned schema files, stable schema ids, and the Confluent wire format
 * (magic byte 0, 4-byte big-endian schema id, Avro binary body).
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { SiemEvent } from './siem-event-type.ts';
import { compileEncoder } from './fast-encoder.ts';

export const SIEM_EVENT_SUBJECT = 'siem.events-value';

export interface SiemEventSchemaVersion {
  /** Subject version (1, 2, …): the n-th schema file. */
  readonly version: number;
  /** Parsed Avro schema JSON. */
  readonly schema: Record<string, unknown>;
  /** Stable schema id from schemas/avro/manifest.json (never derived from registration order). */
  readonly id: number;
  /** File name under schemas/avro/. */
  readonly file: string;
}

interface Manifest {
  subject: string;
  compatibility: string;
  versions: Array<{ version: number; id: number; file: string }>;
}

const AVRO_DIR = new URL('./avro/', import.meta.url);

function loadManifest(): Manifest {
  const manifest = JSON.parse(readFileSync(new URL('manifest.json', AVRO_DIR), 'utf8')) as Manifest;
  if (manifest.subject !== SIEM_EVENT_SUBJECT) throw new Error(`schemas/avro/manifest.json: subject must be ${SIEM_EVENT_SUBJECT}`);
  return manifest;
}

const manifest = loadManifest();

/** Every version of the SIEM event schema, oldest first. */
export const siemEventSchemas: readonly SiemEventSchemaVersion[] = Object.freeze(
  [...manifest.versions]
    .sort((a, b) => a.version - b.version)
    .map((v) =>
      Object.freeze({
        version: v.version,
        id: v.id,
        file: v.file,
        schema: JSON.parse(readFileSync(new URL(v.file, AVRO_DIR), 'utf8')) as Record<string, unknown>,
      }),
    ),
);

const newest = siemEventSchemas[siemEventSchemas.length - 1];
if (!newest) throw new Error('schemas/avro/manifest.json lists no schema version');
export const latestSiemEventSchema: SiemEventSchemaVersion = newest;

/** Compatibility level the subject is held to (and tested against). */
export const SIEM_EVENT_COMPATIBILITY = manifest.compatibility;

/** Parses an Avro schema the way every part of the pipeline does (unions unwrapped: plain JSON values). */
export function parseAvroType(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false });
}

const latestType = parseAvroType(latestSiemEventSchema.schema);

/** Writer types by schema id: the stable ids plus ids a real registry assigned (see `rememberSchemaId`). */
const writerById = new Map<number, { type: avro.Type; resolver: avro.Resolver | null }>();
for (const v of siemEventSchemas) {
  const type = v === latestSiemEventSchema ? latestType : parseAvroType(v.schema);
  writerById.set(v.id, { type, resolver: type === latestType ? null : latestType.createResolver(type) });
}

/** Tells the decoder that `id` (assigned by a real schema registry) names this schema (parsed JSON). */
export function rememberSchemaId(id: number, schema: unknown): void {
  if (writerById.has(id)) return;
  const type = parseAvroType(schema);
  const sameAsLatest = type.equals(latestType);
  writerById.set(id, { type: sameAsLatest ? latestType : type, resolver: sameAsLatest ? null : latestType.createResolver(type) });
}

export class SiemEventEncodingError extends Error {
  constructor(
    message: string,
    readonly code: 'avro_invalid' | 'bad_framing' | 'unknown_schema_id',
  ) {
    super(message);
    this.name = 'SiemEventEncodingError';
  }
}

/** Paths of the fields that fail Avro validation, e.g. `event.id: undefined`. */
export function siemEventProblems(event: unknown): string[] {
  const problems: string[] = [];
  latestType.isValid(event, {
    errorHook: (path: string[], value: unknown) => {
      if (problems.length < 10) problems.push(`${path.join('.') || '(root)'}: ${JSON.stringify(value)?.slice(0, 80) ?? 'undefined'}`);
    },
  });
  return problems;
}

/**
 * Encodes an event with the latest schema in Confluent framing. `schemaId` is the id to put in the frame (the
 * stable id by default; the id a real registry returned when SCHEMA_REGISTRY_URL is used).
 * Throws SiemEventEncodingError('avro_invalid') naming the offending fields when the event does not fit the schema.
 */
export function encodeSiemEvent(event: SiemEvent, schemaId: number = latestSiemEventSchema.id): Buffer {
  let start: number;
  let end: number;
  let target: Buffer;
  try {
    if (compiled) {
      // Written straight into a shared slab and handed out as a slice of it (as Buffer.allocUnsafe's pool does), so an
      // event is not copied out of a scratch buffer; a slab is replaced when the next event does not fit in its rest.
      end = compiled(event, slab, slabUsed + 5);
      if (end < 0 && slabUsed > 0) {
        slab = Buffer.allocUnsafe(SLAB_BYTES);
        slabUsed = 0;
        end = compiled(event, slab, 5);
      }
      if (end >= 0) {
        target = slab;
        start = slabUsed;
        // Next event starts 8-aligned, like the pool's slices.
        slabUsed = Math.min(slab.length, (end + 7) & ~7);
      } else {
        // Larger than a slab: encoded alone into a buffer of its own, grown until it fits.
        let size = SLAB_BYTES * 2;
        target = Buffer.allocUnsafe(size);
        end = compiled(event, target, 5);
        while (end < 0) {
          size *= 2;
          target = Buffer.allocUnsafe(size);
          end = compiled(event, target, 5);
        }
        start = 0;
      }
    } else {
      // avsc's own toBuffer encodes twice when an event exceeds 1 KiB: encode into a reusable scratch buffer instead.
      end = latestType.encode(event, scratch, 5);
      while (end < 0) {
        scratch = Buffer.allocUnsafe(scratch.length * 2);
        end = latestType.encode(event, scratch, 5);
      }
      target = Buffer.allocUnsafe(end);
      scratch.copy(target, 0, 0, end);
      start = 0;
    }
  } catch (error) {
    const problems = siemEventProblems(event);
    const detail = problems.length > 0 ? problems.join('; ') : error instanceof Error ? error.message : String(error);
    throw new SiemEventEncodingError(`event does not fit the Avro schema: ${detail}`, 'avro_invalid');
  }
  const out = target.subarray(start, end);
  out[0] = 0;
  out.writeUInt32BE(schemaId, 1);
  return out;
}

/** Slab size for encoded events: far above a typical event (~1-3 KB), small enough that a slab held by one live event costs little. */
const SLAB_BYTES = 256 * 1024;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;
let scratch = Buffer.allocUnsafe(64 * 1024);
const compiled = compileEncoder(latestSiemEventSchema.schema);

/** Reads the schema id of a Confluent-framed message. */
export function schemaIdOf(buf: Buffer): number {
  if (buf.length < 5 || buf[0] !== 0) throw new SiemEventEncodingError('not Confluent-framed Avro (magic byte 0 missing)', 'bad_framing');
  return buf.readUInt32BE(1);
}

/**
 * Decodes a Confluent-framed SIEM event into the plain nested object of the latest schema (older writer versions
 * are resolved to it). Unions are unwrapped: absent optional fields are `null`.
 */
export function decodeSiemEvent(buf: Buffer): SiemEvent {
  const id = schemaIdOf(buf);
  const writer = writerById.get(id);
  if (!writer) throw new SiemEventEncodingError(`unknown schema id ${id}`, 'unknown_schema_id');
  const body = buf.subarray(5);
  return (writer.resolver ? latestType.fromBuffer(body, writer.resolver) : latestType.fromBuffer(body)) as SiemEvent;
}

// Paths of timestamp-micros fields, computed from the schema so new versions need no code change here.
const TIMESTAMP_PATHS: string[][] = [];
(function collect(schema: unknown, path: string[]): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) collect(branch, path);
    return;
  }
  if (!schema || typeof schema !== 'object') return;
  const s = schema as { type?: unknown; logicalType?: unknown; fields?: Array<{ name: string; type: unknown }> };
  if (s.type === 'long' && s.logicalType === 'timestamp-micros') TIMESTAMP_PATHS.push(path);
  else if (s.type === 'record' && s.fields) for (const f of s.fields) collect(f.type, [...path, f.name]);
  else if (s.type && typeof s.type === 'object') collect(s.type, path);
})(latestSiemEventSchema.schema, []);

/** Microseconds since the epoch → ISO-8601 with microsecond precision (`2024-01-02T03:04:05.123456Z`). */
export function microsToIso(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // …HH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

function stripNulls(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((v) => stripNulls(v) ?? null);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    let any = false;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const s = stripNulls(v);
      if (s !== undefined) {
        out[k] = s;
        any = true;
      }
    }
    return any ? out : undefined;
  }
  return value;
}

/**
 * The JSON view of an event that people read (CLI output, `tail`, golden files): the schema's nested field names,
 * no union wrappers, null fields and empty records left out, and timestamp-micros fields as ISO-8601 strings with microseconds.
 */
export function toPlainJson(event: SiemEvent): Record<string, unknown> {
  const out = (stripNulls(event) ?? {}) as Record<string, unknown>;
  for (const path of TIMESTAMP_PATHS) {
    let holder: Record<string, unknown> | undefined = out;
    for (let i = 0; i < path.length - 1 && holder; i++) holder = holder[path[i] as string] as Record<string, unknown> | undefined;
    const leaf = path[path.length - 1] as string;
    if (holder && typeof holder[leaf] === 'number') holder[leaf] = microsToIso(holder[leaf] as number);
  }
  return out;
}
