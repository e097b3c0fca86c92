/**
 * Operator-requested back-fill (`m365-siem replay --backfill`): ingest fetches one organization's unified audit log from
 * a point in time through the Audit Search API (ingest/audit-search-backfill.ts). Like a re-fetch (refetch.ts), the
 * control plane only records the request in the connection (m365.tenants): `polling.backfillGeneration` goes up by one
 * and `polling.backfillFrom` says from when; ingest runs one back-fill per generation (docs/decisions/0155).
 */
import { z } from 'zod';
import { ApiError, type Actor } from './auth.ts';
import type { OrganizationStore } from './organization-store.ts';
import { recordPollingRequest } from './refetch.ts';

/** Audit (Standard) keeps unified audit log records 180 days (Microsoft Purview, "Audit log retention policies"). */
export const AUDIT_RETENTION_MS = 180 * 24 * 60 * 60 * 1000;

export const backfillBody = z
  .object({
    from: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 date-time such as 2026-11-20T00:00:00Z' }),
  })
  .strict();

export const backfillResponse = z.object({
  orgId: z.string(),
  backfillGeneration: z.number().int(),
  backfillFrom: z.string(),
});
export type BackfillResponse = z.infer<typeof backfillResponse>;

/** Records a back-fill request; `from` older than the audit retention or in the future is refused with the reason. */
export async function requestBackfill(store: OrganizationStore, actor: Actor, orgId: string, from: string, now: number): Promise<BackfillResponse> {
  const fromMs = Date.parse(from);
  if (fromMs <= now - AUDIT_RETENTION_MS)
    throw new ApiError(400, 'invalid_request', 'body.from: older than the unified audit log keeps records (180 days on Audit Standard)', 'body.from');
  if (fromMs > now) throw new ApiError(400, 'invalid_request', 'body.from: in the future', 'body.from');
  const backfillFrom = new Date(fromMs).toISOString();
  return recordPollingRequest(store, actor, orgId, 'back-fill', (polling) => {
    const backfillGeneration = (polling.backfillGeneration ?? 0) + 1;
    return {
      polling: { ...polling, backfillGeneration, backfillFrom },
      action: 'connection.backfill_requested',
      message: `back-fill through the Audit Search API requested from ${backfillFrom} (generation ${backfillGeneration})`,
      detail: { backfillFrom, backfillGeneration },
      result: { orgId, backfillGeneration, backfillFrom },
    };
  });
}
