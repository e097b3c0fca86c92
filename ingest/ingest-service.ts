import {
  AppTokenProvider,
  GRAPH_SOURCES,
  MANAGEMENT_SOURCES,
  createKafkaClient,
  createLogger,
  sleep,
  withRetry,
  type ManagementSource,
  type CloudProfile,
  type KafkaClient,
  type Logger,
  type SourceName,
  type SourceStatus,
  type TenantConnection,
  type SendLimits,
  type Topics,
} from '../runtime/index.ts';
import { runBackfill } from './audit-search-backfill.ts';
import { backfillStatusOf, CheckpointSnapshot, refetchStatusOf, type Backfill, type IdLedger } from './checkpoint-store.ts';
import { TenantQuota } from './tenant-quota.ts';
import type { IngestConfig } from './config.ts';
import { GraphPoller } from './graph-poller.ts';
import { ManagementActivityPoller } from './management-activity-poller.ts';
import { createIngestMetrics, type IngestMetrics } from './metrics.ts';
import { TenantLicence } from './licence-tier.ts';
import { MicrosoftHttp, type FetchFn, type TokenSource } from './microsoft-http.ts';
import type { Poller, PollerContext } from './poller.ts';
import { RateBudgets, Semaphore } from './rate-budget.ts';
import { TransactionalWriter } from './raw-publisher.ts';
import { RegistrationSnapshotPoller, type RegistrationMemory } from './registration-snapshot.ts';
import { SourceRunner } from './scheduler.ts';
import { SourceProgress } from './source-progress.ts';
import { StatusReporter } from './status-reporter.ts';
import { TenantAssignment } from './tenant-assignment.ts';

/** Optional collaborators: tests inject topics with a suffix, a token source, a clock or a fetch. */
export interface IngestDeps {
  logger?: Logger;
  topics?: Topics;
  tokens?: TokenSource;
  fetch?: FetchFn;
  now?: () => number;
  kafka?: KafkaClient;
  metrics?: IngestMetrics;
  /** Consumer-group session timeout (tests use a short one so a crashed instance's tenants move quickly). */
  sessionTimeoutMs?: number;
}

interface OrgEntry {
  orgId: string;
  partition: number;
  connection: TenantConnection;
  tenantId: string;
  cloud: CloudProfile['cloud'];
  runners: Map<SourceName, SourceRunner>;
  quota: TenantQuota;
  /** The Audit Search back-fill running for this organization, if any. */
  backfill: { generation: number; abort: AbortController; refused: boolean } | null;
  licence: TenantLicence;
}

/** Back-fill outcomes that end a generation; any other state found in a checkpoint is an interrupted run, run again. */
const BACKFILL_FINISHED = new Set<Backfill['state']>(['succeeded', 'failed', 'not_offered', 'not_permitted']);

/** Committed progress of one (org, source) while its partition is ours: survives runners stopping and restarting. */
interface ProgressEntry {
  partition: number;
  progress: SourceProgress;
  registration: RegistrationMemory;
}

interface PartitionEntry {
  writer: TransactionalWriter;
  orgs: Set<string>;
}

/**
 * The ingest service: one member of the pollers' group. Owns, per assigned partition, a transactional writer,
 * and per organization of it, one SourceRunner per source the control plane enables.
 */
export class IngestService {
  readonly metrics: IngestMetrics;
  readonly logger: Logger;
  readonly kafka: KafkaClient;
  private readonly topics: Topics;
  private limits: SendLimits | null = null;
  private readonly http: MicrosoftHttp;
  private readonly status: StatusReporter;
  private readonly assignment: TenantAssignment;
  private readonly partitions = new Map<number, PartitionEntry>();
  private readonly orgs = new Map<string, OrgEntry>();
  /**
   * Progress outlives runners (a source disabled and re-enabled, a connection paused): the checkpoint snapshot read
   * at takeover is stale once we committed, so it is used only the first time.
   */
  private readonly progressCache = new Map<string, ProgressEntry>();
  private snapshot: CheckpointSnapshot | null = null;
  private readonly now: () => number;
  private closed = false;

