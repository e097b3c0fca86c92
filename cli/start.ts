/**
 * `m365-siem start [service…]`.
 *
 * With service names it runs those services in this process, for real deployments (one service per container is
 * the usual shape). Without names it is the newcomer's one command: the local stack, the simulator when no
 * Microsoft application is configured, every service as its own child process, and demo organizations connected
 * through the real consent flow (see demo.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { startControlPlane } from '../control-plane/index.ts';
import { startIndexer } from '../index/index.ts';
import { startIngest } from '../ingest/index.ts';
import { startNormalizer } from '../normalize/index.ts';
import { createLogger, parseMicrosoftApp, Shutdown } from '../runtime/index.ts';
import { ensureStack, releaseStack } from '../stack/index.ts';
// The demo and the simulator load only when the whole pipeline runs: the production image ships neither.
import type { DemoSetup } from './demo.ts';
import { RestartPolicy } from './restart-policy.ts';

export const SERVICES = ['control-plane', 'ingest', 'normalize', 'index'] as const;
export type ServiceName = (typeof SERVICES)[number];

const DEMO_PUBLISHER_IDENTIFIER = '5f1b7e4c-2d3a-4b6e-8f90-1a2b3c4d5e6f';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(repoRoot, 'bin', 'm365-siem.js');

type Env = Readonly<Record<string, string | undefined>>;

/** Runs the named services in this process until SIGINT/SIGTERM. */
export async function runServices(names: readonly ServiceName[], env: Env): Promise<void> {
  const logger = createLogger('m365-siem');
  const shutdown = new Shutdown(logger);
  shutdown.installSignalHandlers();
  for (const name of names) {
    const running = await startService(name, env);
    shutdown.register(name, () => running.close());
    logger.info({ service: name, ...(running.url ? { url: running.url } : {}) }, 'service started');
    if (running.url) process.stdout.write(`${JSON.stringify({ service: name, url: running.url })}\n`);
  }
}

async function startService(name: ServiceName, env: Env): Promise<{ close(): Promise<void>; url?: string }> {
  switch (name) {
    case 'control-plane': {
      const cp = await startControlPlane(env);
      return { close: () => cp.close(), url: cp.url };
    }
    case 'ingest':
      return startIngest(env);
    case 'normalize':
      return startNormalizer(env);
    case 'index':
      return startIndexer(env);
  }
}

interface Child {
  name: string;
  process: ChildProcess;
  logFile: string;
}

function spawnChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr?.pipe(log);
  return { name, process: child, logFile };
}

/** The first stdout line of a child that announces itself with one JSON line (the simulator, the control plane). */
function firstJsonLine(child: Child, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.name} did not start within ${timeoutMs / 1000} s; see ${child.logFile}`)), timeoutMs);
    const lines = createInterface({ input: child.process.stdout! });
    lines.on('line', (line) => {
      try {
        const value = JSON.parse(line) as Record<string, unknown>;
        clearTimeout(timer);
        resolve(value);
      } catch {
        // Not the announcement; keep reading.
      }
    });
    child.process.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited with ${code} while starting; see ${child.logFile}`));
    });
  });
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopChild(child: Child): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
    const force = setTimeout(() => child.process.kill('SIGKILL'), 25_000);
    child.process.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.process.kill('SIGTERM');
  });
}

/**
 * Starts a child and starts it again whenever it exits while the pipeline runs, as RestartPolicy decides; every
 * restart and the giving up are said on the terminal.
 */
function superviseChild(name: string, spawnIt: () => Child, children: Child[], hooks: { isStopping: () => boolean; progress: (line: string) => void }): void {
  const policy = new RestartPolicy();
  const window = `${policy.windowMs / 60_000} min`;
  const launch = () => {
    const child = spawnIt();
    children.push(child);
    child.process.once('exit', (code, signal) => {
      if (hooks.isStopping()) return;
      const decision = policy.onExit(Date.now());
      if (!decision.restart) {
        hooks.progress(`${name} exited (${code ?? signal}) ${decision.exitsInWindow} times in ${window}; not restarting it again; see ${child.logFile}`);
        return;
      }
      hooks.progress(
        `${name} exited (${code ?? signal}); restarting it in ${decision.delayMs / 1000} s (restart ${decision.exitsInWindow} of at most ${policy.maxRestarts} in ${window}); see ${child.logFile}`,
      );
      setTimeout(() => {
        if (hooks.isStopping()) return;
        const at = children.indexOf(child);
        if (at >= 0) children.splice(at, 1);
        launch();
      }, decision.delayMs).unref();
    });
  };
  launch();
}

