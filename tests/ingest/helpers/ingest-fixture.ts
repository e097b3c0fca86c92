import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  parseTopicSettings,
  rawEnvelopeSchema,
  sourceStatusSchema,
  topicSpecs,
  type KafkaClient,
  type KafkaConsumer,
  type RawEnvelope,
  type SourceName,
  type SourceStatus,
  type TenantConnection,
  type Topics,
} from '../../../runtime/index.ts';
import { createIngestMetrics, startIngest, type IngestDeps, type RunningIngest } from '../../../ingest/index.ts';
import { testKafkaClient } from '../../helpers/clients.ts';
import { activeConnection } from '../../helpers/tenant-connections.ts';
import { deleteTestGroups, deleteTestTopics, testTopicEnv, uniqueName } from '../../helpers/resources.ts';
import { startFixture, type SimFixture } from '../../simulator/fixtures/simulator-fixture.ts';
import { waitUntil as waitForCondition } from '../../helpers/wait.ts';

/**
 * Everything an ingest integration test needs: a simulator, its own topics (test-prefixed), a way to publish
 * TenantConnection values as the control plane would, collectors for m365.raw / m365.status / the DLQ, and
 * ingest instances wired to the simulator through M365_ALL_HOSTS.
 */
export interface IngestFixture {
  sim: SimFixture;
  kafka: KafkaClient;
  topics: Topics;
  groupId: string;
  env: Record<string, string>;
  raw: Collector<RawEnvelope>;
  status: Collector<SourceStatus>;
  dlq: Collector<Record<string, unknown>>;
  startIngest(extraEnv?: Record<string, string>, deps?: IngestDeps): Promise<RunningIngest>;
  connect(
    orgId: string,
    tenantId: string,
    sources: SourceName[],
    options?: Partial<NonNullable<TenantConnection['connection']>> & {
      cloud?: 'commercial' | 'gcc' | 'gcc-high' | 'dod';
      revision?: number;
      paused?: NonNullable<TenantConnection['connection']>['polling']['paused'];
    },
  ): Promise<void>;
  /** Removes an organization's connection (a tombstone on m365.tenants, as a deleted organization): no longer polled. */
  disconnect(orgId: string): Promise<void>;
  /** Every record id the simulator made available for a tenant's source (its ledger). */
  ledgerIds(tenantId: string, source: SourceName): Promise<string[]>;
  /** Waits until the pollers started the tenant's subscriptions to these content types (any, when none given). */
  waitForSubscriptions(tenantId: string, contentTypes?: string[]): Promise<void>;
  /**
   * The positive signal for "nothing more appears": waits until each source of the organization completed `cycles`
   * more successful poll cycles on `ingest` (each had its chance to publish again), then until the raw, status and
   * dead-letter collectors hold everything committed for the organization so far (a marker read back on each).
   */
  settle(ingest: RunningIngest, orgId: string, sources: readonly SourceName[], cycles?: number): Promise<void>;
  /** Closes every ingest instance started so far (afterEach: a failed test must not leave pollers behind). */
  stopInstances(): Promise<void>;
  close(): Promise<void>;
}

/** Header of a test's own marker record: the collector notes it instead of parsing it as the topic's data. */
const MARKER_HEADER = 'x-test-marker';

