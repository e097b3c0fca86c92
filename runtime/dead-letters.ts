/**
 * The one way every stage writes a dead letter (issue 14 item 1, issue 16 item 3): one value shape (the DeadLetter
 * contract), one header set, one size rule. The size rule: a dead letter always fits one record batch of the
 * dead-letter topic — its input is kept whole when it fits and otherwise cut to fit, the error message saying how
 * long it was (the whole input stays at its origin offset when it came from Kafka). So a dead letter can never be
 * the record that stalls a partition.
 */
import { headerText } from './contracts/siem-events.ts';
import { deadLetterInput, type DeadLetter, type DeadLetterCode, type DeadLetterStage } from './contracts/dead-letter.ts';
import type { OutgoingMessage } from './kafka/index.ts';
import { encodedRecordBytes } from './send-limits.ts';

/** Headers of every dead letter, whatever the stage. */
export const DEAD_LETTER_HEADERS = { stage: 'm365-stage', errorCode: 'm365-error-code', source: 'm365-source' } as const;

/** Error messages longer than this are cut: a reason is a sentence, not a payload. */
const MAX_ERROR_MESSAGE_CHARS = 2_000;

export interface DeadLetterFacts {
  stage: DeadLetterStage;
  orgId: string | null;
  source: string | null;
  errorCode: DeadLetterCode;
  errorMessage: string;
  /** The input as received (binary kept as base64). */
  input: Buffer | string | null;
  origin: DeadLetter['origin'];
  at?: Date;
}

/** A dead letter with its headers, at most `maxRecordBytes` encoded (see SendLimits.maxRecordBytes). */
export function buildDeadLetter(
  facts: DeadLetterFacts,
  maxRecordBytes: number,
): OutgoingMessage & { key: string; value: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { [DEAD_LETTER_HEADERS.stage]: facts.stage, [DEAD_LETTER_HEADERS.errorCode]: facts.errorCode };
  if (facts.source !== null) headers[DEAD_LETTER_HEADERS.source] = facts.source;
  const key = facts.orgId ?? 'unknown';
  const encoded = deadLetterInput(facts.input);
  const reason = facts.errorMessage.slice(0, MAX_ERROR_MESSAGE_CHARS);
  const letter = (input: string, errorMessage: string): DeadLetter => ({
    stage: facts.stage,
    orgId: facts.orgId,
    source: facts.source,
    errorCode: facts.errorCode,
    errorMessage,
    input,
    inputEncoding: encoded.inputEncoding,
    origin: facts.origin,
    at: (facts.at ?? new Date()).toISOString(),
  });
  const message = (value: DeadLetter) => ({ key, value: JSON.stringify(value), headers });
  let out = message(letter(encoded.input, reason));
  let size = encodedRecordBytes(out);
  if (size <= maxRecordBytes) return out;
  const where = facts.origin ? '; the whole input is at its origin offset' : '';
  const note = `${reason} (input truncated from ${encoded.input.length} characters${where})`;
  // JSON escaping and multi-byte characters make bytes per character vary: cut in proportion until it fits.
  let keep = encoded.input.length;
  while (size > maxRecordBytes && keep > 0) {
    keep = Math.max(0, Math.floor(keep * ((maxRecordBytes - 256) / size)) - 64);
    out = message(letter(encoded.input.slice(0, keep), note));
    size = encodedRecordBytes(out);
  }
  return out;
}

/**
 * The dead letter of a message its stage cannot send because it is larger than its topic accepts even alone: the
 * message itself is the input; key and source header tell whose it is.
 */
export function oversizedRecordDeadLetter(
  stage: DeadLetterStage,
  topic: string,
  message: OutgoingMessage,
  facts: { bytes: number; limit: number; origin?: DeadLetter['origin'] },
  maxRecordBytes: number,
): OutgoingMessage {
  const key = message.key === null || message.key === undefined ? null : message.key.toString();
  const source = headerText(message.headers, DEAD_LETTER_HEADERS.source);
  const value = message.value === null ? null : typeof message.value === 'string' ? message.value : message.value;
  return buildDeadLetter(
    {
      stage,
      orgId: key,
      source,
      errorCode: 'record_too_large',
      errorMessage: `the record is ${facts.bytes} bytes; topic ${topic} accepts at most ${facts.limit} bytes per record batch`,
      input: value,
      origin: facts.origin ?? null,
    },
    maxRecordBytes,
  );
}
