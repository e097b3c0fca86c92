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
  return setting(`${prefix}_OPS_PORT`, envInt(fallback, 0, 65535), `port of the ${prefix.toLowerCase()} service's /healthz, /readyz and /metrics (0 = any free port)`);
}
