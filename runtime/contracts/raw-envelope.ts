import { z } from 'zod';
import { sourceSchema } from './tenant-connection.ts';

/**
 * Value of `m365.raw`, key = organization id. `record` is Microsoft's record verbatim;
 * `contentType`/`contentId` only for the Management Activity API (ARCHITECTURE.md § Topics).
 */
export const rawEnvelopeSchema = z.object({
  orgId: z.string().min(1),
  tenantId: z.string().min(1),
  source: sourceSchema,
  contentType: z.string().optional(),
  contentId: z.string().optional(),
  fetchedAt: z.string(),
  record: z.record(z.string(), z.unknown()),
});
export type RawEnvelope = z.infer<typeof rawEnvelopeSchema>;

/** Kafka header names carried on `m365.raw` messages. */
export const RAW_HEADERS = { source: 'm365-source', contentType: 'm365-content-type' } as const;
