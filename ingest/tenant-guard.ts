import { buildDeadLetter, type DeadLetterCode, type SourceName } from '../runtime/index.ts';
import type { OutMessage } from './raw-publisher.ts';

/**
 * Guarantee 3, record level: a record is attributed only to the organization whose tenant served it. A record
 * naming another tenant (`OrganizationId` in Management API records, `tenantId` in Graph records) is refused:
 * dead-lettered, counted, logged as an error and raised in status as tenant_mismatch — never published.
 */

export type GuardVerdict = { kind: 'ok' } | { kind: 'tenant_mismatch'; foundTenantId: string } | { kind: 'malformed'; reason: string };

const TENANT_FIELDS: Record<'management' | 'graph', readonly string[]> = {
  management: ['OrganizationId'],
  graph: ['tenantId'],
};

export function guardRecord(record: unknown, tenantId: string, api: 'management' | 'graph'): GuardVerdict {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return { kind: 'malformed', reason: `record is ${Array.isArray(record) ? 'an array' : record === null ? 'null' : typeof record}, not an object` };
  }
  const r = record as Record<string, unknown>;
  for (const field of TENANT_FIELDS[api]) {
    const value = r[field];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string' || value.trim().toLowerCase() !== tenantId.toLowerCase()) {
      return { kind: 'tenant_mismatch', foundTenantId: String(value).slice(0, 100) };
    }
  }
  return { kind: 'ok' };
}

/** An ingest dead letter (refused record) through the runtime's one builder: one header set, one size rule. */
export function deadLetterMessage(
  topic: string,
  d: { orgId: string; source: SourceName; errorCode: DeadLetterCode; errorMessage: string; input: unknown; nowMs: number },
  maxRecordBytes: number,
): OutMessage {
  const text = typeof d.input === 'string' ? d.input : (JSON.stringify(d.input) ?? 'undefined');
  const letter = buildDeadLetter(
    {
      stage: 'ingest',
      orgId: d.orgId,
      source: d.source,
      errorCode: d.errorCode,
      errorMessage: d.errorMessage,
      input: text,
      origin: null,
      at: new Date(d.nowMs),
    },
    maxRecordBytes,
  );
  return { topic, ...letter };
}
