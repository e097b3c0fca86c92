/**
 * The normalizer's pure core, shared by the service and the CLI: raw `m365.raw` value → SIEM event, as an outcome
 * value (ok / dead-letter with a code from a closed list). Never throws for bad input.
 */
import { SOURCES, deadLetter, ok, rawEnvelopeSchema, type Outcome, type RawEnvelope } from '../runtime/index.ts';
import { SiemEventEncodingError, encodeSiemEvent, type SiemEvent } from '../schemas/index.ts';
import type { MapContext } from './event-draft.ts';
import { mapRecord, MappingError } from './mappings/index.ts';
import { toMicros } from './time.ts';

/** Dead-letter codes of the normalize stage. */
export const NORMALIZE_ERROR_CODES = ['empty_value', 'invalid_json', 'invalid_envelope', 'mapping_error', 'avro_invalid'] as const;
export type NormalizeErrorCode = (typeof NORMALIZE_ERROR_CODES)[number];

export interface NormalizeOptions {
  /** Current time in microseconds since the epoch (event.ingested); defaults to the wall clock. */
  nowMicros?: () => number;
  /** Fill m365.fields with the record flattened to dotted paths (default false; NORMALIZE_VENDOR_FIELDS). */
  vendorFields?: boolean;
}

const wallClockMicros = (): number => Date.now() * 1000;

export function mapEnvelope(envelope: RawEnvelope, options: NormalizeOptions = {}, original?: string): Outcome<SiemEvent> {
  const ctx: MapContext = {
    envelope,
    ingestedMicros: (options.nowMicros ?? wallClockMicros)(),
    original: original ?? JSON.stringify(envelope.record),
    fetchedMicros: toMicros(envelope.fetchedAt),
    vendorFields: options.vendorFields ?? false,
  };
  try {
    return ok(mapRecord(envelope.record, ctx));
  } catch (error) {
    // Mapping code must not throw on odd input; if it does, the record is dead-lettered with the reason, not lost.
    const message = error instanceof MappingError ? error.message : `mapping failed: ${error instanceof Error ? error.message : String(error)}`;
    return deadLetter('mapping_error', message);
  }
}

/**
 * The record's own JSON text inside the envelope text, when it can be cut out safely: `record` is the envelope's last
 * member, its key occurs once and the text is on one line (as JSON.stringify writes it). Saves re-serializing the
 * record for event.original. Null means "serialize it instead".
 */
export function recordTextOf(text: string, envelope: object): string | null {
  // Multi-line (pretty-printed) input is re-serialized so event.original is always compact JSON.
  if (text.indexOf('\n') !== -1) return null;
  const keys = Object.keys(envelope);
  if (keys[keys.length - 1] !== 'record') return null;
  const at = text.indexOf('"record":');
  if (at < 0 || occursFrom(text, at + 9)) return null;
  let end = text.length - 1;
  while (end > at && text.charCodeAt(end) <= 32) end--;
  if (text.charCodeAt(end) !== 125 /* } */) return null;
  let start = at + 9;
  while (start < end && text.charCodeAt(start) <= 32) start++;
  let last = end - 1;
  while (last > start && text.charCodeAt(last) <= 32) last--;
  if (text.charCodeAt(start) !== 123 || text.charCodeAt(last) !== 125) return null;
  return text.slice(start, last + 1);
}

/**
 * Whether `"record":` occurs in `text` from `from` on. Searched as `record":` and then checked for the quote before it:
 * the same answer, but V8's string search skips faster on a pattern that does not start with a character as frequent
 * in JSON as `"` (this scan covers the whole record, once per record; decision 0205).
 */
function occursFrom(text: string, from: number): boolean {
  for (let i = text.indexOf('record":', from + 1); i !== -1; i = text.indexOf('record":', i + 8)) {
    if (text.charCodeAt(i - 1) === 34 /* " */) return true;
  }
  return false;
}

export function parseEnvelope(value: Buffer | string | null): Outcome<RawEnvelope> {
  return parseEnvelopeText(value).outcome;
}

function parseEnvelopeText(value: Buffer | string | null): { outcome: Outcome<RawEnvelope>; text: string | null } {
  if (value === null || value.length === 0) return { outcome: deadLetter('empty_value', 'message has no value'), text: null };
  const text = typeof value === 'string' ? value : value.toString('utf8');
  const outcome = parseEnvelopeFrom(text);
  return { outcome, text };
}

function parseEnvelopeFrom(text: string): Outcome<RawEnvelope> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return deadLetter('invalid_json', `value is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (looksLikeEnvelope(parsed)) return ok(parsed);
  // Slow path only for bad input: zod names every problem.
  const result = rawEnvelopeSchema.safeParse(parsed);
  if (!result.success) {
    const detail = result.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    return deadLetter('invalid_envelope', `not an m365.raw envelope: ${detail}`);
  }
  return ok(result.data);
}

const SOURCE_SET: ReadonlySet<string> = new Set(SOURCES);
const isText = (v: unknown, min = 0): v is string => typeof v === 'string' && v.length >= min;

/**
 * The same rules as rawEnvelopeSchema, checked without allocating (this runs once per record on the hot path);
 * anything it does not accept goes through zod, which either accepts it too or explains why not.
 */
function looksLikeEnvelope(v: unknown): v is RawEnvelope {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  const record = e.record;
  return (
    isText(e.orgId, 1) &&
    isText(e.tenantId, 1) &&
    typeof e.source === 'string' &&
    SOURCE_SET.has(e.source) &&
    (e.contentType === undefined || isText(e.contentType)) &&
    (e.contentId === undefined || isText(e.contentId)) &&
    isText(e.fetchedAt) &&
    typeof record === 'object' &&
    record !== null &&
    !Array.isArray(record)
  );
}

/** JSON text → envelope → event. */
export function normalizeValue(value: Buffer | string | null, options: NormalizeOptions = {}): Outcome<SiemEvent> {
  return normalizeParsed(value, options).event;
}

/** Like normalizeValue, but also returns the envelope when it parsed (the service needs org and source for the DLQ). */
export function normalizeParsed(value: Buffer | string | null, options: NormalizeOptions = {}): { envelope: RawEnvelope | null; event: Outcome<SiemEvent> } {
  const { outcome, text } = parseEnvelopeText(value);
  if (outcome.kind !== 'ok') return { envelope: null, event: outcome as Outcome<SiemEvent> };
  const original = text === null ? null : recordTextOf(text, outcome.value);
  return { envelope: outcome.value, event: mapEnvelope(outcome.value, options, original ?? undefined) };
}

/** Encodes an event for `siem.events`; an event that does not fit the schema becomes a dead letter (avro_invalid). */
export function encodeEvent(event: SiemEvent, schemaId?: number): Outcome<Buffer> {
  try {
    return ok(encodeSiemEvent(event, schemaId));
  } catch (error) {
    if (error instanceof SiemEventEncodingError) return deadLetter('avro_invalid', error.message);
    return deadLetter('avro_invalid', error instanceof Error ? error.message : String(error));
  }
}
