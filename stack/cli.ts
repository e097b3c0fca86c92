import type { Command } from 'commander';
import { ConfigError } from '../runtime/settings.ts';
import { ensureStack, stackStatus, stopStack, type ServiceStatus, type StackStatus } from './launcher.ts';
import type { StackConfig } from './config.ts';
import { StackRequirementError } from './requirements.ts';

const progress = (line: string) => process.stderr.write(`stack: ${line}\n`);

function printStatus(status: StackStatus, out: NodeJS.WritableStream = process.stdout): void {
  const row = (name: string, s: { up: boolean; version: string | null; provider: string | null }, endpoint: string | null) =>
    `${name.padEnd(11)}${(s.up ? 'up' : 'down').padEnd(6)}${(s.version ?? '-').padEnd(10)}${(s.provider ?? '-').padEnd(10)}${endpoint ?? '-'}`;
  // A cluster: one line per broker or node under its service, with its pid (what a fault drill kills).
  const members = (s: ServiceStatus) =>
    (s.members ?? []).map((m) => `  ${m.name.padEnd(9)}${(m.up ? 'up' : 'down').padEnd(6)}${(m.pid ? `pid ${m.pid}` : '-').padEnd(20)}${m.endpoint}`);
  out.write(
    [
      `${'service'.padEnd(11)}${'state'.padEnd(6)}${'version'.padEnd(10)}${'provider'.padEnd(10)}endpoint`,
      row('kafka', status.kafka, status.kafka.brokers),
      ...members(status.kafka),
      row('opensearch', status.opensearch, status.opensearch.url),
      ...members(status.opensearch),
      '',
    ].join('\n'),
  );
}

/** Settings the services need on a cluster the launcher started (replication is a setting, decision 0171). */
export function clusterSettings(status: StackStatus): string[] {
  const brokers = status.kafka.members?.length ?? 1;
  const nodes = status.opensearch.members?.length ?? 1;
  const lines: string[] = [];
  if (brokers > 1) lines.push(`export TOPIC_REPLICATION_FACTOR=${Math.min(3, brokers)}`);
  lines.push(`export INDEX_REPLICAS=${nodes > 1 ? 1 : 0}`);
  return lines;
}

/** Runs a command body; known failures (missing tools, bad settings) print their message and exit 2. */
async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof StackRequirementError || err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`stack: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

/** Adds `stack up|down|status` to the m365-siem CLI. */
export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('Kafka 4.x and OpenSearch 2.19 for development and tests: from KAFKA_BROKERS/OPENSEARCH_URL, Docker, or local JVMs');

  stack
    .command('up')
    .description('make Kafka and OpenSearch available on loopback (reuses what already runs) and print their endpoints')
    .option('--json', 'print the status as one JSON object')
    .option('--provider <provider>', 'auto | docker | local (default: M365_SIEM_STACK_PROVIDER or auto)')
    .option('--kafka-brokers <n>', 'Kafka brokers to start, 1-5 (default: M365_SIEM_STACK_KAFKA_BROKERS or 1); 3 = KRaft quorum, RF 3')
    .option('--opensearch-nodes <n>', 'OpenSearch nodes to start, 1-5 (default: M365_SIEM_STACK_OPENSEARCH_NODES or 1)')
    .action((opts: { json?: boolean; provider?: string; kafkaBrokers?: string; opensearchNodes?: string }) =>
      run(async () => {
        const provider = opts.provider;
        if (provider !== undefined && provider !== 'auto' && provider !== 'docker' && provider !== 'local') {
          throw new ConfigError([`--provider: expected auto, docker or local, got "${provider}"`]);
        }
        const count = (flag: string, value: string | undefined): number | undefined => {
          if (value === undefined) return undefined;
          const n = Number(value);
          if (!Number.isInteger(n) || n < 1 || n > 5) throw new ConfigError([`${flag}: expected a whole number from 1 to 5, got "${value}"`]);
          return n;
        };
        const brokers = count('--kafka-brokers', opts.kafkaBrokers);
        const nodes = count('--opensearch-nodes', opts.opensearchNodes);
        const config: Partial<StackConfig> = {
          ...(provider ? { provider } : {}),
          ...(brokers ? { kafkaBrokerCount: brokers } : {}),
          ...(nodes ? { opensearchNodeCount: nodes } : {}),
        };
        const started = Date.now();
        const endpoints = await ensureStack({ log: progress, pin: true, config });
        const status = await stackStatus({ config });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(status)}\n`);
          return;
        }
        // The table goes to stderr so that `eval "$(m365-siem stack up)"` sees only the export lines.
        printStatus(status, process.stderr);
        progress(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s; state in ${endpoints.stackDir}`);
        process.stdout.write(`export KAFKA_BROKERS=${endpoints.kafka.brokers}\nexport OPENSEARCH_URL=${endpoints.opensearch.url}\n`);
        if (status.kafka.members || status.opensearch.members) process.stdout.write(`${clusterSettings(status).join('\n')}\n`);
      }),
    );

  stack
    .command('down')
    .description('stop every process or container `stack up` started for this stack folder (env endpoints are left alone)')
    .option('--purge', 'also delete the stack data and logs (downloads stay cached)')
    .action((opts: { purge?: boolean }) =>
      run(async () => {
        const result = await stopStack({ purge: opts.purge === true });
        for (const line of result.actions) process.stdout.write(`${line}\n`);
      }),
    );

  stack
    .command('status')
    .description('show whether Kafka and OpenSearch answer, their endpoints, versions and providers')
    .option('--json', 'print one JSON object: {"kafka":{up,brokers,version,provider},"opensearch":{up,url,version,provider}}')
    .action((opts: { json?: boolean }) =>
      run(async () => {
        const status = await stackStatus();
        if (opts.json) process.stdout.write(`${JSON.stringify(status)}\n`);
        else printStatus(status);
      }),
    );
}
