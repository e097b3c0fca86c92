/**
 * Consumer lag of a pipeline stage (issue 19): how far a consumer group's committed offsets are behind a topic's end
 * offsets, in records, and how long the group has committed nothing while records wait, in seconds. Written once
 * here: each stage exports it as Prometheus gauges (`ConsumerLagMonitor`) and the control plane runs the same
 * tracker over the same offsets to find stalled stages (docs/pipeline-health.md, docs/decisions/0095).
 *
 * Offsets only, never record reads: an observer outside the stage (the control plane) sees a frozen or crashed stage
 * the same way the stage's own gauges would, and one admin round trip per topic serves every partition.
 */
import type { Gauge } from 'prom-client';
import type { KafkaClient, KafkaAdmin } from './kafka/index.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** One partition's offsets at one moment: the topic's end (last stable offset) and the group's committed offset. */
export interface PartitionOffsets {
  partition: number;
  /** Log start offset: where a group that committed nothing starts reading. */
  low: bigint;
  /** End offset as a read-committed consumer sees it (Kafka's last stable offset). */
  end: bigint;
  /** The group's committed offset, or null when it committed nothing on this partition yet. */
  committed: bigint | null;
}

/** One partition's lag as the tracker computed it at one sample. */
export interface PartitionLag {
  partition: number;
  /** Records between the committed offset and the end (a transactional topic keeps 1, its commit marker, at rest). */
  lagRecords: number;
  /** Seconds the group has committed nothing on this partition while records that arrived since wait; 0 otherwise. */
  lagSeconds: number;
  /** When the records now waiting started waiting without the group committing (ms since the epoch), or null. */
  waitingSince: number | null;
  /** True when `lagSeconds` reached the tracker's stall threshold. */
  stalled: boolean;
}

interface PartitionState {
  committed: bigint;
  end: bigint;
  waitingSince: number | null;
}

/**
 * Turns successive offset samples into lag. Pure (the caller passes the time), so it is unit-tested with plain
 * numbers and serves the stages and the control plane alike.
 *
 * The clock of a partition starts at the first sample without a commit that sees records beyond the commit — more
 * than the one commit marker a transactional topic keeps at rest — and stops whenever the committed offset moves. So:
 * a busy healthy group (committing between samples) reads 0; an idle group whose only lag is a transaction's commit
 * marker never reads as waiting; a group frozen while records wait reads the time since the first sample that saw
 * it not commit, whether or not the backlog still grows (docs/pipeline-health.md).
 */
export class LagTracker {
  private readonly partitions = new Map<number, PartitionState>();

  constructor(private readonly stallAfterMs: number) {}

  observe(now: number, samples: readonly PartitionOffsets[]): PartitionLag[] {
    const seen = new Set<number>();
    const out: PartitionLag[] = [];
    for (const s of samples) {
      seen.add(s.partition);
      const committed = s.committed ?? s.low;
      const lag = s.end > committed ? s.end - committed : 0n;
      const previous = this.partitions.get(s.partition);
      let waitingSince: number | null;
      if (!previous || committed !== previous.committed || lag === 0n) waitingSince = null;
      else if (previous.waitingSince !== null) waitingSince = previous.waitingSince;
      else waitingSince = s.end > previous.end ? now : null;
      // The end remembered is the one at the last commit (or the first sample): growth is measured from there.
      // When the group commits (or is first seen), records beyond its commit already wait: the reference end is the
      // commit plus at most the one commit marker a transactional topic keeps at rest, so a backlog that arrived
      // before the commit starts the clock at the next sample without a commit, even if no record arrives after it.
      const moved = !previous || committed !== previous.committed;
      const end = moved ? (s.end < committed + 1n ? s.end : committed + 1n) : waitingSince === null && lag !== 0n ? previous.end : s.end;
      this.partitions.set(s.partition, { committed, end, waitingSince });
      const lagSeconds = waitingSince === null ? 0 : Math.max(0, (now - waitingSince) / 1000);
      out.push({
        partition: s.partition,
        lagRecords: Number(lag),
        lagSeconds,
        waitingSince,
        stalled: waitingSince !== null && this.stallAfterMs > 0 && now - waitingSince >= this.stallAfterMs,
      });
    }
    for (const p of [...this.partitions.keys()]) if (!seen.has(p)) this.partitions.delete(p);
    return out.sort((a, b) => a.partition - b.partition);
  }
}

