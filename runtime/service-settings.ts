import { z } from 'zod';
import { envInt, parseSettings, setting } from './settings.ts';

/** Settings every service shares: logging and the ops port. */
export const commonSettingsSpec = {
  logLevel: setting(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'log level: fatal, error, warn, info, debug, trace or silent',
  ),
} as const;

export function parseCommonSettings(env: Readonly<Record<string, string | undefined>>) {
  return parseSettings(commonSettingsSpec, env);
}

/** The ops (health/metrics) port setting of one service, e.g. `INGEST_OPS_PORT`. */
export function opsPortSetting(prefix: string, fallback: number) {
  return setting(
    `${prefix}_OPS_PORT`,
    envInt(fallback, 0, 65535),
    `port of the ${prefix.toLowerCase()} service's /healthz, /readyz and /metrics (0 = any free port)`,
  );
}

/** How often a stage samples its consumer group's lag for /metrics, e.g. `NORMALIZE_LAG_INTERVAL_SECONDS`. */
export function lagIntervalSetting(prefix: string, fallback = 10) {
  return setting(
    `${prefix}_LAG_INTERVAL_SECONDS`,
    envInt(fallback, 0, 3_600),
    `how often the ${prefix.toLowerCase()} service samples its consumer group's lag (committed vs end offsets) for the consumer_lag gauges on /metrics (0 = off)`,
  );
}