  constructor(
    private readonly config: IngestConfig,
    deps: IngestDeps = {},
  ) {
    this.logger = deps.logger ?? createLogger('ingest', { level: config.settings.logLevel });
    this.metrics = deps.metrics ?? createIngestMetrics();
    this.kafka = deps.kafka ?? createKafkaClient(config.kafka, this.logger, 'ingest');
    this.topics = deps.topics ?? config.topics;
    this.now = deps.now ?? Date.now;
    let tokens = deps.tokens;
    if (!tokens) {
      if (Object.keys(config.registrations).length === 0)
        throw new Error(
          'invalid configuration:\n  - M365_CLIENT_ID: required to start ingest (with M365_CLIENT_SECRET or a certificate), or the registration of another cloud (M365_GCC_HIGH_CLIENT_ID, …)',
        );
      tokens = new AppTokenProvider(config.registrations, config.clouds, this.logger);
    }
    const s = config.settings;
    this.http = new MicrosoftHttp({
      tokens,
      budgets: new RateBudgets(s, this.now),
      semaphore: new Semaphore(s.httpConcurrency),
      timeoutMs: s.httpTimeoutMs,
      tokenRefreshMs: s.tokenRefreshMs,
      metrics: this.metrics,
      logger: this.logger,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    this.status = new StatusReporter(this.kafka, this.topics.status.name, this.logger, s.statusIntervalMs);
    this.assignment = new TenantAssignment(this.kafka, this.topics.tenants.name, s.groupId, deps.sessionTimeoutMs ?? s.sessionTimeoutMs, this.logger, {
      onAssignment: (c) => this.onAssignment(c),
      onConnection: (orgId, partition, connection) => this.onConnection(orgId, partition, connection),
      onInvalid: (orgId, partition, problem) => this.logger.error({ orgId, partition, problem }, 'tenant connection value does not parse; ignored'),
    });
  }

  async start(): Promise<void> {
    this.limits = await this.kafka.sendLimits([this.topics.raw.name, this.topics.deadLetter.name, this.topics.checkpoints.name]);
    await this.status.start();
    await this.assignment.start();
  }

  /** Resolves once the first assignment was handled (the instance is polling what it was given). */
  waitUntilAssigned(): Promise<void> {
    return this.assignment.waitForJoin();
  }

  get assignedPartitions(): number[] {
    return this.assignment.partitions;
  }

  /** Organizations this instance holds a connection for right now, polled or paused (not disabled or disconnected). */
  get assignedOrgs(): string[] {
    return [...this.orgs.keys()];
  }

  /** Organizations polled by this instance right now. */
  get polledOrgs(): string[] {
    return [...this.orgs.values()].filter((o) => o.runners.size > 0).map((o) => o.orgId);
  }

  statusOf(orgId: string, source: SourceName): SourceStatus | undefined {
    return this.status.get(orgId, source);
  }

  private requireLimits(): SendLimits {
    if (!this.limits) throw new Error('ingest not started: send limits unknown');
    return this.limits;
  }

  readiness(): string | null {
    if (this.closed) return 'shutting down';
    if (!this.assignment.joined) return 'not yet assigned tenant partitions';
    const consumer = this.assignment.readiness();
    if (consumer !== null) return consumer;
    return null;
  }

  private async onAssignment(change: { assigned: number[]; added: number[]; revoked: number[] }): Promise<void> {
    // Finish or abandon revoked partitions' work first: runners stop (their cursors stay where Kafka has them).
    for (const p of change.revoked) await this.dropPartition(p);
    // A partition whose writer was fenced while still assigned to us is taken over afresh.
    const fresh = [...change.added];
    for (const p of change.assigned)
      if (!change.added.includes(p) && this.partitions.get(p)?.writer.isFenced) {
        await this.dropPartition(p);
        fresh.push(p);
      }
    if (fresh.length === 0) return;
    // Kafka hiccups while taking over must not leave partitions unpolled: bounded retries with backoff.
    const retry = <T>(what: string, step: () => Promise<T>) =>
      withRetry(step, {
        attempts: 30,
        initialMs: 500,
        maxMs: 10_000,
        onRetry: (error, attempt) => this.logger.warn({ err: error, attempt, what }, 'taking over partitions failed; retrying'),
      });
    for (const p of fresh) {
      const writer = new TransactionalWriter(
        this.kafka,
        `${this.config.settings.groupId}.${this.topics.tenants.name}.p${p}`,
        this.logger,
        this.metrics,
        this.requireLimits(),
        this.topics.deadLetter.name,
      );
      await retry('transactional writer', () => writer.start()); // fences the partition's previous owner before its checkpoints are read
      this.partitions.set(p, { writer, orgs: new Set() });
    }
    this.snapshot = new CheckpointSnapshot(
      await retry('checkpoints', () => this.kafka.readCompactedToEnd(this.topics.checkpoints.name, `${this.config.settings.groupId}-checkpoints`)),
    );
  }

  private async dropPartition(p: number): Promise<void> {
    const entry = this.partitions.get(p);
    if (!entry) return;
    this.partitions.delete(p);
    await Promise.all([...entry.orgs].map((orgId) => this.stopOrg(orgId, false)));
    for (const [key, cached] of this.progressCache) if (cached.partition === p) this.progressCache.delete(key);
    await entry.writer.close();
  }

  private async stopOrg(orgId: string, forget: boolean): Promise<void> {
    const org = this.orgs.get(orgId);
    if (!org) return;
    org.backfill?.abort.abort();
    org.backfill = null;
    await Promise.all([...org.runners.values()].map((r) => r.stop()));
    org.runners.clear();
    this.orgs.delete(orgId);
    this.partitions.get(org.partition)?.orgs.delete(orgId);
    if (forget) for (const s of [...MANAGEMENT_SOURCES, ...GRAPH_SOURCES]) this.status.forget(orgId, s, true);
    this.metrics.assignedTenants.set(this.orgs.size);
    this.updateRunningGauge();
  }

  private updateRunningGauge(): void {
    let n = 0;
    for (const o of this.orgs.values()) n += o.runners.size;
    this.metrics.runningSources.set(n);
  }

  private async onConnection(orgId: string, partition: number, connection: TenantConnection | null): Promise<void> {
    if (this.closed) return;
    const part = this.partitions.get(partition);
    if (!part) return;
    const existing = this.orgs.get(orgId);
    if (existing && connection && connection.revision < existing.connection.revision) return; // stale value
    const c = connection?.connection ?? null;
    const pollable = c?.polling.enabled && c.tenantId !== null;
    if (!pollable || !connection || !c || c.tenantId === null) {
      if (existing) await this.stopOrg(orgId, connection === null);
      return;
    }
    let org = existing;
    if (org && (org.tenantId !== c.tenantId || org.cloud !== c.cloud)) {
      this.logger.warn({ orgId }, 'tenant or cloud of the organization changed: restarting its pollers');
      await this.stopOrg(orgId, false);
      org = undefined;
    }
    if (!org) {
      org = {
        orgId,
        partition,
        connection,
        tenantId: c.tenantId,
        cloud: c.cloud,
        runners: new Map(),
        quota: new TenantQuota(this.config.settings.tenantRecordsPerHour, this.now),
        backfill: null,
        licence: new TenantLicence(
          this.http,
          { tenantId: c.tenantId, cloud: c.cloud, resource: 'graph', base: this.config.clouds[c.cloud].graphHost, budget: 'graph-other' },
          this.now,
          this.logger,
          orgId,
        ),
      };
      this.orgs.set(orgId, org);
      part.orgs.add(orgId);
    }
    const changed = org.connection.revision !== connection.revision;
    org.connection = connection;
    // A newer revision of a running organization (repair, upgrade, new consent): failing sources try again now.
    if (changed) for (const runner of org.runners.values()) runner.wake();
    const wanted = new Set<SourceName>(c.polling.sources);
    const paused = new Map(c.polling.paused.map((p) => [p.source, p]));
    for (const [source, runner] of [...org.runners]) {
      if (!wanted.has(source) || paused.has(source)) {
        await runner.stop();
        org.runners.delete(source);
      }
    }
    for (const [source, p] of paused) {
      this.status.report(this.pausedStatus(org, source, `${p.reason}${p.missingRoles.length ? `; missing roles: ${p.missingRoles.join(', ')}` : ''}`));
    }
    const collected = MANAGEMENT_SOURCES.filter((s) => wanted.has(s) && !paused.has(s));
    // A new organization: no Management source has a cursor or a back-fill yet (decided before its runners start).
    const fresh = collected.every((s) => {
      const cp = this.progressOf(org, s).progress.checkpoint;
      return cp.cursorMs === null && cp.backfill === null;
    });
    for (const source of wanted) {
      if (paused.has(source) || org.runners.has(source)) continue;
      const runner = this.createRunner(org, source);
      org.runners.set(source, runner);
      runner.start();
    }
    this.metrics.assignedTenants.set(this.orgs.size);
    this.updateRunningGauge();
    this.maybeBackfill(org, collected, fresh);
  }

  /**
   * History before the connection (docs/decisions/0155): generation 0 for a new organization (up to
   * INGEST_BACKFILL_MAX_DAYS), then one per operator request (replay --backfill). The state lives on the checkpoint of
   * every Management source collected, so a restart resumes an interrupted generation (the shared ledger drops what
   * was published already) and never repeats a finished one.
   */
  private maybeBackfill(org: OrgEntry, collected: ManagementSource[], fresh: boolean): void {
    const anchor = collected[0];
    const plan = org.connection.connection?.polling;
    if (!anchor || !plan) return;
    const wanted = plan.backfillGeneration ?? 0;
    const done = this.progressOf(org, anchor).progress.checkpoint.backfill;
    const missingRoles = plan.backfillMissingRoles ?? [];
    // A back-fill refused for a role runs again once the role is granted (the upgrade approved): same generation.
    const nowPermitted = done?.state === 'not_permitted' && missingRoles.length === 0 && plan.backfillMissingRoles !== undefined;
    const due = done
      ? done.generation < wanted || (done.generation === wanted && (!BACKFILL_FINISHED.has(done.state) || nowPermitted))
      : wanted > 0 || (fresh && this.config.settings.backfillMaxDays > 0);
    if (!due || (org.backfill && org.backfill.generation >= wanted && !(nowPermitted && org.backfill.refused))) return;
    org.backfill?.abort.abort();
    const abort = new AbortController();
    org.backfill = { generation: wanted, abort, refused: missingRoles.length > 0 };
    const from = wanted > 0 && plan.backfillFrom ? Date.parse(plan.backfillFrom) : NaN;
    const progressOf = (source: ManagementSource) => (collected.includes(source) ? this.progressOf(org, source).progress : undefined);
    const update = async (backfill: Backfill) => {
      await Promise.all(collected.map((s) => this.progressOf(org, s).progress.commit({ mutate: (cp) => ({ ...cp, backfill }) })));
      for (const s of collected) {
        const prev = this.status.get(org.orgId, s);
        if (prev) this.status.report({ ...prev, backfill: backfillStatusOf(backfill), updatedAt: new Date(this.now()).toISOString() });
      }
    };
    const ctx = this.pollerContext(org, anchor);
    runBackfill({ ctx, progressOf, update, sleep }, wanted, Number.isFinite(from) ? from : null, abort.signal, missingRoles)
      .then((outcome) => this.logger.info({ orgId: org.orgId, generation: wanted, state: outcome.state, published: outcome.published }, 'back-fill finished'))
      .catch((error: unknown) => {
        if (!abort.signal.aborted)
          this.logger.error({ err: error, orgId: org.orgId, generation: wanted }, 'back-fill stopped; it runs again on the next connection change');
      })
      .finally(() => {
        if (org.backfill?.abort === abort) org.backfill = null;
      });
  }

  private pausedStatus(org: OrgEntry, source: SourceName, message: string): SourceStatus {
    const prev = this.status.get(org.orgId, source);
    return {
      schemaVersion: 1,
      orgId: org.orgId,
      tenantId: org.tenantId,
      source,
      state: 'paused',
      reason: 'permission_missing',
      message,
      licenceRequired: null,
      lastSuccessAt: prev?.lastSuccessAt ?? null,
      lastErrorAt: prev?.lastErrorAt ?? null,
      lastEventAt: prev?.lastEventAt ?? null,
      firstEventAt: prev?.firstEventAt ?? null,
      lagSeconds: prev?.lagSeconds ?? null,
      hoursUntilDataLoss: null,
      gaps: prev?.gaps ?? [],
      counts: prev?.counts ?? { recordsPublished: 0, duplicatesSkipped: 0, deadLettered: 0, errors: 0, events24h: 0 },
      updatedAt: new Date(this.now()).toISOString(),
    };
  }

  private progressOf(org: OrgEntry, source: SourceName): ProgressEntry {
    const key = `${org.orgId}|${source}`;
    const known = this.progressCache.get(key);
    if (known && known.progress.tenantId === org.tenantId && known.partition === org.partition) return known;
    const restored = (this.snapshot ?? new CheckpointSnapshot(new Map())).restore(org.orgId, source, org.tenantId, this.config.settings.dedupHorizonMs);
    if (restored.problem) this.logger.warn({ orgId: org.orgId, source, problem: restored.problem }, 'checkpoint not usable');
    const entry: ProgressEntry = {
      partition: org.partition,
      progress: new SourceProgress(org.orgId, org.tenantId, source, restored.checkpoint, restored.ids as IdLedger, {
        topics: this.topics,
        writer: () => {
          const p = this.partitions.get(org.partition);
          if (!p) throw new Error('partition no longer assigned');
          return p.writer;
        },
        metrics: this.metrics,
        logger: this.logger,
        dedupHorizonMs: this.config.settings.dedupHorizonMs,
        now: this.now,
        limits: this.requireLimits(),
      }),
      registration: { buckets: restored.buckets, state: null },
    };
    this.progressCache.set(key, entry);
    return entry;
  }

  private pollerContext(org: OrgEntry, source: SourceName): PollerContext {
    return {
      orgId: org.orgId,
      tenantId: org.tenantId,
      profile: this.config.clouds[org.cloud],
      source,
      http: this.http,
      progress: this.progressOf(org, source).progress,
      settings: this.config.settings,
      metrics: this.metrics,
      logger: this.logger,
      now: this.now,
      quota: org.quota,
      licence: org.licence,
    };
  }

  private createRunner(org: OrgEntry, source: SourceName): SourceRunner {
    const { progress, registration } = this.progressOf(org, source);
    const ctx = this.pollerContext(org, source);
    let inner: Poller;
    if (source.startsWith('management:')) inner = new ManagementActivityPoller(ctx);
    else if (source === 'graph:userRegistrationDetails') inner = new RegistrationSnapshotPoller(ctx, registration);
    else inner = new GraphPoller(ctx);
    const poller: Poller = {
      runCycle: async (signal) => {
        await this.applyRefetch(org, progress);
        return inner.runCycle(signal);
      },
    };
    // Fenced: another instance owns the partition now; the next assignment event sorts out what is ours.
    return new SourceRunner(ctx, poller, this.status, () => undefined);
  }

  /** Operator-requested re-fetch: rewind once per generation, forgetting the ledger for the re-fetched span. */
  private async applyRefetch(org: OrgEntry, progress: SourceProgress): Promise<void> {
    const plan = org.connection.connection?.polling;
    if (!plan || plan.refetchGeneration <= progress.checkpoint.refetchGeneration) return;
    const from = plan.refetchFrom ? Date.parse(plan.refetchFrom) : NaN;
    const generation = plan.refetchGeneration;
    this.logger.info({ orgId: org.orgId, source: progress.source, generation, from: plan.refetchFrom }, 're-fetch requested: rewinding the cursor');
    const now = this.now();
    // Where the cursor stood is where the re-fetch is done: the span between is its progress (status `refetch`).
    const refetch = Number.isFinite(from) ? { generation, fromMs: from, untilMs: Math.max(from, progress.effectiveCursorMs ?? now), startedMs: now } : null;
    await progress.commit({
      ...(Number.isFinite(from) ? { cursorMs: from, rewind: true, clearIds: true } : {}),
      mutate: (cp) => ({ ...cp, refetchGeneration: generation, ...(refetch ? { snapshot: null, refetch } : {}) }),
    });
    // Said at once, not at the end of the (long) cycle that re-fetches: the organization's re-fetch progress counts
    // this source from its start instead of seeing only the sources that already finished.
    const prev = this.status.get(org.orgId, progress.source);
    if (prev && refetch) {
      const at = new Date(this.now()).toISOString();
      this.status.report({
        ...prev,
        lagSeconds: Math.max(0, Math.round((now - refetch.fromMs) / 1000)),
        refetch: refetchStatusOf(refetch, refetch.fromMs),
        updatedAt: at,
      });
    }
  }

  /** Graceful stop: runners stop (cursors stay committed), writers close, the group is left, status flushed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const timeout = new Promise<void>((r) => setTimeout(r, this.config.settings.shutdownTimeoutMs).unref());
    await Promise.race([Promise.all([...this.orgs.keys()].map((o) => this.stopOrg(o, false))), timeout]);
    await this.assignment.close();
    for (const [p] of [...this.partitions]) await this.dropPartition(p).catch(() => undefined);
    await this.status.close();
  }

  /**
   * Test hook for crash tests: abandons everything at once — no waiting for in-flight work, open transactions are
   * left to be aborted by the next owner's fencing — as a killed process would.
   */
  async crash(): Promise<void> {
    this.closed = true;
    for (const org of this.orgs.values()) for (const r of org.runners.values()) void r.stop();
    for (const [, entry] of this.partitions) void entry.writer.close();
    this.partitions.clear();
    this.orgs.clear();
    await this.assignment.close();
    await this.status.close();
  }
}
