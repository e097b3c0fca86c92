/**
 * Organizations, event-sourced in the compacted topic `m365.tenants` (docs/decisions/0020). The value per key is
 * the TenantConnection contract that ingest reads plus the control plane's own `controlPlane` block (consumed
 * consent nonces, verification result, pending upgrade). Because the topic is compacted, everything the control
 * plane must remember lives inside the organization's latest value, bounded. The history of changes lives in its
 * own compacted topic, bounded in bytes (organization-history.ts, decision 0110).
 *
 * Writes for one organization are serialized; the in-memory view changes only after Kafka acknowledged the write.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { tenantConnectionSchema, type KafkaClient, type KafkaProducer, type Logger } from '../runtime/index.ts';
import type { Actor } from './auth.ts';
import { historyEntrySchema, OrganizationHistory, type HistoryEntry } from './organization-history.ts';

export { historyEntrySchema, type HistoryEntry } from './organization-history.ts';

export const verificationSchema = z.object({
  at: z.string(),
  ok: z.boolean(),
  /** A status reason when not ok. */
  reason: z.string().nullable(),
  message: z.string().nullable(),
  aadsts: z.number().nullable().default(null),
});
export type Verification = z.infer<typeof verificationSchema>;

export const pendingUpgradeSchema = z.object({
  missingRoles: z.array(z.string()),
  manifestVersion: z.number().int(),
  requestedAt: z.string(),
  /** Why it is pending: auto-upgrade off, or auto-upgrade on but not possible / failed. */
  why: z.string(),
});
export type PendingUpgrade = z.infer<typeof pendingUpgradeSchema>;

export const controlPlaneBlockSchema = z.object({
  createdAt: z.string(),
  /** The tenant as the operator typed it (GUID or domain); the resolved GUID is `connection.tenantId`. */
  requestedTenant: z.string().nullable().default(null),
  pendingUpgrade: pendingUpgradeSchema.nullable().default(null),
  verification: verificationSchema.nullable().default(null),
  /**
   * The last consent Microsoft confirmed, with the tenant the administrator's verified id_token named; `verifiedAt`
   * stays null until a verification with fresh tokens succeeded after it (the propagation window, docs/decisions/0101).
   */
  consent: z
    .object({ at: z.string(), tenantId: z.string(), purpose: z.string(), by: z.string().default(''), verifiedAt: z.string().nullable() })
    .nullable()
    .default(null),
  /** Nonces of consent states already used, kept until their state expires (single use). */
  consumedNonces: z.array(z.object({ nonce: z.string(), exp: z.number() })).default([]),
  /** Legacy: history kept in this value before decision 0110; moved to the history topic at start, dropped on the next write. */
  history: z.array(historyEntrySchema).optional(),
});

export const organizationRecordSchema = tenantConnectionSchema.extend({ controlPlane: controlPlaneBlockSchema });
export type OrganizationRecord = z.infer<typeof organizationRecordSchema>;
export type Connection = NonNullable<OrganizationRecord['connection']>;

export function newOrganizationId(): string {
  // 12 base32-ish characters: short enough to type, 60 bits of randomness.
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return `org_${id}`;
}

export const ORGANIZATION_ID_PATTERN = /^org_[a-z0-9]{4,40}$/;

export interface HistoryInput {
  action: string;
  message: string;
  detail?: Record<string, unknown>;
}

export interface MutationResult<T> {
  /** The new value; `null` deletes the organization (tombstone); `undefined` leaves it unchanged. */
  record: OrganizationRecord | null | undefined;
  history?: HistoryInput[];
  result: T;
}

export interface OrganizationStoreOptions {
  kafka: KafkaClient;
  topic: string;
  logger: Logger;
  /** Compacted topic of the organizations' histories (decision 0110). */
  historyTopic: string;
  /** Bytes of history kept per organization. */
  historyMaxBytes: number;
  now?: () => number;
}

export class OrganizationStore {
  private readonly records = new Map<string, OrganizationRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private producer: KafkaProducer | null = null;
  private readonly now: () => number;
  private readonly histories: OrganizationHistory;
  loaded = false;

  constructor(private readonly options: OrganizationStoreOptions) {
    this.now = options.now ?? Date.now;
    this.histories = new OrganizationHistory({ kafka: options.kafka, topic: options.historyTopic, logger: options.logger, maxBytes: options.historyMaxBytes });
  }