export class Collector<T> {
  readonly items: Array<{ key: string; value: T; partition: number; offset: string; headers: Record<string, string> }> = [];
  private consumer: KafkaConsumer | null = null;
  private readonly markersSeen = new Set<string>();

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topic: string,
    private readonly groupId: string,
    private readonly parse: (v: unknown) => T,
  ) {}

  async start(): Promise<void> {
    const c = this.kafka.consumer({ groupId: this.groupId, readCommitted: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 });
    this.consumer = c;
    await c.connect();
    await c.subscribe({ topic: this.topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (!message.value) return;
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        const marker = headers[MARKER_HEADER];
        if (marker !== undefined) {
          this.markersSeen.add(marker);
          return;
        }
        this.items.push({
          key: message.key?.toString() ?? '',
          value: this.parse(JSON.parse(message.value.toString())),
          partition,
          offset: message.offset,
          headers,
        });
      },
    });
  }

  values(): T[] {
    return this.items.map((i) => i.value);
  }

  async waitFor(predicate: (items: T[]) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.values())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${this.topic} (${this.items.length} items)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Returns once this collector holds everything committed to `key`'s partition before the call: it writes a marker
   * record with that key (same partition) and waits until the marker is read. read_committed delivers a partition in
   * offset order, so every record committed earlier has been collected by then — the positive signal a "nothing
   * more arrived" assertion needs instead of a fixed sleep.
   */
  async drain(producer: ReturnType<KafkaClient['producer']>, key: string, timeoutMs = 30_000): Promise<void> {
    const marker = randomUUID();
    await producer.send({ topic: this.topic, messages: [{ key, value: '{}', headers: { [MARKER_HEADER]: marker } }] });
    await waitUntil(() => this.markersSeen.has(marker), timeoutMs, `marker ${marker} on ${this.topic}`);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

export const PUBLISHER_ID = '7d2e4c1a-0b3f-4e5d-9a8b-1c2d3e4f5a6b';

export async function startIngestFixture(options: { tenantPartitions?: number; seed?: string } = {}): Promise<IngestFixture> {
  const sim = await startFixture(options.seed ?? `ingest-${randomUUID()}`);
  const kafka = testKafkaClient('ingest-test');
  const prefix = uniqueName('ingest');
  const topics = topicSpecs(
    parseTopicSettings({
      ...testTopicEnv(prefix),
      TOPIC_TENANTS_PARTITIONS: String(options.tenantPartitions ?? 4),
      TOPIC_DATA_PARTITIONS: '2',
    }),
  );
  // Topic creation on a busy shared broker occasionally answers "does not host this topic-partition" while
  // leaders settle: retry it.
  for (let attempt = 0; ; attempt++) {
    try {
      await kafka.ensureTopics([topics.tenants, topics.checkpoints, topics.status, topics.raw, topics.deadLetter]);
      break;
    } catch (error) {
      if (attempt >= 4) throw error;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  const groupId = `${prefix}-group`;
  const groups = [groupId];
  const env: Record<string, string> = {
    KAFKA_BROKERS: kafka.settings.brokers.join(','),
    M365_ALL_HOSTS: sim.sim.url,
    M365_CLIENT_ID: sim.sim.clientId,
    M365_CLIENT_SECRET: sim.sim.clientSecret,
    // The US Government clouds (GCC High, DoD) have their own registration in Entra ID Government.
    M365_GCC_HIGH_CLIENT_ID: sim.sim.usGovClientId,
    M365_GCC_HIGH_CLIENT_SECRET: sim.sim.usGovClientSecret,
    INGEST_PUBLISHER_IDENTIFIER: PUBLISHER_ID,
    INGEST_GROUP_ID: groupId,
    INGEST_POLL_INTERVAL_MS: '500',
    INGEST_GRAPH_LAG_MS: '60000',
    // One query per Graph cycle, as the tests written before time slices expect (each report request counts
    // against 5 / 10 s); tests of the slicing set their own (graph-slices.int.test.ts).
    INGEST_GRAPH_SLICE_MS: String(7 * 24 * 3_600_000),
    INGEST_MANAGEMENT_OVERLAP_MS: '30000',
    INGEST_MAX_BACKOFF_MS: '2000',
    INGEST_STATUS_INTERVAL_MS: '1000',
    INGEST_HTTP_TIMEOUT_MS: '5000',
    INGEST_OPS_PORT: '0',
    INGEST_SHUTDOWN_TIMEOUT_MS: '5000',
    LOG_LEVEL: process.env.INGEST_TEST_LOG_LEVEL ?? 'error',
  };
  const collectorGroup = (name: string) => {
    const g = `${prefix}-${name}`;
    groups.push(g);
    return g;
  };
  const raw = new Collector(kafka, topics.raw.name, collectorGroup('raw'), (v) => rawEnvelopeSchema.parse(v));
  const status = new Collector(kafka, topics.status.name, collectorGroup('status'), (v) => sourceStatusSchema.parse(v));
  const dlq = new Collector(kafka, topics.deadLetter.name, collectorGroup('dlq'), (v) => v as Record<string, unknown>);
  await Promise.all([raw.start(), status.start(), dlq.start()]);
  const producer = kafka.producer();
  await producer.connect();
  const instances: RunningIngest[] = [];
  const revisions = new Map<string, number>();
  return {
    sim,
    kafka,
    topics,
    groupId,
    env,
    raw,
    status,
    dlq,
    settle: async (ingest, orgId, sources, cycles = 2) => {
      await waitForPollCycles(ingest, orgId, sources, cycles);
      for (const collector of [raw, status, dlq] as Array<Collector<unknown>>) await collector.drain(producer, orgId);
    },
    startIngest: async (extraEnv = {}, deps = {}) => {
      const running = await startIngest(
        { ...env, ...extraEnv },
        { topics, metrics: createIngestMetrics(false), sessionTimeoutMs: 6_000, opsServer: false, ...deps },
      );
      instances.push(running);
      return running;
    },
    connect: async (orgId, tenantId, sources, o = {}) => {
      const revision = o.revision ?? (revisions.get(orgId) ?? 0) + 1;
      revisions.set(orgId, revision);
      const value = activeConnection({
        orgId,
        tenantId,
        sources,
        revision,
        cloud: o.cloud ?? 'commercial',
        polling: { paused: o.paused ?? [], ...(o.polling ?? {}) },
      });
      await producer.send({ topic: topics.tenants.name, acks: -1, messages: [{ key: orgId, value: JSON.stringify(value) }] });
    },
    disconnect: async (orgId) => {
      await producer.send({ topic: topics.tenants.name, acks: -1, messages: [{ key: orgId, value: null }] });
    },
    ledgerIds: async (tenantId, source) => (await sim.control.ledger(tenantId, source)).records.map((r) => r.id),
    waitForSubscriptions: async (tenantId, contentTypes = []) => {
      await waitUntil(
        async () => {
          const { subscriptions } = await sim.control.getTenant(tenantId);
          if (contentTypes.length === 0) return subscriptions.some((s) => s.status === 'enabled');
          return contentTypes.every((ct) => subscriptions.some((s) => s.contentType === ct && s.status === 'enabled'));
        },
        20_000,
        `subscriptions${contentTypes.length > 0 ? ` to ${contentTypes.join(', ')}` : ''} started by the poller`,
      );
    },
    stopInstances: async () => {
      for (const i of instances.splice(0)) await i.close().catch(() => undefined);
    },
    close: async () => {
      for (const i of instances) await i.close().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await Promise.all([raw.stop(), status.stop(), dlq.stop()]);
      const admin = kafka.admin();
      await admin.connect();
      try {
        await deleteTestTopics(admin, [topics.tenants.name, topics.checkpoints.name, topics.status.name, topics.raw.name, topics.deadLetter.name]);
        const all = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
        await deleteTestGroups(admin, [...new Set([...groups, ...all])]);
      } finally {
        await admin.disconnect();
      }
      await sim.close();
    },
  };
}

/**
 * The fixture of one test file: started before its first test, its ingest instances stopped after each test, all
 * of it removed after the last. Call at the top of the file; the getter gives the running fixture inside tests.
 */
export function useIngestFixture(options: { tenantPartitions?: number; seed?: string } = {}): () => IngestFixture {
  let fx: IngestFixture | undefined;
  beforeAll(async () => {
    fx = await startIngestFixture(options);
  });
  afterEach(async () => {
    await fx?.stopInstances();
  });
  afterAll(async () => {
    await fx?.close();
  });
  return () => {
    if (!fx) throw new Error('the ingest fixture is not started (use it inside tests or hooks)');
    return fx;
  };
}

/** Record ids of m365.raw for one org and source, as published (duplicates kept). */
export function publishedIds(raw: RawEnvelope[], orgId: string, source: SourceName): string[] {
  return raw
    .filter((e) => e.orgId === orgId && e.source === source)
    .map((e) => String((e.record as Record<string, unknown>).Id ?? (e.record as Record<string, unknown>).id));
}

export function duplicatesOf(ids: string[]): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) dups.push(id);
    seen.add(id);
  }
  return dups;
}

