/**
 * Avro schema compatibility as the Confluent Schema Registry defines it, checked with Avro schema resolution:
 * BACKWARD = the new schema can read data written with the old one; FORWARD = the old schema can read data written
 * with the new one; FULL = both; *_TRANSITIVE = against every earlier version, not just the previous one.
 */
import { parseAvroType } from './siem-event-codec.ts';

export interface CompatibilityProblem {
  readonly olderVersion: number;
  readonly direction: 'backward' | 'forward';
  readonly message: string;
}

function canRead(readerSchema: unknown, writerSchema: unknown): string | null {
  try {
    parseAvroType(readerSchema).createResolver(parseAvroType(writerSchema));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Problems that make `candidate` not FULL_TRANSITIVE-compatible with `earlier` (oldest first); empty = compatible. */
export function fullTransitiveProblems(candidate: unknown, earlier: ReadonlyArray<{ version: number; schema: unknown }>): CompatibilityProblem[] {
  const problems: CompatibilityProblem[] = [];
  for (const old of earlier) {
    const backward = canRead(candidate, old.schema);
    if (backward) problems.push({ olderVersion: old.version, direction: 'backward', message: backward });
    const forward = canRead(old.schema, candidate);
    if (forward) problems.push({ olderVersion: old.version, direction: 'forward', message: forward });
  }
  return problems;
}
