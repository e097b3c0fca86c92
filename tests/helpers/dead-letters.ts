/** The one header set every stage's dead letters carry (decision 0093), checked on messages read from Kafka. */
import { expect } from 'vitest';
import { DEAD_LETTER_HEADERS, type DeadLetterStage } from '../../runtime/index.ts';

type Headers = Record<string, string | Buffer | Array<string | Buffer> | undefined> | undefined;

export function expectDeadLetterHeaders(headers: Headers, letter: { stage: DeadLetterStage; errorCode: string; source: string | null }): void {
  const text = Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : v)]));
  const expected: Record<string, string> = { [DEAD_LETTER_HEADERS.stage]: letter.stage, [DEAD_LETTER_HEADERS.errorCode]: letter.errorCode };
  if (letter.source !== null) expected[DEAD_LETTER_HEADERS.source] = letter.source;
  expect(text).toEqual(expected);
}
