/**
 * The normalize service: m365.raw → SIEM events (Avro) on siem.events, exactly once. Public surface of normalize/.
 */
import { startServiceOps, type Logger } from '../runtime/index.ts';
import { parseNormalizeConfig, type NormalizeConfig } from './config.ts';
import { NormalizerService, type NormalizerDeps } from './normalizer-service.ts';

export { parseNormalizeConfig, normalizeSettingsSpec } from './config.ts';
export type { NormalizeConfig, NormalizeSettings } from './config.ts';
export { NormalizerService } from './normalizer-service.ts';
export type { NormalizerDeps } from './normalizer-service.ts';
export { mapEnvelope, parseEnvelope, normalizeValue, encodeEvent, NORMALIZE_ERROR_CODES } from './mapper.ts';
export type { NormalizeErrorCode, NormalizeOptions } from './mapper.ts';
export { MAPPER_VERSION } from './event-draft.ts';
export { parseAddress } from './ip.ts';
export { parseIdentity, isGuid } from './user.ts';
export { RecentKeys } from './dedup.ts';
export { registerSiemEventSchema } from './schema-registration.ts';
export { createNormalizeMetrics } from './metrics.ts';
export type { NormalizeMetrics } from './metrics.ts';
export { registerNormalizeCommands } from './cli.ts';

export interface RunningNormalizer {
  readonly config: NormalizeConfig;
  readonly service: NormalizerService;
  readonly logger: Logger;
  /** Port of the ops server (/healthz, /readyz, /metrics), or null when not started. */
  readonly opsPort: number | null;
  /** Schema id the events are framed with. */
  readonly schemaId: number;
  /** Resolves once the instance joined the consumer group (or rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  /** Graceful stop: the running transaction finishes, the group is left, producers close. */
  close(): Promise<void>;
}

/**
 * Starts one normalizer: parses settings (a bad one throws ConfigError naming it), ensures its topics, registers the
 * schema when SCHEMA_REGISTRY_URL is set, joins the group on m365.raw and serves /healthz, /readyz and /metrics.
 */
export async function startNormalizer(
  env: Readonly<Record<string, string | undefined>>,
  deps: NormalizerDeps & { opsServer?: boolean } = {},
): Promise<RunningNormalizer> {
  const config = parseNormalizeConfig(env);
  const service = new NormalizerService(config, deps);
  const topics = service.topics;
  await service.kafka.ensureTopics([topics.raw, topics.events, topics.deadLetter]);
  await service.start();
  const ops = await startServiceOps(service, { port: config.settings.opsPort, enabled: deps.opsServer !== false });
  return {
    config,
    service,
    logger: service.logger,
    opsPort: ops.port,
    schemaId: service.frameSchemaId,
    async ready(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (service.readiness() !== null) {
        if (Date.now() > until) throw new Error(`normalizer not ready: ${service.readiness()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: ops.close,
  };
}
