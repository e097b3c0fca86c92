/**
 * What to do with one `_bulk` item result, and with a `_bulk` request that failed as a whole. The rules are the
 * Vector elasticsearch sink's: retry 429 and 5xx, give up on other 4xx (dead letter), retry only the failed items.
 * One addition: a 409 on `create` means the document is already there, which is success (docs/decisions/0040).
 */
import type { DeadLetterCode } from '../runtime/index.ts';

export type ItemVerdict =
  | { readonly kind: 'indexed' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'retry'; readonly reason: 'throttled' | 'server_error' }
  | { readonly kind: 'dead-letter'; readonly code: DeadLetterCode; readonly reason: string };

export interface BulkItemError {
  type?: string;
  reason?: string;
  caused_by?: { type?: string; reason?: string };
}

/** Error types that mean "this document does not fit the mapping". */
const MAPPING_ERROR_TYPES = new Set([
  'mapper_parsing_exception',
  'document_parsing_exception',
  'strict_dynamic_mapping_exception',
  'illegal_argument_exception',
  'json_parse_exception',
  'x_content_parse_exception',
  'number_format_exception',
]);

export function classifyItem(status: number, error: BulkItemError | undefined, opType: 'create' | 'index'): ItemVerdict {
  if (status >= 200 && status < 300) return { kind: 'indexed' };
  if (status === 409 && opType === 'create') return { kind: 'duplicate' };
  if (status === 429) return { kind: 'retry', reason: 'throttled' };
  if (status >= 500) return { kind: 'retry', reason: 'server_error' };
  const type = error?.type ?? 'unknown';
  const reason = describeError(status, error);
  if (MAPPING_ERROR_TYPES.has(type) || (error?.caused_by?.type !== undefined && MAPPING_ERROR_TYPES.has(error.caused_by.type))) {
    return { kind: 'dead-letter', code: 'mapping_error', reason };
  }
  if (type === 'index_closed_exception') return { kind: 'dead-letter', code: 'index_closed', reason };
  if (type === 'cluster_block_exception') return { kind: 'dead-letter', code: 'index_blocked', reason };
  if (type === 'invalid_index_name_exception') return { kind: 'dead-letter', code: 'invalid_index_name', reason };
  return { kind: 'dead-letter', code: 'index_rejected', reason };
}

export function describeError(status: number, error: BulkItemError | undefined): string {
  if (!error) return `HTTP ${status}`;
  const cause = error.caused_by ? ` (caused by ${error.caused_by.type ?? 'unknown'}: ${error.caused_by.reason ?? ''})` : '';
  return `HTTP ${status} ${error.type ?? 'unknown'}: ${error.reason ?? ''}${cause}`.slice(0, 4000);
}

/**
 * A `_bulk` request that failed as a whole: nothing is known about its items.
 * - no response (connection refused/reset, timeout): OpenSearch unavailable → retry all, forever (backpressure);
 * - 429 / 5xx: retry all;
 * - other 4xx (e.g. 400 for a body OpenSearch cannot split, 413 too large): the items must be tried one by one to
 *   find which one is bad; a single-item request rejected this way is dead-lettered.
 */
export type RequestVerdict =
  | { readonly kind: 'retry'; readonly reason: 'unavailable' | 'throttled' | 'server_error' }
  | { readonly kind: 'split'; readonly code: DeadLetterCode; readonly reason: string };

export function classifyRequestFailure(statusCode: number | undefined, message: string): RequestVerdict {
  if (statusCode === undefined || statusCode === 0) return { kind: 'retry', reason: 'unavailable' };
  if (statusCode === 429) return { kind: 'retry', reason: 'throttled' };
  if (statusCode >= 500) return { kind: 'retry', reason: 'server_error' };
  if (statusCode === 401 || statusCode === 403) {
    // Credentials or permissions: every document would fail the same way, so waiting (and alerting) is right;
    // dead-lettering the whole stream would hide an operator problem as data problems.
    return { kind: 'retry', reason: 'server_error' };
  }
  return { kind: 'split', code: statusCode === 413 ? 'document_too_large' : 'bulk_request_rejected', reason: `HTTP ${statusCode}: ${message}`.slice(0, 4000) };
}
