/**
 * `m365-siem replay --org ID [--from T] [--to T] [--refetch | --backfill]`.
 *
 * Without --refetch: re-normalizes one organization's records from m365.raw into siem.events (and so the index). It
 * reads only the m365.raw partition that holds the organization's key, from the offset of --from (or the start of
 * the retained log) to --to or the end offsets observed when it started, keeps the messages keyed with the
 * organization's id, maps each with the normalizer's own mapping code and produces the events keyed and framed
 * exactly as the normalizer does. Idempotent where users look: the index's document id is derived from organization
 * and event id, so a replayed event overwrites its document instead of adding one (docs/decisions/0080).
 *
 * With --refetch: asks the control plane to make ingest re-poll Microsoft for the organization from --from (within
 * Microsoft's 7-day window); ingest rewinds that organization's cursors once.
 *
 * With --backfill: asks the control plane to make ingest fetch the organization's unified audit log from --from (up
 * to 180 days back) through the Audit Search API, deduplicated against the Management API (docs/decisions/0155).
 *
 * This is an entry point: it may import services (normalize) and wires the concrete clients itself.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { encodeEvent, mapEnvelope, parseEnvelope, parseNormalizeConfig, registerSiemEventSchema } from '../normalize/index.ts';
import {
  ConfigError,
  createKafkaClient,
  createLogger,
  eventHeaders,
  parseSettings,
  partitionForKey,
  type KafkaClient,
  type Logger,
  type OutgoingMessage,
} from '../runtime/index.ts';
import { latestSiemEventSchema } from '../schemas/index.ts';
import { cliSettingsSpec } from '../control-plane/index.ts';
import { ProgressReporter, type ProgressSnapshot } from './progress.ts';
import { followWork } from './work-follow.ts';

type Env = Readonly<Record<string, string | undefined>>;

const DAY_MS = 24 * 60 * 60 * 1000;
/** How far back Microsoft keeps content (Management Activity API and the Graph reports we poll). */
export const MICROSOFT_RETENTION_MS = 7 * DAY_MS;

export interface ReplayProgress {
  /** First offset of the organization's partition this replay reads. */
  start: bigint;
  /** Messages read from the organization's partition (all organizations sharing it). */
  read: number;
  /** Messages of this organization. */
  matched: number;
  /** Events produced to siem.events. */
  produced: number;
  /** Same (organization, event id) seen again within this run: produced once. */
  duplicates: number;
  /** Records that still do not map (they were dead-lettered when first normalized; not dead-lettered again). */
  unmappable: number;
  /** Offset reached / end offset of the partition. */
  offset: bigint;
  end: bigint;
}

export interface ReplayResult extends ReplayProgress {
  topic: string;
  partition: number;
  startOffset: bigint;
  eventsTopic: string;
  elapsedMs: number;
}

export interface ReplayOptions {
  orgId: string;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Called every `progressEveryRecords` matched records and at most every `progressEveryMs`. */
  onProgress?: (p: ReplayProgress) => void;
  progressEveryRecords?: number;
  progressEveryMs?: number;
  /** Records produced per send (each send is acknowledged by every in-sync replica before reading on). */
  sendBatchSize?: number;
  logger?: Logger;
  kafka?: KafkaClient;
  /** fetch used to reach SCHEMA_REGISTRY_URL (tests). */
  fetchImpl?: typeof fetch;
}

/**
 * Re-normalizes one organization's records from m365.raw into siem.events. Settings come from the same environment
 * as the normalizer's (KAFKA_*, TOPIC_*, NORMALIZE_VENDOR_FIELDS).
 */
