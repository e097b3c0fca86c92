import { z } from 'zod';
import { CLOUDS } from '../clouds.ts';
import { SOURCES } from '../sources.ts';

/**
 * Value of the compacted topic `m365.tenants`, key = organization id. Written only by the control plane;
 * read by ingest (which tenants to poll and what) and by the control plane itself on restart.
 * A null value (tombstone) means the organization was deleted.
 */
export const CONNECTION_STATUSES = ['not_connected', 'connecting', 'waiting_for_first_events', 'active', 'needs_attention', 'disconnected'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

export const sourceSchema = z.enum(SOURCES);

export const pollingPlanSchema = z.object({
  /** False while not connected, disconnected, or before the tenant is pinned. */
  enabled: z.boolean(),
  /** Sources to poll now: every source the connection covers minus those paused for missing roles. */
  sources: z.array(sourceSchema),
  /** Sources paused and why (missing application roles while an upgrade is pending). */
  paused: z.array(z.object({ source: sourceSchema, reason: z.string(), missingRoles: z.array(z.string()) })),
  /**
   * Bumped when the operator asks ingest to re-fetch (replay --refetch) so pollers rewind their cursors to
   * `refetchFrom` exactly once per generation.
   */
  refetchGeneration: z.number().int().nonnegative().default(0),
  refetchFrom: z.string().nullable().default(null),
  /**
   * Bumped when the operator asks for the history of a period (replay --backfill): ingest runs one Audit Search API
   * back-fill from `backfillFrom` per generation (absent: 0, the back-fill a new organization gets on connection).
   */
  backfillGeneration: z.number().int().nonnegative().optional(),
  backfillFrom: z.string().nullable().optional(),
  /**
   * Roles the back-fill needs and the tenant has not granted (permission manifest version 4 on; docs/decisions/0202):
   * non-empty means ingest does not query and shows the back-fill "not permitted". Absent on older plans.
   */
  backfillMissingRoles: z.array(z.string()).optional(),
});
export type PollingPlan = z.infer<typeof pollingPlanSchema>;

export const tenantConnectionSchema = z.object({
  schemaVersion: z.literal(1),
  orgId: z.string().min(1),
  orgName: z.string(),
  /** Monotonic per organization; lets readers ignore stale values. */
  revision: z.number().int().nonnegative(),
  updatedAt: z.string(),
  connection: z
    .object({
      cloud: z.enum(CLOUDS),
      /** The pinned tenant id (GUID); null until the first consent returns. */
      tenantId: z.string().nullable(),
      status: z.enum(CONNECTION_STATUSES),
      autoUpgrade: z.boolean(),
      manifestVersion: z.number().int().positive(),
      requiredRoles: z.array(z.string()),
      grantedRoles: z.array(z.string()),
      polling: pollingPlanSchema,
      connectedAt: z.string().nullable(),
    })
    .nullable(),
});
export type TenantConnection = z.infer<typeof tenantConnectionSchema>;
