/**
 * The fault tests' handle on their cluster: which process is which broker or node, how to kill, pause and resume
 * one, and `heal()` — `stack up` again, which restarts exactly the members found dead (stack/launcher.ts).
 * No vitest import: the global setup uses it too.
 */
import { ensureStack, stackStatus, stopStack, type StackOptions } from '../../stack/index.ts';
import { readState, type NodeRecord } from '../../stack/state.ts';
import { isAlive } from '../../stack/processes.ts';

export const KAFKA_BROKERS = 3;
export const OPENSEARCH_NODES = 2;

export interface ClusterStackOptions {
  stackDir: string;
  kafkaPort: number;
  opensearchPort: number;
}

/** Launcher options for the test cluster: its own folder and ports, never the shared stack's endpoints. */
export function clusterLauncherOptions(o: ClusterStackOptions): StackOptions {
  const env: Record<string, string | undefined> = { ...process.env, KAFKA_BROKERS: undefined, OPENSEARCH_URL: undefined };
  return {
    env,
    config: {
      stackDir: o.stackDir,
      provider: 'local',
      kafkaBrokerCount: KAFKA_BROKERS,
      opensearchNodeCount: OPENSEARCH_NODES,
      kafkaPort: o.kafkaPort,
      opensearchPort: o.opensearchPort,
      startTimeoutMs: 480_000,
    },
    log: (line) => process.stderr.write(`[cluster-stack] ${line}\n`),
  };
}

export class ClusterStack {
  constructor(private readonly options: ClusterStackOptions) {}

  private async members(service: 'kafka' | 'opensearch'): Promise<NodeRecord[]> {
    const state = await readState(this.options.stackDir);
    const nodes = state?.[service]?.nodes;
    if (!nodes) throw new Error(`no ${service} cluster recorded in ${this.options.stackDir}`);
    return nodes;
  }

  async broker(id: number): Promise<NodeRecord> {
    const b = (await this.members('kafka')).find((n) => n.id === id);
    if (!b) throw new Error(`no broker ${id}`);
    return b;
  }

  async node(name: string): Promise<NodeRecord> {
    const n = (await this.members('opensearch')).find((m) => m.name === name);
    if (!n) throw new Error(`no OpenSearch node ${name}`);
    return n;
  }

  /** Sends a signal to a member's process group (SIGKILL: a crash; SIGSTOP/SIGCONT: a partition and its end). */
  signal(member: NodeRecord, signal: NodeJS.Signals): void {
    if (member.pid === undefined) throw new Error(`${member.name} has no pid`);
    try {
      process.kill(-member.pid, signal);
    } catch {
      process.kill(member.pid, signal);
    }
  }

  isAlive(member: NodeRecord): boolean {
    return member.pid !== undefined && isAlive(member.pid);
  }

  /** `stack up` again: restarts the members found dead on their ports and data, waits until all answer. */
  async heal(): Promise<void> {
    await ensureStack({ ...clusterLauncherOptions(this.options), lease: false });
  }

  status() {
    return stackStatus(clusterLauncherOptions(this.options));
  }

  stop() {
    return stopStack({ ...clusterLauncherOptions(this.options), purge: true });
  }
}