  /** Rebuilds the view by reading the topic to its end, then opens the producer. */
  async start(): Promise<void> {
    this.records.clear();
    const values = await this.options.kafka.readCompactedToEnd(this.options.topic, 'm365siem-controlplane');
    let skipped = 0;
    for (const [key, value] of values) {
      if (value === null) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value.toString('utf8'));
      } catch {
        skipped++;
        continue;
      }
      const result = organizationRecordSchema.safeParse(parsed);
      if (result.success && result.data.orgId === key) this.records.set(key, result.data);
      else skipped++;
    }
    if (skipped > 0) this.options.logger.error({ skipped, topic: this.options.topic }, 'ignored unreadable organization values while rebuilding');
    const producer = this.options.kafka.producer();
    await producer.connect();
    this.producer = producer;
    await this.histories.start();
    // One-time move of histories written inside the organization value (before decision 0110).
    for (const record of this.records.values()) {
      const legacy = record.controlPlane.history ?? [];
      if (legacy.length > 0 && !this.histories.has(record.orgId)) await this.histories.append(record.orgId, legacy);
    }
    this.loaded = true;
    this.options.logger.info({ organizations: this.records.size }, 'organization state rebuilt from topic');
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
    await this.producer?.disconnect();
    this.producer = null;
    await this.histories.close();
  }

  get(orgId: string): OrganizationRecord | undefined {
    return this.records.get(orgId);
  }

  /** The organization's history, oldest first (as much as its byte bound keeps). */
  history(orgId: string): HistoryEntry[] {
    return this.histories.entries(orgId);
  }

  list(): OrganizationRecord[] {
    return [...this.records.values()].sort((a, b) => a.controlPlane.createdAt.localeCompare(b.controlPlane.createdAt));
  }

  /** The organization whose connection is pinned to `tenantId`, if any. */
  findByTenant(tenantId: string): OrganizationRecord | undefined {
    const key = tenantId.toLowerCase();
    return this.list().find((r) => r.connection?.tenantId?.toLowerCase() === key);
  }

  /**
   * Runs `change` on the latest value of one organization, serialized with every other change to it, and writes
   * the outcome to the topic before the view (and the caller) sees it.
   */
  mutate<T>(orgId: string, actor: Actor, change: (current: OrganizationRecord | undefined) => MutationResult<T> | Promise<MutationResult<T>>): Promise<T> {
    const previous = this.locks.get(orgId) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const current = this.records.get(orgId);
        const draftInput = current ? (structuredClone(current) as OrganizationRecord) : undefined;
        const outcome = await change(draftInput);
        if (outcome.record === undefined && !(outcome.history?.length && current)) return outcome.result;
        if (outcome.record === null) {
          await this.write(orgId, null);
          this.records.delete(orgId);
          await this.histories.remove(orgId);
          this.options.logger.info({ orgId, actor: actor.label }, 'organization deleted');
          return outcome.result;
        }
        const next = outcome.record ?? (structuredClone(current) as OrganizationRecord);
        const at = new Date(this.now()).toISOString();
        const entries = (outcome.history ?? []).map((h) => ({
          at,
          actor: { role: actor.role, label: actor.label },
          action: h.action,
          message: h.message,
          detail: h.detail ?? {},
        }));
        delete next.controlPlane.history;
        const nowMs = this.now();
        next.controlPlane.consumedNonces = next.controlPlane.consumedNonces.filter((n) => n.exp > nowMs);
        // A change that only adds history (a refused consent, an approval) leaves the value ingest reads untouched.
        if (!current || !sameContent(current, next)) {
          next.revision = (current?.revision ?? 0) + 1;
          next.updatedAt = at;
          const validated = organizationRecordSchema.parse(next);
          await this.write(orgId, validated);
          this.records.set(orgId, validated);
        }
        await this.histories.append(orgId, entries);
        if (entries.length > 0) {
          this.options.logger.info(
            { orgId, revision: this.records.get(orgId)?.revision, actor: actor.label, actions: entries.map((e) => e.action) },
            'organization changed',
          );
        }
        return outcome.result;
      });
    const tracked: Promise<unknown> = run
      .catch(() => undefined)
      .finally(() => {
        if (this.locks.get(orgId) === tracked) this.locks.delete(orgId);
      });
    this.locks.set(orgId, tracked);
    return run;
  }

  private async write(orgId: string, value: OrganizationRecord | null): Promise<void> {
    if (!this.producer) throw new Error('organization store is not started');
    await this.producer.send({
      topic: this.options.topic,
      acks: -1,
      messages: [{ key: orgId, value: value === null ? null : JSON.stringify(value) }],
    });
  }
}

function sameContent(a: OrganizationRecord, b: OrganizationRecord): boolean {
  const strip = (r: OrganizationRecord) => JSON.stringify({ ...r, revision: 0, updatedAt: '' });
  return strip(a) === strip(b);
}