/**
 * Reads a group's committed offsets and a topic's end offsets with one admin client; null when the topic does not
 * exist (a stage that was never deployed has no lag to report).
 */
export async function readGroupOffsets(admin: KafkaAdmin, groupId: string, topic: string): Promise<PartitionOffsets[] | null> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return null;
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
  return ends.map((e) => {
    const offset = byPartition.get(e.partition);
    // Kafka answers -1 for a partition the group never committed on.
    const c = offset === undefined || BigInt(offset) < 0n ? null : BigInt(offset);
    return { partition: e.partition, low: BigInt(e.low), end: BigInt(e.high), committed: c };
  });
}

export interface ConsumerLagGauges {
  records: Gauge<'topic' | 'partition'>;
  seconds: Gauge<'topic' | 'partition'>;
}

/** `m365siem_<component>_consumer_lag_records` and `…_consumer_lag_seconds`, labelled by topic and partition only. */
export function consumerLagGauges(metrics: Metrics): ConsumerLagGauges {
  return {
    records: metrics.gauge('consumer_lag', 'records', "records between the consumer group's committed offset and the topic's end offset, per partition", [
      'topic',
      'partition',
    ]),
    seconds: metrics.gauge(
      'consumer_lag',
      'seconds',
      'seconds the consumer group has committed nothing on the partition while records that arrived since wait (0 when caught up or committing)',
      ['topic', 'partition'],
    ),
  };
}

export interface ConsumerLagMonitorOptions {
  groupId: string;
  topic: string;
  /** How often to sample; 0 = never (the gauges stay absent). */
  intervalMs: number;
  gauges: ConsumerLagGauges;
  logger: Logger;
}

/**
 * Runs an offsets read every `intervalMs` on one admin connection kept open: one run at a time, Kafka failures
 * logged once per outage (the last values stay meanwhile). Serves the stages' gauges and the control plane's stall
 * check alike.
 */
export class PeriodicAdminTask {
  private admin: KafkaAdmin | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<boolean> | null = null;
  private failing = false;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly options: { intervalMs: number; logger: Logger; what: string; run: (admin: KafkaAdmin) => Promise<void> },
  ) {}

  /** Starts the timer (and a first run now); a no-op when the interval is 0. */
  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.runNow(), this.options.intervalMs);
    this.timer.unref();
    void this.runNow();
  }

  /** One run now (or the one under way); false when Kafka could not be read. */
  runNow(): Promise<boolean> {
    this.running ??= this.runOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runOnce(): Promise<boolean> {
    const { logger, what } = this.options;
    try {
      if (!this.admin) {
        const admin = this.kafka.admin();
        await admin.connect();
        this.admin = admin;
      }
      await this.options.run(this.admin);
      if (this.failing) logger.info(`${what} works again`);
      this.failing = false;
      return true;
    } catch (error) {
      if (!this.failing) logger.warn({ err: error }, `${what} failed; retrying every interval`);
      this.failing = true;
      return false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect().catch(() => undefined);
  }
}

/**
 * A stage's own lag gauges: samples its group's offsets on a timer independent of the consumer, so a consumer that
 * stopped inside a live process still shows its lag growing on /metrics. Kafka away: the gauges keep their last
 * values; the stage's own errors say more.
 */
export class ConsumerLagMonitor {
  private readonly tracker = new LagTracker(0);
  private readonly task: PeriodicAdminTask;

  constructor(kafka: KafkaClient, options: ConsumerLagMonitorOptions) {
    const { groupId, topic, gauges } = options;
    this.task = new PeriodicAdminTask(kafka, {
      intervalMs: options.intervalMs,
      logger: options.logger,
      what: `consumer lag sampling of ${topic}`,
      run: async (admin) => {
        const offsets = await readGroupOffsets(admin, groupId, topic);
        for (const lag of offsets ? this.tracker.observe(Date.now(), offsets) : []) {
          const labels = { topic, partition: String(lag.partition) };
          gauges.records.set(labels, lag.lagRecords);
          gauges.seconds.set(labels, lag.lagSeconds);
        }
      },
    });
  }

  start(): void {
    this.task.start();
  }

  /** Takes one sample now and updates the gauges (the timer calls it; tests may too). */
  async sampleNow(): Promise<void> {
    await this.task.runNow();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }
}
