import { z } from 'zod';

/**
 * Value of `siem.events.dlq`, key = organization id (or "unknown" when the input had none): the input, the
 * error and the stage (guarantee 4: nothing vanishes).
 */
export const DEAD_LETTER_STAGES = ['ingest', 'normalize', 'index'] as const;
export type DeadLetterStage = (typeof DEAD_LETTER_STAGES)[number];

export const deadLetterSchema = z.object({
  stage: z.enum(DEAD_LETTER_STAGES),
  orgId: z.string().nullable(),
  source: z.string().nullable(),
  /** Machine-readable code from a closed list per stage, e.g. `invalid_json`, `tenant_mismatch`, `mapping_error`. */
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
