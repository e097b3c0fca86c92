import { deadLetter, ok, type Outcome } from '../runtime/index.ts';
import { latestSiemEventSchema } from '../schemas/index.ts';
import { compileAvroJsonTranscoder, type TranscodedEvent } from './avro-json-transcoder.ts';
import { dailyIndexName } from '../schemas/opensearch/index.ts';
import { documentId } from './document-id.ts';
import { compileDocumentWriter, microsToIso as fastMicrosToIso } from './document-serializer.ts';
import { withVendorRecord } from './vendor-record.ts';

/** `_source` writer for events decoded with the latest Avro schema (what `decodeSiemEvent` returns). */
const writeAvroEvent = compileDocumentWriter(latestSiemEventSchema.schema);

/** A decoded SIEM event: the plain nested object `decodeSiemEvent` returns (ECS-like names). */
export type SiemEventObject = Record<string, unknown>;

export interface EventDocument {
  readonly orgId: string;
  readonly eventId: string;
  readonly index: string;
  readonly id: string;
  /** The JSON `_source` (text, or UTF-8 bytes from the transcoder), nulls dropped, `@timestamp` as ISO-8601 UTC. */
  readonly source: string | Buffer;
}

const get = (o: unknown, key: string): unknown => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined);

/** Avro `timestamp-micros` fields besides `timestamp` itself (tests check this list against the .avsc). */
export const MICROS_TIME_PATHS: ReadonlyArray<readonly [string, string]> = [
  ['event', 'created'],
  ['event', 'ingested'],
];

/** ISO-8601 UTC with microseconds, so `_source` keeps the precision Avro carried (the `date` field sorts by ms). */
export function microsToIso(micros: number | bigint): string {
  if (typeof micros === 'number' && Number.isSafeInteger(micros)) return fastMicrosToIso(micros);
  const big = BigInt(micros);
  const ms = big / 1000n - (big % 1000n < 0n ? 1n : 0n);
  const rest = Number(big - ms * 1000n);
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

/**
 * Event time: `@timestamp` (ISO string, Date, epoch ms) or Avro's `timestamp` (epoch micros, or a Date when the
 * codec maps logical types). Returns the instant and its ISO text (microseconds kept when the input had them).
 */
export function eventTime(event: SiemEventObject): { time: Date; iso: () => string } | null {
  const at = event['@timestamp'] ?? event.timestamp;
  let time: Date | null = null;
  let iso: (() => string) | null = null;
  if (at instanceof Date) time = at;
  else if (typeof at === 'string' && at.length > 0) {
    time = new Date(at);
    iso = () => at;
  } else if ((typeof at === 'number' || typeof at === 'bigint') && !('@timestamp' in event)) {
    if (typeof at === 'number' && !Number.isSafeInteger(at)) return null;
    // Microseconds: the day needs only the milliseconds; the ISO text is made only when asked for.
    time = new Date(typeof at === 'number' ? Math.floor(at / 1000) : Number(at / 1000n));
    iso = () => microsToIso(at);
  } else if (typeof at === 'number') time = new Date(at);
  if (time === null || !Number.isFinite(time.getTime())) return null;
  const t = time;
  return { time: t, iso: iso ?? (() => t.toISOString()) };
}

/** Drops nulls and objects left empty (an all-null geo point must not reach a geo_point field). */
function clean(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map(clean);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    let any = false;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const c = clean(v);
      if (c !== undefined) {
        out[k] = c;
        any = true;
      }
    }
    return any ? out : undefined;
  }
  return value;
}

/** Avro bytes of the latest schema → `_source` bytes without decoding into objects (null: use the object path). */
export const transcodeLatestAvro = compileAvroJsonTranscoder(latestSiemEventSchema.schema, latestSiemEventSchema.id);

/** The same checks as `toEventDocument`, for an event transcoded straight from Avro. */
export function toTranscodedDocument(t: TranscodedEvent, prefix: string, kafkaKey: string | null): Outcome<EventDocument> {
  const { orgId, eventId } = t;
  if (orgId === null || orgId.length === 0) return deadLetter('missing_organization_id', 'event has no organization.id');
  if (eventId === null || eventId.length === 0) return deadLetter('missing_event_id', 'event has no event.id');
  if (kafkaKey !== null && kafkaKey !== orgId) {
    return deadLetter('organization_mismatch', `Kafka key "${kafkaKey}" differs from organization.id "${orgId}"`);
  }
  const index = dailyIndexOf(prefix, t.timestampMicros);
  if (index === null) return deadLetter('invalid_timestamp', 'event has no valid @timestamp');
  return ok({ orgId, eventId, index, id: documentId(orgId, eventId), source: t.source });
}

