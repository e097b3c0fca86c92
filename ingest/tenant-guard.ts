import { deadLetterInput, type DeadLetter, type SourceName } from '../runtime/index.ts';
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

export function deadLetterMessage(
  topic: string,
  d: { orgId: string; source: SourceName; errorCode: string; errorMessage: string; input: unknown; nowMs: number },
): OutMessage {
  const text = typeof d.input === 'string' ? d.input : JSON.stringify(d.input) ?? 'undefined';
  const value: DeadLetter = {
    stage: 'ingest',
    orgId: d.orgId,
    source: d.source,
    errorCode: d.errorCode,
    errorMessage: d.errorMessage,
    ...deadLetterInput(text.length > 900_000 ? `${text.slice(0, 900_000)}…[truncated]` : text),
    origin: null,
    at: new Date(d.nowMs).toISOString(),
  };
  return { topic, key: d.orgId, value: JSON.stringify(value), headers: { 'm365-source': d.source, 'm365-stage': 'ingest' } };
}
