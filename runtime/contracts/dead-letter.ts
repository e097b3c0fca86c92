import { z } from 'zod';

/**
 * Value of `siem.events.dlq`, key = organization id (or "unknown" when the input had none): the input, the
 * error and the stage (guarantee 4: nothing vanishes).
 */
export const DEAD_LETTER_STAGES = ['ingest', 'normalize', 'index'] as const;
export type DeadLetterStage = (typeof DEAD_LETTER_STAGES)[number];

/**
 * The closed list of dead-letter codes (issue 14 item 2, decision 0197), with the stages that write each. A dead
 * letter is never retried by the pipeline (its input will fail the same way); after a fix it is replayed from its
 * origin offset. docs/error-codes.md is generated from this table.
 */
export const DEAD_LETTER_CODES = {
  malformed_record: { stages: ['ingest'], meaning: 'a Microsoft record without what every record of its source has (an id, a time)' },
  tenant_mismatch: { stages: ['ingest'], meaning: 'the record names another tenant than the one that served it (guarantee 3)' },
  malformed_content_item: { stages: ['ingest'], meaning: 'a Management API content listing item without contentId or with a contentUri that is not a URL' },
  foreign_content_uri: { stages: ['ingest'], meaning: 'a content listing item whose contentUri points at another host or tenant: not fetched' },
  content_expired: { stages: ['ingest'], meaning: "the content blob passed Microsoft's 7-day limit before it could be fetched (AF20051)" },
  content_missing: { stages: ['ingest'], meaning: 'Microsoft no longer serves the listed content blob' },
  malformed_blob: { stages: ['ingest'], meaning: 'a content blob that stayed malformed (not the documented shape) for several cycles' },
  record_too_large: { stages: ['ingest', 'normalize', 'index'], meaning: "larger than the stage's output topic accepts even alone" },
  empty_value: { stages: ['normalize', 'index'], meaning: 'a Kafka message without a value' },
  invalid_json: { stages: ['normalize'], meaning: 'an m365.raw value that is not JSON' },
  invalid_envelope: { stages: ['normalize'], meaning: 'JSON that is not an m365.raw envelope (organization, tenant, source, record)' },
  mapping_error: { stages: ['normalize', 'index'], meaning: 'the record does not map to a SiemEvent (normalize), or OpenSearch refused its fields (index)' },
  avro_invalid: { stages: ['normalize', 'index'], meaning: 'the event does not encode (normalize) or decode (index) with the SiemEvent schema' },
  bad_framing: { stages: ['index'], meaning: 'a siem.events value without the Confluent framing (magic byte 0, schema id)' },
  unknown_schema_id: { stages: ['index'], meaning: 'a siem.events value framed with a schema id the indexer does not know' },
  document_invalid: { stages: ['index'], meaning: 'the decoded event does not make an OpenSearch document' },
  missing_organization_id: { stages: ['index'], meaning: 'the event has no organization.id' },
  missing_event_id: { stages: ['index'], meaning: 'the event has no event.id' },
  organization_mismatch: { stages: ['index'], meaning: "the Kafka key differs from the event's organization.id" },
  invalid_timestamp: { stages: ['index'], meaning: 'the event has no valid @timestamp, so no daily index' },
  skipped: { stages: ['index'], meaning: 'the event was deliberately not indexed; the message says why' },
  index_closed: { stages: ['index'], meaning: 'the target index is closed' },
  index_blocked: { stages: ['index'], meaning: 'the target index is blocked for writes (cluster_block_exception)' },
  invalid_index_name: { stages: ['index'], meaning: 'the target index name is invalid' },
  index_rejected: { stages: ['index'], meaning: 'OpenSearch refused the document for another reason (the message has its answer)' },
  document_too_large: { stages: ['index'], meaning: 'OpenSearch refused the document as too large even alone (HTTP 413)' },
  bulk_request_rejected: { stages: ['index'], meaning: 'OpenSearch refused the single-document bulk request as a whole' },
} as const satisfies Record<string, { stages: readonly DeadLetterStage[]; meaning: string }>;
export type DeadLetterCode = keyof typeof DEAD_LETTER_CODES;

export function isDeadLetterCode(value: unknown): value is DeadLetterCode {
  return typeof value === 'string' && Object.hasOwn(DEAD_LETTER_CODES, value);
}

export const deadLetterSchema = z.object({
  stage: z.enum(DEAD_LETTER_STAGES),
  orgId: z.string().nullable(),
  source: z.string().nullable(),
  /** Machine-readable code from the closed DEAD_LETTER_CODES (a string here, so a newer writer's code still parses). */
  errorCode: z.string(),
  errorMessage: z.string(),
  /** The input as received: UTF-8 text when it was text, otherwise base64 with `inputEncoding: base64`. */
  input: z.string(),
  inputEncoding: z.enum(['utf8', 'base64']),
  /** Where the input came from, when it came from Kafka. */
  origin: z.object({ topic: z.string(), partition: z.number().int(), offset: z.string() }).nullable(),
  at: z.string(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

export function deadLetterInput(value: Buffer | string | null): { input: string; inputEncoding: 'utf8' | 'base64' } {
  if (value === null) return { input: '', inputEncoding: 'utf8' };
  if (typeof value === 'string') return { input: value, inputEncoding: 'utf8' };
  const text = value.toString('utf8');
  // Round-trip check: binary (e.g. Avro) does not survive UTF-8 decoding, so keep it as base64.
  return Buffer.from(text, 'utf8').equals(value) ? { input: text, inputEncoding: 'utf8' } : { input: value.toString('base64'), inputEncoding: 'base64' };
}