const MICROS_PER_DAY = 86_400_000_000;
/** The last day's index name: events come in runs of the same day, so the name is built once per day, not per event. */
let lastDay = { prefix: '', day: Number.NaN, index: null as string | null };

/** The daily index of an event time (microseconds), or null outside 1970–9999. */
function dailyIndexOf(prefix: string, micros: number): string | null {
  const day = Math.floor(micros / MICROS_PER_DAY);
  if (day === lastDay.day && prefix === lastDay.prefix) return lastDay.index;
  const time = new Date(Math.floor(micros / 1000));
  const valid = Number.isFinite(time.getTime()) && time.getUTCFullYear() >= 1970 && time.getUTCFullYear() <= 9999;
  const index = valid ? dailyIndexName(prefix, time) : null;
  if (Number.isFinite(day)) lastDay = { prefix, day, index };
  return index;
}

/**
 * The document for a Confluent-framed Avro value: transcoded straight to JSON when it is written with the latest
 * schema, else decoded (older versions are resolved to the latest) and serialized. Throws when the value cannot be
 * decoded at all (the caller dead-letters it with the decoder's error).
 */
export function avroToEventDocument(
  value: Buffer,
  prefix: string,
  kafkaKey: string | null,
  decode: (value: Buffer) => SiemEventObject,
): Outcome<EventDocument> {
  const transcoded = transcodeLatestAvro(value);
  if (transcoded !== null) return toTranscodedDocument(transcoded, prefix, kafkaKey);
  return toEventDocument(decode(value), prefix, kafkaKey);
}

/**
 * Turns a decoded event into the document to index, or says why it cannot be indexed (a dead letter):
 * no organization id, no event id, no usable event time, or an organization that differs from the Kafka key
 * (tenants never mix: a record keyed for one organization is never filed under another).
 */
export function toEventDocument(event: SiemEventObject, prefix: string, kafkaKey: string | null): Outcome<EventDocument> {
  const orgId = get(event.organization, 'id');
  if (typeof orgId !== 'string' || orgId.length === 0) return deadLetter('missing_organization_id', 'event has no organization.id');
  const eventId = get(event.event, 'id');
  if (typeof eventId !== 'string' || eventId.length === 0) return deadLetter('missing_event_id', 'event has no event.id');
  if (kafkaKey !== null && kafkaKey !== orgId) {
    return deadLetter('organization_mismatch', `Kafka key "${kafkaKey}" differs from organization.id "${orgId}"`);
  }
  const at = eventTime(event);
  if (at === null || at.time.getUTCFullYear() < 1970 || at.time.getUTCFullYear() > 9999) {
    return deadLetter('invalid_timestamp', 'event has no valid @timestamp');
  }
  let source: string;
  if (!('@timestamp' in event) && typeof event.timestamp === 'number') source = writeAvroEvent(event);
  else source = genericSource(event, at.iso());
  source = withVendorRecord(source, get(event.event, 'original'));
  return ok({
    orgId,
    eventId,
    index: dailyIndexName(prefix, at.time),
    id: documentId(orgId, eventId),
    source,
  });
}

/** `_source` of an event that is not in decoded-Avro shape (already has `@timestamp`): nulls and empty objects out. */
function genericSource(event: SiemEventObject, iso: string): string {
  const doc: Record<string, unknown> = { '@timestamp': iso };
  for (const [key, value] of Object.entries(event)) {
    if (key === '@timestamp' || key === 'timestamp') continue;
    const c = clean(value);
    if (c !== undefined) doc[key] = c;
  }
  for (const [parent, field] of MICROS_TIME_PATHS) {
    const holder = doc[parent] as Record<string, unknown> | undefined;
    const v = holder?.[field];
    if (typeof v === 'number' && Number.isSafeInteger(v)) holder![field] = microsToIso(v);
  }
  return JSON.stringify(doc);
}
