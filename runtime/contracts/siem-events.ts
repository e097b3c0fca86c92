import { RAW_HEADERS } from './raw-envelope.ts';

/**
 * The header contract of `siem.events` (key = organization id; value = a SiemEvent in Avro, Confluent-framed with
 * the schema id, schemas/siem-event-type.ts). Written by the normalizer and by `m365-siem replay`; the indexer reads
 * the source for its dead letters. Every value is UTF-8 text.
 */
export const EVENT_HEADERS = {
  /** The source name (same header as on `m365.raw`). */
  source: RAW_HEADERS.source,
  /** `event.id` of the SiemEvent: the dedup key with the organization. */
  eventId: 'm365-event-id',
  /** The schema registry id the value is framed with (decimal). */
  schemaId: 'm365-schema-id',
} as const;

/** The headers of one `siem.events` message. */
export function eventHeaders(facts: { source: string; eventId: string; schemaId: number }): Record<string, string> {
  return { [EVENT_HEADERS.source]: facts.source, [EVENT_HEADERS.eventId]: facts.eventId, [EVENT_HEADERS.schemaId]: String(facts.schemaId) };
}

type HeaderValue = Buffer | string | ReadonlyArray<Buffer | string> | undefined;

/** A header's text (the first value of a repeated header), or null when absent or empty. */
export function headerText(headers: Readonly<Record<string, HeaderValue>> | undefined, name: string): string | null {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return null;
  const text = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  return text === '' ? null : text;
}
