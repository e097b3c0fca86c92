import { z } from 'zod';
import { sourceSchema } from './tenant-connection.ts';

/**
 * Value of the compacted topic `m365.status`, key = `${orgId}|${source}`. Written by ingest after each poll
 * cycle of a source (and on each state change); read by the control plane to tell the truth about a
 * connection (guarantee 5).
 */
export const STATUS_REASONS = [
  'consent_revoked',
  'secret_invalid',
  'secret_expired',
  'tenant_not_found',
  'audit_logging_off',
  'subscription_disabled',
  'permission_missing',
  'licence_missing',
  'throttled',
  'lagging',
  'data_loss_risk',
  'microsoft_unavailable',
  'malformed_response',
  'tenant_mismatch',
  'kafka_unavailable',
  // Entra ID refusals of the application itself (docs/consent.md, reasons table); each needs an operator's change.
  'certificate_invalid',
  'application_disabled',
  'conditional_access',
  'wrong_cloud',
  'service_not_subscribed',
  /** A fresh consent not yet visible to the token service (AADSTS700016 or roles missing inside the window). */
  'consent_propagating',
  /** An error nobody classified: reported with an error id that is in the log, never as "Microsoft unavailable". */
  'internal_error',
] as const;
export type StatusReason = (typeof STATUS_REASONS)[number];

/**
 * Refusals that no retry can fix: they need an operator's or a tenant administrator's change (a new consent, a
 * repair, a new credential or configuration). Pollers and the control plane stop retrying them until the
 * organization's connection changes or the service restarts with new configuration.
 */
export const PERMANENT_REFUSALS: ReadonlySet<StatusReason> = new Set<StatusReason>([
  'certificate_invalid',
  'application_disabled',
  'conditional_access',
  'wrong_cloud',
  'service_not_subscribed',
]);

/**
 * Whether each reason may clear by itself, without anybody's change (throttling, an outage, propagation), or needs
 * an operator's or a tenant administrator's action (consent, credential, licence, configuration). Pollers retry
 * with backoff either way, from an unchanged cursor, except the PERMANENT_REFUSALS, which wait for a change.
 * docs/error-codes.md is generated from this table.
 */
export const STATUS_REASON_RETRIABLE: Readonly<Record<StatusReason, boolean>> = {
  consent_revoked: false,
  secret_invalid: false,
  secret_expired: false,
  tenant_not_found: false,
  audit_logging_off: false,
  subscription_disabled: false,
  permission_missing: false,
  licence_missing: false,
  throttled: true,
  lagging: true,
  data_loss_risk: true,
  microsoft_unavailable: true,
  malformed_response: true,
  tenant_mismatch: false,
  kafka_unavailable: true,
  certificate_invalid: false,
  application_disabled: false,
  conditional_access: false,
  wrong_cloud: false,
  service_not_subscribed: false,
  consent_propagating: true,
  internal_error: true,
};

export const SOURCE_STATES = ['ok', 'degraded', 'failing', 'unavailable_licence', 'paused'] as const;
export type SourceState = (typeof SOURCE_STATES)[number];

export const BACKFILL_STATES = ['querying', 'fetching', 'succeeded', 'failed', 'not_offered', 'not_permitted'] as const;

/**
 * History before the connection (Management sources): the Audit Search API back-fill's query state, what it fetched
 * and published (records the Management API had already delivered count as duplicates), and its outcome.
 */
export const backfillStatusSchema = z.object({
  generation: z.number().int().nonnegative(),
  state: z.enum(BACKFILL_STATES),
  /** Microsoft's status of the audit log query: notStarted, running, succeeded, failed, cancelled. */
  queryStatus: z.string().nullable(),
  from: z.string(),
  to: z.string(),
  recordsFetched: z.number().int().nonnegative(),
  published: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  message: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /**
   * Microsoft's approximateReturnedRecordCount of the succeeded query: about how many records the fetching pages
   * hold ("can be higher or lower … due to distributed counting"), the total a progress bar measures against.
   */
  recordsExpected: z.number().int().nonnegative().nullable().default(null),
  /** When the query had succeeded and paging its records began: the start of the fetching rate. */
  fetchingStartedAt: z.string().nullable().default(null),
});
export type BackfillStatus = z.infer<typeof backfillStatusSchema>;

/**
 * An operator's re-fetch as one source runs it (replay --refetch): its cursor was rewound from `until` (where it
 * stood) to `from`, and has reached `cursorAt` since `startedAt`; done once the cursor is back at `until`.
 */
export const refetchStatusSchema = z.object({
  generation: z.number().int().nonnegative(),
  from: z.string(),
  until: z.string(),
  startedAt: z.string(),
  cursorAt: z.string().nullable(),
});
export type RefetchStatus = z.infer<typeof refetchStatusSchema>;

/** Why Microsoft will never serve an interval (docs/ingest.md, "Gaps"). */
export const DATA_LOSS_CAUSES = ['subscription_started', 'subscription_restarted', 'retention_passed'] as const;
export type DataLossCause = (typeof DATA_LOSS_CAUSES)[number];

/** A data-loss marker: content of [from, to) that Microsoft will never serve, recorded durably by ingest. */
export const dataLossGapSchema = z.object({
  from: z.string(),
  to: z.string(),
  cause: z.enum(DATA_LOSS_CAUSES),
  recordedAt: z.string(),
});
export type DataLossGap = z.infer<typeof dataLossGapSchema>;

export const sourceStatusSchema = z.object({
  schemaVersion: z.literal(1),
  orgId: z.string().min(1),
  tenantId: z.string(),
  source: sourceSchema,
  state: z.enum(SOURCE_STATES),
  reason: z.enum(STATUS_REASONS).nullable(),
  /** Human-readable detail, e.g. Microsoft's error code and message (never a token or secret). */
  message: z.string().nullable(),
  /** For licence_missing: the licence the report needs (e.g. "Microsoft Entra ID P1"). */
  licenceRequired: z.string().nullable().default(null),
  lastSuccessAt: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  /** Newest event time seen (event time, not fetch time). */
  lastEventAt: z.string().nullable(),
  firstEventAt: z.string().nullable().default(null),
  /** Seconds between now and the cursor: how far behind Microsoft this source is. */
  lagSeconds: z.number().nullable(),
  /** Hours left before the oldest unfetched window passes Microsoft's 7-day limit; null when nothing is failing. */
  hoursUntilDataLoss: z.number().nullable().default(null),
  /** Data-loss markers of this source, newest last (bounded): intervals Microsoft will never serve. */
  gaps: z.array(dataLossGapSchema).default([]),
  counts: z.object({
    recordsPublished: z.number().int().nonnegative(),
    duplicatesSkipped: z.number().int().nonnegative(),
    deadLettered: z.number().int().nonnegative(),
    errors: z.number().int().nonnegative(),
    /** Records published in the last 24 hours (by publish time). */
    events24h: z.number().int().nonnegative(),
  }),
  updatedAt: z.string(),
  /** Management sources of an organization that was back-filled; absent elsewhere. */
  backfill: backfillStatusSchema.nullable().optional(),
  /** The latest re-fetch this source ran, with where its cursor is (absent before the first). */
  refetch: refetchStatusSchema.nullable().optional(),
});
export type SourceStatus = z.infer<typeof sourceStatusSchema>;

export function statusKey(orgId: string, source: string): string {
  return `${orgId}|${source}`;
}
