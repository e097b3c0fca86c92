/**
 * Organization histories in their own compacted topic (decision 0110), out of the `m365.tenants` value that every
 * ingest instance reads: a history bounded by count made that value grow until, after ~200 renames, Kafka refused
 * every write of the organization.
 *
 * Bounded in bytes: an organization's history is a ring of chunks, key `{orgId}|{seq}`, each a JSON value of at
 * most `chunkBytes`; at most `maxBytes / chunkBytes` chunks are kept, and opening one more tombstones the oldest. So
 * one organization never holds more than `maxBytes` in the topic, one write never sends more than one chunk (plus a
 * tombstone), and compaction keeps exactly the live chunks. One entry is at most ENTRY_MAX_BYTES (a longer one is
 * cut, and says so).
 *
 * Writes of one organization are serialized by the OrganizationStore's per-organization lock, which calls append.
 */
import { z } from 'zod';
import type { KafkaClient, KafkaProducer, Logger } from '../runtime/index.ts';

export const historyEntrySchema = z.object({
  at: z.string(),
  actor: z.object({ role: z.string(), label: z.string() }),
  action: z.string(),
  message: z.string(),
  detail: z.record(z.string(), z.unknown()).default({}),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

const chunkSchema = z.object({ orgId: z.string(), seq: z.number().int().nonnegative(), entries: z.array(historyEntrySchema) });
type Chunk = z.infer<typeof chunkSchema> & { bytes: number };

/** One entry's JSON is at most this long; longer ones keep their action and a cut message, without detail. */
export const ENTRY_MAX_BYTES = 4096;
const CHUNK_MAX_BYTES = 64 * 1024;

const byteLength = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** The entry as stored: cut to ENTRY_MAX_BYTES when it is longer (a name or a Microsoft message can be long). */
export function boundedEntry(entry: HistoryEntry): HistoryEntry {
  if (byteLength(entry) <= ENTRY_MAX_BYTES) return entry;
  const message = `${[...entry.message].slice(0, 500).join('')}… (cut: the entry was ${byteLength(entry)} bytes)`;
  return { ...entry, message, detail: { truncated: true } };
}

export interface OrganizationHistoryOptions {
  kafka: KafkaClient;
  topic: string;
  logger: Logger;
  /** Bytes of history kept per organization (the oldest chunk goes first). */
  maxBytes: number;
}

export class OrganizationHistory {
  private readonly chunks = new Map<string, Chunk[]>();
  /** Chunk keys whose last write failed: rewritten (whole) with the next append of their organization. */
  private readonly unsaved = new Map<string, Set<string>>();
  private producer: KafkaProducer | null = null;
  readonly chunkBytes: number;
  readonly maxChunks: number;

  constructor(private readonly options: OrganizationHistoryOptions) {
    this.chunkBytes = Math.max(ENTRY_MAX_BYTES + 64, Math.min(CHUNK_MAX_BYTES, Math.floor(options.maxBytes / 4)));
    this.maxChunks = Math.max(1, Math.floor(options.maxBytes / this.chunkBytes));
  }

  async start(): Promise<void> {
    this.chunks.clear();
    const values = await this.options.kafka.readCompactedToEnd(this.options.topic, 'm365siem-controlplane-history');
    let skipped = 0;
    for (const [key, value] of values) {
      if (value === null) continue;
      let parsed: ReturnType<typeof chunkSchema.safeParse>;
      try {
        parsed = chunkSchema.safeParse(JSON.parse(value.toString('utf8')));
      } catch {
        skipped++;
        continue;
      }
      if (!parsed.success || key !== `${parsed.data.orgId}|${parsed.data.seq}`) {
        skipped++;
        continue;
      }
      const list = this.chunks.get(parsed.data.orgId) ?? [];
      list.push({ ...parsed.data, bytes: value.length });
      this.chunks.set(parsed.data.orgId, list);
    }
    // Chunks beyond the bound are left by a tombstone whose write failed (or a smaller bound now): drop them again.
    const stale: string[] = [];
    for (const [orgId, list] of this.chunks) {
      list.sort((a, b) => a.seq - b.seq);
      for (const old of list.splice(0, Math.max(0, list.length - this.maxChunks))) stale.push(`${orgId}|${old.seq}`);
    }
    if (skipped > 0) this.options.logger.error({ skipped, topic: this.options.topic }, 'ignored unreadable history chunks while rebuilding');
    const producer = this.options.kafka.producer();
    await producer.connect();
    this.producer = producer;
    if (stale.length > 0) await producer.send({ topic: this.options.topic, acks: -1, messages: stale.map((key) => ({ key, value: null })) });
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = null;
  }

  has(orgId: string): boolean {
    return (this.chunks.get(orgId)?.length ?? 0) > 0;
  }

  /** Every kept entry of the organization, oldest first. */
  entries(orgId: string): HistoryEntry[] {
    return (this.chunks.get(orgId) ?? []).flatMap((c) => c.entries);
  }

  /** Bytes the organization's history holds in the topic (what the bound is about). */
  bytes(orgId: string): number {
    return (this.chunks.get(orgId) ?? []).reduce((n, c) => n + c.bytes, 0);
  }

  /**
   * Appends entries, opening new chunks (and tombstoning the oldest beyond the bound) as needed. The view changes
   * at once; a failed write is logged and its chunks are written again, whole, with the next append.
   */
  async append(orgId: string, input: readonly HistoryEntry[]): Promise<void> {
    if (input.length === 0) return;
    const list = this.chunks.get(orgId) ?? [];
    const dirty = this.unsaved.get(orgId) ?? new Set<string>();
    const dropped: string[] = [];
    for (const raw of input) {
      const entry = boundedEntry(raw);
      let last = list.at(-1);
      const size = byteLength(entry) + 1;
      if (!last || last.bytes + size > this.chunkBytes) {
        last = { orgId, seq: (last?.seq ?? -1) + 1, entries: [], bytes: 0 };
        list.push(last);
        while (list.length > this.maxChunks) {
          const old = list.shift()!;
          const key = `${orgId}|${old.seq}`;
          dirty.delete(key);
          dropped.push(key);
        }
      }
      last.entries.push(entry);
      last.bytes = byteLength({ orgId, seq: last.seq, entries: last.entries });
      dirty.add(`${orgId}|${last.seq}`);
    }
    this.chunks.set(orgId, list);
    const messages = [
      ...dropped.map((key) => ({ key, value: null })),
      ...list
        .filter((c) => dirty.has(`${orgId}|${c.seq}`))
        .map((c) => ({ key: `${orgId}|${c.seq}`, value: JSON.stringify({ orgId, seq: c.seq, entries: c.entries }) })),
    ];
    await this.send(orgId, messages, dirty);
  }

  /** Tombstones every chunk of a deleted organization. */
  async remove(orgId: string): Promise<void> {
    const list = this.chunks.get(orgId) ?? [];
    this.chunks.delete(orgId);
    this.unsaved.delete(orgId);
    if (list.length > 0)
      await this.send(
        orgId,
        list.map((c) => ({ key: `${orgId}|${c.seq}`, value: null })),
        new Set(),
      );
  }

  private async send(orgId: string, messages: Array<{ key: string; value: string | null }>, dirty: Set<string>): Promise<void> {
    if (!this.producer) throw new Error('organization history is not started');
    try {
      await this.producer.send({ topic: this.options.topic, acks: -1, messages });
      this.unsaved.delete(orgId);
    } catch (error) {
      // The organization's own change is already durable; its history catches up with the next append.
      this.unsaved.set(orgId, dirty);
      this.options.logger.error({ err: error, orgId, topic: this.options.topic }, 'history write failed; retried with the next change of the organization');
    }
  }
}
