import { z } from 'zod';
import { envInt, parseSettings, setting } from '../runtime/settings.ts';

/** Settings of `m365-siem sim`, from the environment; CLI flags override them. */
export const simulatorSettingsSpec = {
  port: setting('SIM_PORT', envInt(8443, 0, 65535), 'HTTPS port of the Microsoft 365 simulator (0 = any free port)'),
  host: setting('SIM_HOST', z.string().min(1).default('127.0.0.1'), 'address the simulator listens on'),
  stateDir: setting('SIM_STATE_DIR', z.string().min(1).default('.sim-state'), 'directory holding the simulator CA, server and app certificates'),
  seed: setting('SIM_SEED', z.string().min(1).default('m365-siem'), 'seed of the deterministic record generators and ids'),
} as const;

export type SimulatorSettings = ReturnType<typeof parseSimulatorSettings>;

export function parseSimulatorSettings(env: Readonly<Record<string, string | undefined>>) {
  return parseSettings(simulatorSettingsSpec, env);
}
