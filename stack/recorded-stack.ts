import { loadStackConfig, type StackConfig } from './config.ts';
import { recordAlive } from './launcher.ts';
import { readState } from './state.ts';

/** Endpoints of the services the launcher started and recorded (by `stack up` or `npm start`) that still run. */
export interface RecordedStack {
  readonly stackDir: string;
  readonly kafkaBrokers?: string;
  readonly opensearchUrl?: string;
}

/**
 * What the launcher recorded in its stack folder, keeping only services whose process (or container) is still
 * ours and alive. Nothing is started or probed: CLI commands use this to find the stack without settings.
 */
export async function recordedStack(env: Readonly<Record<string, string | undefined>> = process.env, config?: Partial<StackConfig>): Promise<RecordedStack> {
  const { stackDir } = loadStackConfig(env, config);
  const state = await readState(stackDir).catch(() => null);
  if (!state) return { stackDir };
  const alive = async (record: (typeof state)['kafka']) => (record ? recordAlive(record, state.stackId) : false);
  const [kafkaAlive, openSearchAlive] = await Promise.all([alive(state.kafka), alive(state.opensearch)]);
  return {
    stackDir,
    ...(kafkaAlive && state.kafka ? { kafkaBrokers: state.kafka.endpoint } : {}),
    ...(openSearchAlive && state.opensearch ? { opensearchUrl: state.opensearch.endpoint } : {}),
  };
}

/**
 * The environment a CLI command runs with: explicit `KAFKA_BROKERS` / `OPENSEARCH_URL` win; an unset one is filled
 * from the recorded stack. Returns the variables it filled so the caller can say so.
 */
export function withRecordedStack(
  env: Readonly<Record<string, string | undefined>>,
  stack: RecordedStack,
): { env: Record<string, string | undefined>; filled: Record<string, string> } {
  const filled: Record<string, string> = {};
  if (!env.KAFKA_BROKERS && stack.kafkaBrokers) filled.KAFKA_BROKERS = stack.kafkaBrokers;
  if (!env.OPENSEARCH_URL && stack.opensearchUrl) filled.OPENSEARCH_URL = stack.opensearchUrl;
  return { env: { ...env, ...filled }, filled };
}
