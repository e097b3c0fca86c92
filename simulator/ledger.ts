import type { SourceName } from '../runtime/sources.ts';
import { blobCollected } from './management-api/management-api.ts';
import type { GraphSourceKey } from './records/graph-records.ts';
import { RETAINED_SOURCES, UPDATABLE_SOURCES, graphRecordId } from './records/graph-records.ts';
import { managementRecordId } from './records/management-records.ts';
import type { Tenant } from './tenant-state.ts';

/** Every record id a source made available, with when: what tests compare the pipeline against. */

export interface LedgerEntry {
  id: string;
  availableAt: string;
  eventTime: string;
  contentId?: string;
  /** Records changed in place: 0 for the record as first published, n for its n-th update. */
  version?: number;
  /** Records changed in place: the record's last-update time in this version. */
  updatedAt?: string;
}

export interface Ledger {
  tenantId: string;
  source: SourceName;
  records: LedgerEntry[];
  /** Records generated but not yet published (still inside their publication delay). */
  pending: number;
  /** Management API only: records published while no subscription was collecting them (never retrievable). */
  notCollected: number;
  /** Graph reports only: records past the tenant's retention (Free 7 days, P1/P2 30), no longer served. */
  expired: number;
}

export function buildLedger(tenant: Tenant, source: SourceName, now: number): Ledger {
  tenant.advance(now);
  const feed = tenant.feed(source);
  const records: LedgerEntry[] = [];
  let pending = 0;
  let notCollected = 0;
  let expired = 0;
  if (source.startsWith('management:')) {
    const contentType = source.slice('management:'.length);
    const ctx = tenant.managementContext();
    const sub = tenant.subscriptions.get(contentType);
    const seen = new Set<number>();
    for (const blob of feed.blobs) {
      if (blob.reserveOf !== undefined) continue;
      if (blob.contentCreatedMs > now) {
        pending += blob.count;
        continue;
      }
      if (!blobCollected(sub, blob)) {
        notCollected += blob.count;
        continue;
      }
      for (let i = blob.firstIndex; i < blob.firstIndex + blob.count; i++) {
        if (seen.has(i)) continue;
        seen.add(i);
        records.push({
          id: managementRecordId(ctx, contentType, i),
          availableAt: new Date(blob.contentCreatedMs).toISOString(),
          eventTime: new Date(feed.eventTimeOf(i)).toISOString(),
          contentId: blob.contentId,
        });
      }
    }
  } else {
    const key = source.slice('graph:'.length) as GraphSourceKey;
    const ctx = tenant.graphContext();
    const retainedFrom = RETAINED_SOURCES.has(key) ? now - tenant.graphRetentionMs : Number.NEGATIVE_INFINITY;
    for (const batch of feed.batches) {
      if (batch.availableAtMs > now) {
        pending += batch.count;
        continue;
      }
      for (let i = batch.firstIndex; i < batch.firstIndex + batch.count; i++) {
        if (feed.eventTimeOf(i) < retainedFrom) {
          expired++;
          continue;
        }
        const id = graphRecordId(ctx, key, i);
        const eventTime = new Date(feed.eventTimeOf(i)).toISOString();
        if (!UPDATABLE_SOURCES.has(key)) {
          records.push({ id, availableAt: new Date(batch.availableAtMs).toISOString(), eventTime });
          continue;
        }
        // Every version a poller could have seen: the first one and each published update.
        records.push({ id, availableAt: new Date(batch.availableAtMs).toISOString(), eventTime, version: 0, updatedAt: eventTime });
        for (const [n, u] of (feed.updates.get(i) ?? []).entries()) {
          if (u.availableAtMs > now) {
            pending++;
            continue;
          }
          records.push({
            id,
            availableAt: new Date(Math.max(u.availableAtMs, batch.availableAtMs)).toISOString(),
            eventTime,
            version: n + 1,
            updatedAt: new Date(u.atMs).toISOString(),
          });
        }
      }
    }
  }
  return { tenantId: tenant.tenantId, source, records, pending, notCollected, expired };
}
