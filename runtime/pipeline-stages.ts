/**
 * The pipeline's consuming stages, the topic each reads and the setting naming its consumer group: one definition
 * for the stages themselves and for the control plane, which watches their groups to find a stalled stage
 * (docs/pipeline-health.md). Ingest is not here: its only consumer (tenant assignment on the compacted
 * m365.tenants) re-reads from the beginning and commits nothing, so it has no lag to measure.
 */
import { z } from 'zod';
import { setting } from './settings.ts';
import type { TopicKey } from './topics.ts';

export const PIPELINE_STAGES = ['normalize', 'index'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** The topic (by its key in the topic settings) each stage consumes. */
export const STAGE_INPUT_TOPIC: Readonly<Record<PipelineStage, TopicKey>> = { normalize: 'raw', index: 'events' };

export const stageGroupSettings = {
  normalize: setting(
    'NORMALIZE_GROUP_ID',
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'expected letters, digits, dot, underscore or dash')
      .default('m365-siem-normalize'),
    'consumer group on m365.raw; instances sharing it share the partitions',
  ),
  index: setting('INDEX_GROUP_ID', z.string().min(1).default('m365-siem-index'), 'consumer group of the indexer on siem.events'),
} as const;