export async function replayOrganization(env: Env, options: ReplayOptions): Promise<ReplayResult> {
  const started = Date.now();
  const config = parseNormalizeConfig(env);
  const logger = options.logger ?? createLogger('replay', { level: config.settings.logLevel });
  const kafka = options.kafka ?? createKafkaClient(config.kafka, logger, 'replay');
  const rawTopic = config.topics.raw.name;
  const eventsTopic = config.topics.events.name;
  const orgId = options.orgId;
  const from = options.from?.getTime();
  const to = options.to?.getTime();
  if (from !== undefined && to !== undefined && to < from) throw new ConfigError(['--to: must not be before --from']);

  const admin = kafka.admin();
  await admin.connect();
  let partition: number;
  let startOffset: bigint;
  let end: bigint;
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [rawTopic] });
    const partitions = metadata.topics[0]?.partitions.length ?? 0;
    if (partitions === 0) throw new Error(`topic ${rawTopic} has no partitions (does it exist?)`);
    partition = partitionForKey(orgId, partitions);
    const offsets = await admin.fetchTopicOffsets(rawTopic);
    const own = offsets.find((o) => o.partition === partition);
    if (!own) throw new Error(`topic ${rawTopic} has no partition ${partition}`);
    end = BigInt(own.high);
    startOffset = BigInt(own.low);
    if (from !== undefined) {
      const byTime = await admin.fetchTopicOffsetsByTimestamp(rawTopic, from);
      const at = byTime.find((o) => o.partition === partition);
      if (at) startOffset = BigInt(at.offset) > startOffset ? BigInt(at.offset) : startOffset;
    }
  } finally {
    await admin.disconnect();
  }

  const progress: ReplayProgress = { start: startOffset, read: 0, matched: 0, produced: 0, duplicates: 0, unmappable: 0, offset: startOffset, end };
  const result = (): ReplayResult => ({ ...progress, topic: rawTopic, partition, startOffset, eventsTopic, elapsedMs: Date.now() - started });
  if (startOffset >= end) return result();

  const everyRecords = options.progressEveryRecords ?? 1_000;
  const everyMs = options.progressEveryMs ?? 2_000;
  let lastReportAt = Date.now();
  let lastReportMatched = 0;
  const report = (force = false) => {
    if (!options.onProgress) return;
    if (force || progress.matched - lastReportMatched >= everyRecords || Date.now() - lastReportAt >= everyMs) {
      lastReportAt = Date.now();
      lastReportMatched = progress.matched;
      options.onProgress({ ...progress });
    }
  };

  // Framed exactly as the normalizer frames: with a registry, the id it gives our schema (registering the same
  // schema again returns the same id), else the stable id from schemas/.
  const s = config.settings;
  const schemaId = s.schemaRegistryUrl
    ? await registerSiemEventSchema({
        url: s.schemaRegistryUrl,
        username: s.schemaRegistryUsername,
        password: s.schemaRegistryPassword,
        ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
      })
    : latestSiemEventSchema.id;
  const vendorFields = config.settings.vendorFields;
  const seen = new Set<string>();
  const sendBatchSize = options.sendBatchSize ?? 500;
  const groupId = `${config.settings.groupId}-replay-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const producer = kafka.producer();
  const limits = await kafka.sendLimits([eventsTopic]);
  const consumer = kafka.consumer({ groupId, readCommitted: true, sessionTimeoutMs: 30_000 });
  let finish: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let done = false;
  const markDone = () => {
    if (done) return;
    done = true;
    finish();
  };

  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: rawTopic, fromBeginning: true });
    consumer.onAssigned((assignment) => {
      const assigned = assignment[rawTopic] ?? [];
      const others = assigned.filter((p) => p !== partition);
      // Only the organization's partition is read: the others are never fetched.
      if (others.length > 0) consumer.pause([{ topic: rawTopic, partitions: others }]);
      if (assigned.includes(partition)) consumer.seek({ topic: rawTopic, partition, offset: startOffset.toString() });
    });
    // Transaction markers and aborted records never reach eachBatch; the batch instrumentation still sees them, so
    // the end of the partition is detected there.
    consumer.onBatchProcessed((e) => {
      if (e.partition !== partition) return;
      const last = BigInt(e.lastOffset);
      if (last + 1n > progress.offset) progress.offset = last + 1n;
      if (progress.offset >= end) markDone();
    });
    consumer.onCrash((e) => fail(e.error));

    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        if (batch.partition !== partition || done) return;
        let out: OutgoingMessage[] = [];
        const flush = async () => {
          if (out.length === 0) return;
          await limits.send(producer, eventsTopic, out, { acks: -1 });
          progress.produced += out.length;
          out = [];
          await heartbeat();
        };
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset < startOffset) continue;
          if (offset >= end || (to !== undefined && Number(m.timestamp) > to)) {
            await flush();
            markDone();
            return;
          }
          progress.read++;
          progress.offset = offset + 1n;
          if (m.key?.toString('utf8') !== orgId) continue;
          progress.matched++;
          const parsed = parseEnvelope(m.value);
          // Tenants never mix: a message keyed for this organization but carrying another's envelope is not replayed.
          if (parsed.kind !== 'ok' || parsed.value.orgId !== orgId) {
            progress.unmappable++;
            continue;
          }
          const mapped = mapEnvelope(parsed.value, { vendorFields });
          if (mapped.kind !== 'ok') {
            progress.unmappable++;
            continue;
          }
          const event = mapped.value;
          const key = event.event.id;
          if (seen.has(key)) {
            progress.duplicates++;
            continue;
          }
          const encoded = encodeEvent(event, schemaId);
          if (encoded.kind !== 'ok') {
            progress.unmappable++;
            continue;
          }
          const message: OutgoingMessage = {
            key: orgId,
            value: encoded.value,
            headers: eventHeaders({ source: parsed.value.source, eventId: key, schemaId }),
          };
          // Larger than siem.events accepts: the normalizer dead-lettered it when it first came; replay cannot send it.
          if (!limits.fits(eventsTopic, message)) {
            progress.unmappable++;
            continue;
          }
          seen.add(key);
          out.push(message);
          if (out.length >= sendBatchSize) await flush();
          report();
        }
        await flush();
        report();
        if (progress.offset >= end) markDone();
      },
    });
    await finished;
    report(true);
    logger.info({ orgId, partition, produced: progress.produced, matched: progress.matched }, 'replay finished');
    return result();
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    const cleanup = kafka.admin();
    await cleanup.connect().catch(() => undefined);
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect().catch(() => undefined);
  }
}

export interface RefetchResult {
  orgId: string;
  refetchGeneration: number;
  refetchFrom: string;
}

/** Asks the control plane to make ingest re-poll Microsoft for one organization from `from`. */
export function requestRefetch(env: Env, orgId: string, from: Date, fetchImpl: typeof fetch = fetch): Promise<RefetchResult> {
  return askIngest<RefetchResult>(env, orgId, 'refetch', from, fetchImpl);
}

export interface BackfillResult {
  orgId: string;
  backfillGeneration: number;
  backfillFrom: string;
}

/** Asks the control plane to make ingest back-fill one organization's audit log from `from` (Audit Search API). */
export function requestBackfill(env: Env, orgId: string, from: Date, fetchImpl: typeof fetch = fetch): Promise<BackfillResult> {
  return askIngest<BackfillResult>(env, orgId, 'backfill', from, fetchImpl);
}

/** POSTs an operator request for ingest (re-fetch, back-fill) to the control plane, which records it in the connection. */
async function askIngest<T>(env: Env, orgId: string, action: 'refetch' | 'backfill', from: Date, fetchImpl: typeof fetch): Promise<T> {
  const s = parseSettings(cliSettingsSpec, env);
  if (!s.token) throw new ConfigError(['M365_SIEM_TOKEN: required (an admin API token of the control plane)']);
  const url = `${s.url}/api/v1/organizations/${encodeURIComponent(orgId)}/applications/microsoft-manage/${action}`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ from: from.toISOString() }),
    });
  } catch (error) {
    throw new Error(`cannot reach the control plane at ${s.url}: ${(error as Error).message}`);
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new Error(`${action} answered ${res.status} ${err?.code ?? ''}: ${err?.message ?? text.slice(0, 300)}`);
  }
  return body as T;
}

/** Parses a time given on the command line: ISO 8601, or a duration back from now such as 30m, 6h, 2d. */
export function parseTimeArgument(value: string, now = Date.now()): Date {
  const relative = /^(\d+)(s|m|h|d)$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(relative[1]) * unit);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`"${value}" is not a time: expected ISO 8601 (2026-11-26T08:00:00Z) or a duration back from now (30m, 6h, 2d)`);
  return new Date(ms);
}

/** A replay's progress as the reporter shows it: offsets of the organization's partition read out of those to read. */
export function replaySnapshot(p: ReplayProgress): ProgressSnapshot {
  return {
    done: Number(p.offset - p.start),
    total: Number(p.end - p.start),
    unit: 'records',
    detail: `${p.produced} events produced, ${p.duplicates} repeats skipped, ${p.unmappable} unmappable`,
  };
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      "re-normalize one organization's records from m365.raw into siem.events (idempotent), or with --refetch re-poll Microsoft for it, or with --backfill fetch its audit history",
    )
    .requiredOption('--org <id>', 'organization id')
    .option('--from <time>', 'start: ISO 8601 time or a duration back from now (30m, 6h, 2d); default the oldest retained record (with --refetch: 7 days back)')
    .option('--to <time>', 'end: ISO 8601 time or a duration back from now; default the end of m365.raw when the replay starts (not with --refetch)')
    .option('--refetch', "instead re-poll Microsoft for the organization from --from, within Microsoft's 7-day window")
    .option('--backfill', "instead fetch the organization's unified audit log from --from (up to 180 days back) through the Audit Search API")
    .option('--follow', 'with --refetch or --backfill: show its progress until it is done (the default on a terminal)')
    .option('--no-follow', 'with --refetch or --backfill: only make the request')
    .action(async (opts: { org: string; from?: string; to?: string; refetch?: boolean; backfill?: boolean; follow?: boolean }) => {
      const follow = opts.follow ?? process.stderr.isTTY === true;
      /** Watches the request to its end; a back-fill that did not succeed makes the command fail. */
      const watch = async (kind: 'backfill' | 'refetch', generation: number) => {
        process.stderr.write(`[replay] following its progress (Ctrl-C stops following, not the ${kind === 'backfill' ? 'back-fill' : 're-fetch'})\n`);
        const end = await followWork(process.env, opts.org, kind, generation, { out: process.stderr });
        if (end.phase === 'failed') {
          process.stderr.write(`[replay] ${end.summary}\n`);
          process.exitCode = 1;
        }
      };
      let from: Date | undefined;
      let to: Date | undefined;
      try {
        from = opts.from === undefined ? undefined : parseTimeArgument(opts.from);
        to = opts.to === undefined ? undefined : parseTimeArgument(opts.to);
      } catch (error) {
        program.error((error as Error).message);
      }
      if (opts.backfill) {
        if (opts.refetch) program.error('--backfill and --refetch are two different requests: give one');
        if (to !== undefined) program.error('--to cannot be used with --backfill: the audit log is back-filled up to now');
        if (from === undefined) program.error('--backfill needs --from (how far back, at most 180 days)');
        const answer = await requestBackfill(process.env, opts.org, from);
        process.stdout.write(`${JSON.stringify(answer)}\n`);
        process.stderr.write(
          `[replay] back-fill requested for ${opts.org} from ${answer.backfillFrom} (generation ${answer.backfillGeneration}); its progress shows in the Management sources' status (backfill)\n`,
        );
        if (follow) await watch('backfill', answer.backfillGeneration);
        return;
      }
      if (opts.refetch) {
        if (to !== undefined) program.error('--to cannot be used with --refetch: Microsoft is re-polled up to now');
        const oldest = Date.now() - MICROSOFT_RETENTION_MS;
        const start = from && from.getTime() > oldest ? from : new Date(oldest + 60_000);
        if (from && from.getTime() <= oldest)
          process.stderr.write(`[replay] --from is older than Microsoft keeps content (7 days); re-fetching from ${start.toISOString()}\n`);
        const answer = await requestRefetch(process.env, opts.org, start);
        process.stdout.write(`${JSON.stringify(answer)}\n`);
        process.stderr.write(
          `[replay] re-fetch requested for ${opts.org} from ${answer.refetchFrom} (generation ${answer.refetchGeneration}); ingest rewinds its cursors on its next cycle\n`,
        );
        if (follow) await watch('refetch', answer.refetchGeneration);
        return;
      }
      const reporter = new ProgressReporter('[replay]', process.stderr);
      const result = await replayOrganization(process.env, {
        orgId: opts.org,
        from,
        to,
        progressEveryMs: 200,
        onProgress: (p) => reporter.update(replaySnapshot(p)),
      });
      reporter.finish(replaySnapshot(result));
      process.stderr.write(
        `[replay] done: ${result.produced} events of ${opts.org} produced to ${result.eventsTopic} from ${result.topic} partition ${result.partition} (offsets ${result.startOffset}..${result.offset}) in ${(result.elapsedMs / 1000).toFixed(1)} s\n`,
      );
      process.stdout.write(
        `${JSON.stringify({
          orgId: opts.org,
          produced: result.produced,
          matched: result.matched,
          duplicates: result.duplicates,
          unmappable: result.unmappable,
          partition: result.partition,
          startOffset: result.startOffset.toString(),
          endOffset: result.offset.toString(),
        })}\n`,
      );
    });
}