export interface DemoOptions {
  json: boolean;
  pollIntervalMs: number;
}

function demoStateDir(env: Env): string {
  return path.join(env.M365_SIEM_CACHE_DIR ?? path.join(homedir(), '.cache', 'm365-siem'), 'demo');
}

/**
 * Node reads NODE_EXTRA_CA_CERTS only at process start, and this process talks to the simulator (control API,
 * consent page) too: when the simulator's CA is not trusted yet, run the same command again with it trusted.
 */
async function reexecTrustingSimulator(env: Env): Promise<boolean> {
  if (parseMicrosoftApp(env) !== null) return false;
  const { ensureCertificateAuthority } = await import('../simulator/index.ts');
  const { caFile } = await ensureCertificateAuthority(path.join(demoStateDir(env), 'simulator'));
  if (env.NODE_EXTRA_CA_CERTS === caFile) return false;
  const child = spawn(process.execPath, [bin, ...process.argv.slice(2)], {
    cwd: process.cwd(),
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 130 : 1))));
  process.exit(code);
}

/** The whole pipeline on the embedded default: stack, simulator, services, demo organizations. */
export async function runPipeline(env: Env, options: DemoOptions): Promise<void> {
  const say = (line: string) => {
    if (!options.json) process.stdout.write(`${line}\n`);
  };
  const progress = (line: string) => process.stderr.write(`[start] ${line}\n`);
  const stateDir = demoStateDir(env);
  const logDir = path.join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });

  const children: Child[] = [];
  /** Set by the first stop; a child exiting after it is expected. */
  let stopped: Promise<void> | null = null;
  const endpoints = await ensureStack({ lease: true, log: (l) => progress(l) });
  // One stop, however many signals: Ctrl-C reaches this process twice (from the terminal and forwarded by the
  // re-exec wrapper), and a second call must wait for the first stop, not exit before the simulator and the stack
  // it started are stopped.
  const stopAll = (): Promise<void> =>
    (stopped ??= (async () => {
      progress('stopping');
      for (const child of [...children].reverse()) await stopChild(child);
      const outcome = await releaseStack(endpoints);
      progress(outcome === 'stopped' ? 'stopped Kafka and OpenSearch (started by this run)' : 'left Kafka and OpenSearch running (not started by this run)');
    })());
  const onSignal = () => {
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const serviceEnv: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: endpoints.kafka.brokers,
      OPENSEARCH_URL: endpoints.opensearch.url,
      // A single local node has nowhere to put replicas.
      INDEX_REPLICAS: env.INDEX_REPLICAS ?? '0',
      INGEST_POLL_INTERVAL_MS: env.INGEST_POLL_INTERVAL_MS ?? String(options.pollIntervalMs),
      // Microsoft asks vendors to send their own tenant GUID as PublisherIdentifier; the demo has no tenant of its
      // own, so it uses a fixed one.
      INGEST_PUBLISHER_IDENTIFIER: env.INGEST_PUBLISHER_IDENTIFIER ?? DEMO_PUBLISHER_IDENTIFIER,
    };

    let simulatorUrl: string | null = null;
    let simulatorCaFile: string | null = null;
    if (parseMicrosoftApp(env) === null) {
      progress('no Microsoft application configured (M365_CLIENT_ID): starting the simulator');
      const sim = spawnChild('simulator', ['sim', '--port', '0', '--state-dir', path.join(stateDir, 'simulator'), '--seed', 'demo'], serviceEnv, logDir);
      children.push(sim);
      const ready = await firstJsonLine(sim, 60_000);
      simulatorUrl = String(ready.url);
      simulatorCaFile = String(ready.caFile);
      Object.assign(serviceEnv, {
        M365_ALL_HOSTS: simulatorUrl,
        M365_CLIENT_ID: String(ready.clientId),
        M365_CLIENT_SECRET: String(ready.clientSecret),
        // The simulator, like Microsoft, has a separate registration in Entra ID Government for GCC High and DoD.
        M365_GCC_HIGH_CLIENT_ID: String(ready.usGovClientId),
        M365_GCC_HIGH_CLIENT_SECRET: String(ready.usGovClientSecret),
        NODE_EXTRA_CA_CERTS: simulatorCaFile,
      });
    }

    const { connectDemoOrganizations } = await import('./demo.ts');
    const demo: DemoSetup = await connectDemoOrganizations.prepare(serviceEnv, env);
    Object.assign(serviceEnv, demo.controlPlaneEnv);

    const controlPlane = spawnChild('control-plane', ['start', 'control-plane'], serviceEnv, logDir);
    children.push(controlPlane);
    const announced = await firstJsonLine(controlPlane, 90_000);
    const controlPlaneUrl = String(announced.url);
    await waitForHttp(`${controlPlaneUrl}/healthz`, 30_000);
    for (const child of children) {
      child.process.once('exit', (code, signal) => {
        if (stopped === null) progress(`${child.name} exited (${code ?? signal}); see ${child.logFile}`);
      });
    }
    // The pipeline services are restarted when they exit (a supervisor's job, done here for the local pipeline):
    // backoff growing from 1 s to 30 s, at most RESTARTS_PER_WINDOW restarts in RESTART_WINDOW_MS (cli/restart-policy.ts), each logged.
    for (const name of ['ingest', 'normalize', 'index'] as const) {
      superviseChild(name, () => spawnChild(name, ['start', name], serviceEnv, logDir), children, { isStopping: () => stopped !== null, progress });
    }

    const organizations =
      simulatorUrl !== null ? await connectDemoOrganizations.run({ controlPlaneUrl, simulatorUrl, operatorToken: demo.operatorToken, progress }) : [];

    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({
          controlPlane: controlPlaneUrl,
          operatorToken: demo.operatorToken,
          kafka: endpoints.kafka.brokers,
          opensearch: endpoints.opensearch.url,
          simulator: simulatorUrl,
          simulatorCaFile,
          organizations: organizations.map((o) => ({ id: o.id, name: o.name, tenantId: o.tenantId })),
        })}\n`,
      );
    } else {
      say('');
      say(`control plane   ${controlPlaneUrl}   (operator token: ${demo.operatorToken})`);
      say(`opensearch      ${endpoints.opensearch.url}   (search the alias siem-events)`);
      say(`kafka           ${endpoints.kafka.brokers}`);
      if (simulatorUrl) say(`simulator       ${simulatorUrl}`);
      say(`logs            ${logDir}`);
      for (const org of organizations) say(`organization    ${org.name.padEnd(24)} ${org.id}  tenant ${org.tenantId}  ${org.status}`);
      say('');
      say('The CLI finds this stack by itself, in another terminal:');
      say('  node bin/m365-siem.js tail --from-beginning');
      if (organizations[0]) say(`  node bin/m365-siem.js replay --org ${organizations[0].id}`);
      say(`For \`org …\` commands against this control plane: export M365_SIEM_URL=${controlPlaneUrl} M365_SIEM_TOKEN=${demo.operatorToken}`);
      say('');
      say('ingest, normalize and index are restarted if they exit (backoff 1–30 s, at most 5 times in 10 min; logged here).');
      say('Ctrl-C stops everything this command started.');
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  await new Promise(() => undefined);
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the whole pipeline on local services and the simulator, or only the named services')
    .argument('[services...]', `services to run in this process: ${SERVICES.join(', ')}`)
    .option('--json', 'print one line of JSON once everything is ready (whole pipeline only)')
    .option('--poll-interval <ms>', 'poll interval of the demo pollers', '5000')
    .action(async (services: string[], opts: { json?: boolean; pollInterval: string }) => {
      const unknown = services.filter((s) => !(SERVICES as readonly string[]).includes(s));
      if (unknown.length > 0) program.error(`unknown service(s): ${unknown.join(', ')}; expected ${SERVICES.join(', ')}`);
      if (services.length > 0) await runServices(services as ServiceName[], process.env);
      else if (!(await reexecTrustingSimulator(process.env)))
        await runPipeline(process.env, { json: opts.json ?? false, pollIntervalMs: Number(opts.pollInterval) });
    });
}
