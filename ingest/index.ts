/**
 * The ingest service: pollers for the Management Activity API and Graph that lose nothing. Public surface of ingest/.
 */
import { startServiceOps, type Logger } from '../runtime/index.ts';
import { parseIngestConfig, type IngestConfig } from './config.ts';
import { IngestService, type IngestDeps } from './ingest-service.ts';
import type { IngestMetrics } from './metrics.ts';

export { parseIngestConfig, ingestSettingsSpec } from './config.ts';
export type { IngestConfig, IngestSettings } from './config.ts';
export { IngestService } from './ingest-service.ts';
export type { IngestDeps } from './ingest-service.ts';
export { createIngestMetrics } from './metrics.ts';
export type { IngestMetrics } from './metrics.ts';
export { registerIngestCommands } from './cli.ts';
export { planWindows, parseMicrosoftDate, formatManagementTime, formatGraphTime, hoursUntilDataLoss } from './windows.ts';
export { classifyResponse, failureOf } from './microsoft-http.ts';
export type { ApiFailure, FetchFn, TokenSource } from './microsoft-http.ts';
export { diffRegistration, stateOf, TRACKED_CAPABILITIES } from './registration-snapshot.ts';
export type { RegistrationChange, RegistrationState } from './registration-snapshot.ts';
export { checkpointKey, checkpointSchema, emptyCheckpoint, idHash, IdLedger } from './checkpoint-store.ts';
export type { Checkpoint } from './checkpoint-store.ts';

export interface RunningIngest {
  readonly config: IngestConfig;
  readonly service: IngestService;
  readonly metrics: IngestMetrics;
  readonly logger: Logger;
  /** Port of the ops server (/healthz, /readyz, /metrics), when started. */
  readonly opsPort: number | null;
  /** Resolves once this instance handled its first partition assignment. */
  ready(): Promise<void>;
  /** Graceful stop: cycles stop, committed cursors stay, the group is left so others take the tenants. */
  close(): Promise<void>;
  /** Test hook: stop abruptly, as a killed process would (no graceful completion of in-flight work). */
  crash(): Promise<void>;
}

/**
 * Starts one ingest instance: parses settings (a bad one throws ConfigError naming it), ensures the topics it
 * uses, joins the pollers' group on m365.tenants and serves /healthz, /readyz and /metrics.
 */
export async function startIngest(env: Readonly<Record<string, string | undefined>>, deps: IngestDeps & { opsServer?: boolean } = {}): Promise<RunningIngest> {
  const config = parseIngestConfig(env);
  const service = new IngestService(config, deps);
  const topics = deps.topics ?? config.topics;
  const kafka = service.kafka;
  await kafka.ensureTopics([topics.tenants, topics.checkpoints, topics.status, topics.raw, topics.deadLetter]);
  await service.start();
  const ops = await startServiceOps(service, { port: config.settings.opsPort, enabled: deps.opsServer !== false });
  return {
    config,
    service,
    metrics: service.metrics,
    logger: service.logger,
    opsPort: ops.port,
    ready: () => service.waitUntilAssigned(),
    close: ops.close,
    crash: async () => {
      await service.crash();
      await ops.closeOps();
    },
  };
}
