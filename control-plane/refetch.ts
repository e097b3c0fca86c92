/**
 * Operator-requested re-fetch (`m365-siem replay --refetch`): ingest re-polls Microsoft for one organization from a
 * point in time within Microsoft's 7-day window. The control plane only records the request in the organization's
 * connection (m365.tenants): `polling.refetchGeneration` goes up by one and `polling.refetchFrom` says from when.
 * Each poller rewinds its cursor once per generation (ingest/ingest-service.ts applyRefetch); ids it already
 * published in the re-fetched span are forgotten so they are published again, and the index stays one document per
 * event because document ids derive from organization and event id (docs/decisions/0081).
 */
import { z } from 'zod';
import { ApiError, type Actor } from './auth.ts';
import type { OrganizationStore } from './organization-store.ts';
import type { PollingPlan } from '../runtime/index.ts';

/** How long Microsoft keeps content retrievable (Management Activity API; the Graph reports keep at least as long). */
export const MICROSOFT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export const refetchBody = z
  .object({
    from: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 date-time such as 2026-11-20T00:00:00Z' }).optional(),
  })
  .strict();

export const refetchResponse = z.object({
  orgId: z.string(),
  refetchGeneration: z.number().int(),
  refetchFrom: z.string(),
});
export type RefetchResponse = z.infer<typeof refetchResponse>;

/**
 * Records a re-fetch request. `from` defaults to the oldest point Microsoft still serves (7 days back, plus a minute
 * of margin); older or future times are refused with the reason.
 */
export async function requestRefetch(store: OrganizationStore, actor: Actor, orgId: string, from: string | undefined, now: number): Promise<RefetchResponse> {
  const oldest = now - MICROSOFT_RETENTION_MS;
  const fromMs = from === undefined ? oldest + 60_000 : Date.parse(from);
  if (fromMs <= oldest)
    throw new ApiError(
      400,
      'invalid_request',
      'body.from: older than Microsoft keeps content (7 days); m365.raw holds older records: use replay without --refetch',
      'body.from',
    );
  if (fromMs > now) throw new ApiError(400, 'invalid_request', 'body.from: in the future', 'body.from');
  const refetchFrom = new Date(fromMs).toISOString();
  return recordPollingRequest(store, actor, orgId, 're-fetch', (polling) => {
    const refetchGeneration = polling.refetchGeneration + 1;
    return {
      polling: { ...polling, refetchGeneration, refetchFrom },
      action: 'connection.refetch_requested',
      message: `re-fetch from Microsoft requested from ${refetchFrom} (generation ${refetchGeneration})`,
      detail: { refetchFrom, refetchGeneration },
      result: { orgId, refetchGeneration, refetchFrom },
    };
  });
}

/**
 * Records an operator's request to ingest in a polled organization's connection (re-fetch, back-fill): `plan` changes
 * the polling plan, and the change is one history entry. Refused for an organization that is not connected or polled.
 */
export async function recordPollingRequest<R>(
  store: OrganizationStore,
  actor: Actor,
  orgId: string,
  what: string,
  plan: (polling: PollingPlan) => { polling: PollingPlan; action: string; message: string; detail: Record<string, unknown>; result: R },
): Promise<R> {
  return store.mutate(orgId, actor, (current) => {
    if (!current) throw new ApiError(404, 'not_found', `organization ${orgId} does not exist`);
    const connection = current.connection;
    if (!connection?.tenantId || !connection.connectedAt) throw new ApiError(409, 'not_connected', `organization ${orgId} is not connected`);
    if (connection.status === 'disconnected' || !connection.polling.enabled) {
      throw new ApiError(409, 'not_polling', `organization ${orgId} is not being polled (status ${connection.status}); nothing would ${what}`);
    }
    const change = plan(connection.polling);
    connection.polling = change.polling;
    return { record: current, history: [{ action: change.action, message: change.message, detail: change.detail }], result: change.result };
  });
}