/** Polls until `predicate` holds (the suite's one poll-until, tests/helpers/wait.ts). */
export async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await waitForCondition(what, predicate, timeoutMs, 200);
}

/**
 * Waits until each source of the organization reported `cycles` more successful poll cycles on this instance: the
 * scheduler reports a fresh status (new updatedAt) after every cycle; a failed one also moves lastErrorAt.
 */
export async function waitForPollCycles(
  ingest: RunningIngest,
  orgId: string,
  sources: readonly SourceName[],
  cycles: number,
  timeoutMs = 45_000,
): Promise<void> {
  const reportOf = (source: SourceName) => {
    const status = ingest.service.statusOf(orgId, source);
    return { updatedAt: status?.updatedAt ?? null, lastErrorAt: status?.lastErrorAt ?? null };
  };
  const seen = new Map(sources.map((source) => [source, { last: reportOf(source), succeeded: 0 }]));
  await waitUntil(
    () => {
      for (const [source, entry] of seen) {
        const now = reportOf(source);
        if (now.updatedAt !== null && now.updatedAt !== entry.last.updatedAt && now.lastErrorAt === entry.last.lastErrorAt) entry.succeeded++;
        entry.last = now;
      }
      return [...seen.values()].every((e) => e.succeeded >= cycles);
    },
    timeoutMs,
    `${cycles} more successful poll cycles of ${sources.join(', ')} for ${orgId}`,
  );
}
