import type { DeadLetterCode } from './contracts/dead-letter.ts';

/**
 * A record's fate in a stage, returned as a value and handled in one place (STYLE.md practice 2).
 */
export type Outcome<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'dead-letter'; readonly code: DeadLetterCode; readonly reason: string }
  | { readonly kind: 'skip'; readonly reason: string };

export const ok = <T>(value: T): Outcome<T> => ({ kind: 'ok', value });
export const deadLetter = <T = never>(code: DeadLetterCode, reason: string): Outcome<T> => ({ kind: 'dead-letter', code, reason });
export const skip = <T = never>(reason: string): Outcome<T> => ({ kind: 'skip', reason });
