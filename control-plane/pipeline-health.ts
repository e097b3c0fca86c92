/**
 * Finds stalled pipeline stages (issue 19): every CONTROL_PLANE_PIPELINE_CHECK_SECONDS the control plane reads the
 * normalizer's and the indexer's committed offsets and their input topics' end offsets with the Kafka admin, runs the
 * runtime's LagTracker over them, and maps each stalled partition to the organizations keyed onto it. It observes
 * from outside, so a stage that is frozen, crashed or gone is seen exactly like one that is alive but stuck
 * (docs/decisions/0095, docs/pipeline-health.md).
 */
import type { Gauge } from 'prom-client';
import {
  LagTracker,
  PeriodicAdminTask,
  PIPELINE_STAGES,
  partitionForKey,
  readGroupOffsets,
  type KafkaAdmin,
  type KafkaClient,
  type Logger,
  type Metrics,
  type PipelineStage,
} from '../runtime/index.ts';
import type { PipelineStall } from './status.ts';

export interface WatchedStage {
  stage: PipelineStage;
  groupId: string;
  topic: string;
}

export interface PipelineHealthOptions {
  kafka: KafkaClient;
  stages: readonly WatchedStage[];
  /** A partition whose records wait this long with no commit is stalled; 0 = the check is off. */
  stallAfterMs: number;
  intervalMs: number;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}

interface StageState {
  tracker: LagTracker;
  partitions: number;
  stalled: Map<number, PipelineStall>;
}

export class PipelineHealth {
  private readonly states = new Map<PipelineStage, StageState>();
  private readonly now: () => number;
  private readonly stalledGauge: Gauge<'stage'>;
  private readonly task: PeriodicAdminTask;

  constructor(private readonly o: PipelineHealthOptions) {
    this.now = o.now ?? Date.now;
    for (const s of o.stages) this.states.set(s.stage, { tracker: new LagTracker(o.stallAfterMs), partitions: 0, stalled: new Map() });
    this.stalledGauge = o.metrics.gauge(
      'pipeline_stalled_partitions',
      'count',
      'input partitions of a pipeline stage that committed nothing for CONTROL_PLANE_STALL_SECONDS while records waited',
      ['stage'],
    );
    for (const stage of PIPELINE_STAGES) this.stalledGauge.set({ stage }, 0);
    // Kafka away: the last known stalls stay (a pipeline without Kafka is not flowing either).
    this.task = new PeriodicAdminTask(o.kafka, {
      intervalMs: this.enabled ? o.intervalMs : 0,
      logger: o.logger,
      what: 'pipeline health check',
      run: async (admin) => {
        for (const watched of o.stages) await this.checkStage(admin, watched);
      },
    });
  }

  get enabled(): boolean {
    return this.o.stallAfterMs > 0 && this.o.intervalMs > 0;
  }

  start(): void {
    this.task.start();
  }

  /** One check now (the timer runs it; tests may too); false when Kafka could not be read. */
  checkNow(): Promise<boolean> {
    return this.task.runNow();
  }

  private async checkStage(admin: KafkaAdmin, watched: WatchedStage): Promise<void> {
    const state = this.states.get(watched.stage);
    if (!state) return;
    const offsets = await readGroupOffsets(admin, watched.groupId, watched.topic);
    const now = this.now();
    const stalled = new Map<number, PipelineStall>();
    for (const lag of offsets ? state.tracker.observe(now, offsets) : []) {
      if (!lag.stalled || lag.waitingSince === null) continue;
      stalled.set(lag.partition, {
        stage: watched.stage,
        topic: watched.topic,
        partition: lag.partition,
        since: new Date(lag.waitingSince).toISOString(),
        lagRecords: lag.lagRecords,
      });
    }
    for (const [partition, stall] of stalled) {
      if (!state.stalled.has(partition))
        this.o.logger.warn({ stage: stall.stage, topic: stall.topic, partition, since: stall.since, lagRecords: stall.lagRecords }, 'pipeline stage stalled');
    }
    for (const [partition, stall] of state.stalled) {
      if (!stalled.has(partition)) this.o.logger.info({ stage: stall.stage, topic: stall.topic, partition }, 'pipeline stage committing again');
    }
    state.stalled = stalled;
    state.partitions = offsets?.length ?? 0;
    this.stalledGauge.set({ stage: watched.stage }, stalled.size);
  }

  /** The stalls that hold up this organization's data: those on the partitions its key maps to. */
  stallsFor(orgId: string): PipelineStall[] {
    const out: PipelineStall[] = [];
    for (const state of this.states.values()) {
      if (state.stalled.size === 0 || state.partitions === 0) continue;
      const stall = state.stalled.get(partitionForKey(orgId, state.partitions));
      if (stall) out.push(stall);
    }
    return out;
  }

  stop(): Promise<void> {
    return this.task.stop();
  }
}
