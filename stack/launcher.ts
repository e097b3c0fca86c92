import { open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadStackConfig, type StackConfig } from './config.ts';
import {
  containerRunning,
  dockerAvailable,
  removeContainer,
  startDockerKafka,
  startDockerKafkaCluster,
  startDockerOpenSearch,
  startDockerOpenSearchCluster,
} from './docker.ts';
import { probeKafka, type KafkaProbeResult } from './kafka-probe.ts';
import { ensureKafkaJars, kafkaJarsCached, startLocalKafka, startLocalKafkaMember, type KafkaMember } from './local-kafka.ts';
import {
  ensureOpenSearchZip,
  ensureServiceUser,
  needsUnpack,
  openSearchWorkDir,
  openSearchZipPath,
  prepareOpenSearchHome,
  startLocalOpenSearch,
  startLocalOpenSearchMember,
  type OpenSearchMember,
  type ServiceUser,
} from './local-opensearch.ts';
import { probeOpenSearch, type OpenSearchProbeResult } from './opensearch-probe.ts';
import { choosePort, isAlive, isBindFailure, isOurProcess, stopOurProcess } from './processes.ts';
import { StackRequirementError, findJavaInstalls, pickKafkaJava, pickOpenSearchJava, which, type JavaInstall } from './requirements.ts';
import { liveLeases, newState, readState, withStackLock, writeState, type NodeRecord, type ServiceRecord, type StackState } from './state.ts';

export type Provider = 'env' | 'docker' | 'local';
export type ServiceName = 'kafka' | 'opensearch';

export interface KafkaEndpoint {
  readonly brokers: string;
  /** e.g. "4.1.1" when the launcher started it; the release line ("4.1") read from the broker for env endpoints */
  readonly version: string;
  readonly provider: Provider;
  /** true when this call started the service (so the caller may stop it when done) */
  readonly startedNow: boolean;
}

export interface OpenSearchEndpoint {
  readonly url: string;
  /** the version the server reports on GET / */
  readonly version: string;
  readonly provider: Provider;
  readonly startedNow: boolean;
}

export interface StackEndpoints {
  readonly kafka: KafkaEndpoint;
  readonly opensearch: OpenSearchEndpoint;
  readonly stackDir: string;
}

export interface StackOptions {
  /** environment to read settings from (default process.env) */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** settings that win over the environment */
  readonly config?: Partial<StackConfig>;
  /** progress lines (downloads, starts, reuse); default: silent */
  readonly log?: (line: string) => void;
  /** replaces the Docker probe (tests) */
  readonly dockerProbe?: () => Promise<boolean>;
}

export interface EnsureStackOptions extends StackOptions {
  /** record this process as a user of the stack, so another process's `releaseStack` keeps it running */
  readonly lease?: boolean;
  /** keep the stack running until `stopStack` (what `m365-siem stack up` does); `releaseStack` then never stops it */
  readonly pin?: boolean;
}

/** One broker or node of a cluster, for `stack status`. */
export interface MemberStatus {
  readonly name: string;
  readonly up: boolean;
  readonly endpoint: string;
  readonly pid?: number;
  readonly logFile: string;
}

export interface ServiceStatus {
  /** every member answers (a cluster with a member down is reported down, its members say which) */
  readonly up: boolean;
  /** set for a cluster the launcher started: each broker or node */
  readonly members?: readonly MemberStatus[];
  readonly version: string | null;
  readonly provider: Provider | null;
  /** where the service writes its log (local: a file; docker: the `docker logs` command) */
  readonly logFile?: string;
  readonly pid?: number;
}

export interface StackStatus {
  readonly kafka: ServiceStatus & { readonly brokers: string | null };
  readonly opensearch: ServiceStatus & { readonly url: string | null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const noop = () => undefined;

/**
 * Decides how a service is provided: an env endpoint first, then Docker when the setting allows it and an
 * engine answers, then local JVMs. `dockerAnswers` is null when Docker was not probed.
 */
export function decideProvider(envEndpoint: string | undefined, setting: StackConfig['provider'], dockerAnswers: boolean | null): Provider {
  if (envEndpoint) return 'env';
  if (setting === 'local') return 'local';
  if (setting === 'docker') {
    if (dockerAnswers !== true) {
      throw new Error(
        'M365_SIEM_STACK_PROVIDER=docker but no Docker engine answers (checked DOCKER_HOST, ~/.testcontainers.properties and /var/run/docker.sock)',
      );
    }
    return 'docker';
  }
  return dockerAnswers === true ? 'docker' : 'local';
}

async function logTail(files: readonly string[], lines = 15): Promise<string> {
  const parts: string[] = [];
  for (const file of files) {
    try {
      const s = await stat(file);
      const handle = await open(file, 'r');
      try {
        const length = Math.min(s.size, 16_384);
        const buf = Buffer.alloc(length);
        await handle.read(buf, 0, length, s.size - length);
        const tail = buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
        parts.push(`--- last lines of ${file}:\n${tail}`);
      } finally {
        await handle.close();
      }
    } catch {
      // no such log yet
    }
  }
  return parts.join('\n');
}

function stdoutFile(record: ServiceRecord, service: ServiceName, stackDir: string): string {
  return service === 'kafka' ? path.join(record.workDir, 'kafka.out') : path.join(stackDir, 'opensearch.out');
}

/**
 * Waits until a service answers. For a local process it gives up early when the process dies, quoting its
 * logs; for every provider it gives up at the deadline.
 */
async function waitUntilAnswers<T>(
  label: string,
  probe: () => Promise<T>,
  deadline: number,
  watch: { pid?: number | undefined; pids?: readonly (number | undefined)[]; logs: readonly string[] } | null,
): Promise<T> {
  let lastError = 'no answer yet';
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      lastError = (err as Error).message;
    }
    const dead = [watch?.pid, ...(watch?.pids ?? [])].find((pid) => pid !== undefined && !isAlive(pid));
    if (dead !== undefined) {
      throw new Error(`${label} exited during startup (${lastError})\n${await logTail(watch?.logs ?? [])}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${label} did not answer in time: ${lastError}\n${watch ? await logTail(watch.logs) : ''}`.trimEnd());
    }
    await sleep(500);
  }
}

function kafkaVersionFromProbe(probe: KafkaProbeResult): string {
  if (probe.releaseLine) return probe.releaseLine;
  return probe.metadataVersion ? `unknown (metadata.version ${probe.metadataVersion})` : 'unknown';
}

async function memberAlive(member: NodeRecord, provider: ServiceRecord['provider'], stackId: string): Promise<boolean> {
  if (provider === 'local') return member.pid !== undefined && isOurProcess(member.pid, stackId);
  return member.containerId !== undefined && containerRunning(member.containerId);
}

export async function recordAlive(record: ServiceRecord, stackId: string): Promise<boolean> {
  if (record.nodes) return (await Promise.all(record.nodes.map((n) => memberAlive(n, record.provider, stackId)))).every(Boolean);
  if (record.provider === 'local') return record.pid !== undefined && isOurProcess(record.pid, stackId);
  return record.containerId !== undefined && containerRunning(record.containerId);
}

async function stopRecord(record: ServiceRecord, stackId: string): Promise<'stopped' | 'not-running'> {
  if (record.nodes) {
    const results = await Promise.all(
      record.nodes.map((n) =>
        record.provider === 'local'
          ? n.pid === undefined
            ? 'not-running'
            : stopOurProcess(n.pid, stackId)
          : n.containerId === undefined
            ? 'not-running'
            : removeContainer(n.containerId),
      ),
    );
    return results.includes('stopped') ? 'stopped' : 'not-running';
  }
  if (record.provider === 'local') return record.pid === undefined ? 'not-running' : stopOurProcess(record.pid, stackId);
  return record.containerId === undefined ? 'not-running' : removeContainer(record.containerId);
}

interface LocalPlan {
  readonly kafka: boolean;
  readonly opensearch: boolean;
}

/** Checks every tool the local path needs before starting anything, and names all that are missing. */
/** What the local path finds on this machine, gathered before anything starts. */
export interface LocalFacts {
  readonly plan: { readonly kafka: boolean; readonly opensearch: boolean };
  readonly installs: readonly JavaInstall[];
  readonly needMaven: boolean;
  readonly hasMaven: boolean;
  readonly needUnzip: boolean;
  readonly hasUnzip: boolean;
  readonly isRoot: boolean;
  readonly hasServiceUser: boolean;
  readonly hasUseradd: boolean;
  readonly opensearchVersion: string;
  readonly cacheDir: string;
  readonly serviceUser: string;
}

/** Names every missing piece of the local path, in words a user can act on; empty when nothing is missing. */
export function missingRequirements(f: LocalFacts): string[] {
  const missing: string[] = [];
  const kafkaJava = pickKafkaJava(f.installs);
  const openSearchJava = pickOpenSearchJava(f.installs);
  if ((f.plan.kafka && !kafkaJava) || (f.plan.opensearch && !kafkaJava)) {
    missing.push('Java 17+ not found on PATH (nor in M365_SIEM_JAVA_HOME, JAVA_HOME or /usr/lib/jvm)');
  } else if (f.plan.opensearch && !openSearchJava) {
    const found = f.installs.map((j) => `Java ${j.major} (${j.home})`).join(', ');
    missing.push(`OpenSearch ${f.opensearchVersion} needs Java 17 to 23 (JDK 24+ removed the Security Manager it uses); found only ${found}`);
  }
  if (f.needMaven && !f.hasMaven) missing.push(`mvn not found on PATH (Maven downloads the Kafka jars and the OpenSearch distribution into ${f.cacheDir})`);
  if (f.plan.opensearch && f.needUnzip && !f.hasUnzip) missing.push('unzip not found on PATH (needed to unpack OpenSearch)');
  if (f.plan.opensearch && f.isRoot && !f.hasServiceUser && !f.hasUseradd) {
    missing.push(`useradd not found (OpenSearch refuses to run as root; the launcher runs it as the user "${f.serviceUser}", which does not exist)`);
  }
  return missing;
}

/** Checks every tool the local path needs before starting anything, and names all that are missing. */
async function checkLocalRequirements(config: StackConfig, plan: LocalPlan, workDir: string) {
  const installs = await findJavaInstalls(config.javaHome);
  const needMaven =
    (plan.kafka && !(await kafkaJarsCached(config.cacheDir, config.kafkaVersion))) ||
    (plan.opensearch &&
      !(await stat(openSearchZipPath(config.cacheDir, config.opensearchVersion)).then(
        () => true,
        () => false,
      )));
  const mvn = await which('mvn');
  const unzip = await which('unzip');
  const isRoot = process.getuid?.() === 0;
  const useradd = isRoot ? ((await which('useradd')) ?? (await which('useradd', '/usr/sbin:/sbin'))) : null;
  const missing = missingRequirements({
    plan,
    installs,
    needMaven,
    hasMaven: mvn !== null,
    needUnzip: plan.opensearch && (await needsUnpack(workDir, config.opensearchVersion)),
    hasUnzip: unzip !== null,
    isRoot,
    hasServiceUser: plan.opensearch && isRoot ? await ensureServiceUserExists(config.serviceUser) : true,
    hasUseradd: useradd !== null,
    opensearchVersion: config.opensearchVersion,
    cacheDir: config.cacheDir,
    serviceUser: config.serviceUser,
  });
  if (missing.length > 0) {
    throw new StackRequirementError(
      missing,
      'Install what is missing (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless maven unzip), or start a Docker engine, or point KAFKA_BROKERS and OPENSEARCH_URL at running services.',
    );
  }
  const kafkaJava = plan.kafka ? pickKafkaJava(installs) : undefined;
  const openSearchJava = plan.opensearch ? pickOpenSearchJava(installs) : undefined;
  return { kafkaJava, openSearchJava, mvn, unzip, useradd, isRoot };
}

async function ensureServiceUserExists(name: string): Promise<boolean> {
  try {
    await ensureServiceUser(name, null);
    return true;
  } catch {
    return false;
  }
}

async function startLocalServices(
  config: StackConfig,
  state: StackState,
  plan: LocalPlan,
  previous: { kafka?: Record<string, number> | undefined; opensearch?: Record<string, number> | undefined },
  save: () => Promise<void>,
  log: (line: string) => void,
  deadline: number,
): Promise<{ kafka?: KafkaProbeResult; opensearch?: OpenSearchProbeResult }> {
  const isRoot = process.getuid?.() === 0;
  const workDir = await openSearchWorkDir(config.stackDir, isRoot);
  const req = await checkLocalRequirements(config, plan, workDir);

  // Prefer the ports of the previous run (a restarted stack keeps its endpoints), else the defaults.
  const taken = new Set<number>();
  const pick = async (preferred: number) => {
    const p = await choosePort(preferred, taken);
    taken.add(p);
    return p;
  };
  let kafkaPort = plan.kafka ? await pick(previous.kafka?.client ?? config.kafkaPort) : 0;
  let controllerPort = plan.kafka ? await pick(previous.kafka?.controller ?? config.kafkaPort + 1) : 0;
  let httpPort = plan.opensearch ? await pick(previous.opensearch?.http ?? config.opensearchPort) : 0;
  let transportPort = plan.opensearch ? await pick(previous.opensearch?.transport ?? config.opensearchPort + 100) : 0;

  const started: ServiceName[] = [];
  /**
   * Starts one service and waits for it; when it dies because a chosen port was taken meanwhile, stops
   * and retries once on new ports.
   */
  const startWithRetry = async <T>(service: ServiceName, startOnce: () => Promise<T>, repick: () => Promise<void>): Promise<T> => {
    try {
      return await startOnce();
    } catch (err) {
      if (!isBindFailure((err as Error).message)) throw err;
      const record = state[service];
      if (record) await stopRecord(record, state.stackId);
      delete state[service];
      started.splice(started.indexOf(service), 1);
      await repick();
      log(`${service}: a port was taken meanwhile, retrying on new ports`);
      return startOnce();
    }
  };

  /** Records a service process just started (so a failed start or `down` stops it), then waits until it answers. */
  const recordAndWait = async <T>(service: ServiceName, label: string, record: ServiceRecord, probe: (endpoint: string) => Promise<T>): Promise<T> => {
    state[service] = record;
    state.lastPorts[service] = record.ports;
    started.push(service);
    await save();
    return waitUntilAnswers(`${label} (pid ${record.pid})`, () => probe(record.endpoint), deadline, {
      pid: record.pid,
      logs: [stdoutFile(record, service, config.stackDir), record.logFile],
    });
  };

  const kafkaTask = async (): Promise<KafkaProbeResult | undefined> => {
    if (!plan.kafka) return undefined;
    const libsDir = await ensureKafkaJars(config.cacheDir, config.kafkaVersion, req.mvn ?? 'mvn', log);
    if (config.kafkaBrokerCount > 1) {
      const members: KafkaMember[] = [];
      for (let id = 1; id <= config.kafkaBrokerCount; id++) {
        const client = await pick(previous.kafka?.[`client-${id}`] ?? config.kafkaPort + 2 * (id - 1));
        const controller = await pick(previous.kafka?.[`controller-${id}`] ?? config.kafkaPort + 2 * (id - 1) + 1);
        members.push({ id, port: client, controllerPort: controller });
      }
      log(
        `starting a Kafka ${config.kafkaVersion} cluster of ${members.length} brokers on ${members.map((m) => `127.0.0.1:${m.port}`).join(',')} (Java ${req.kafkaJava!.major})`,
      );
      const base = { stackDir: config.stackDir, stackId: state.stackId, version: config.kafkaVersion, libsDir, javaBin: req.kafkaJava!.javaBin };
      const nodes = await Promise.all(members.map((m) => startLocalKafkaMember(base, m, members)));
      const record = clusterRecord(config.kafkaVersion, nodes, path.join(config.stackDir, 'kafka'), nodes.map((n) => n.endpoint).join(','), (n) => ({
        [`client-${n.id}`]: n.ports.client!,
        [`controller-${n.id}`]: n.ports.controller!,
      }));
      state.kafka = record;
      state.lastPorts.kafka = record.ports;
      started.push('kafka');
      await save();
      return waitUntilAnswers(`Kafka cluster (${nodes.length} brokers)`, () => probeKafkaCluster(record, state.stackId), deadline, {
        pids: nodes.map((n) => n.pid),
        logs: nodes.flatMap((n) => [path.join(n.workDir, 'kafka.out'), n.logFile]),
      });
    }
    const startOnce = async () => {
      log(`starting Kafka ${config.kafkaVersion} on 127.0.0.1:${kafkaPort} (Java ${req.kafkaJava!.major})`);
      const record = await startLocalKafka({
        stackDir: config.stackDir,
        stackId: state.stackId,
        version: config.kafkaVersion,
        libsDir,
        javaBin: req.kafkaJava!.javaBin,
        port: kafkaPort,
        controllerPort,
      });
      return recordAndWait('kafka', `Kafka ${config.kafkaVersion}`, record, probeKafka);
    };
    return startWithRetry('kafka', startOnce, async () => {
      kafkaPort = await pick(config.kafkaPort);
      controllerPort = await pick(config.kafkaPort + 1);
    });
  };
  const openSearchTask = async (): Promise<OpenSearchProbeResult | undefined> => {
    if (!plan.opensearch) return undefined;
    const zip = await ensureOpenSearchZip(config.cacheDir, config.opensearchVersion, req.mvn ?? 'mvn', log);
    const user = req.isRoot ? await ensureServiceUser(config.serviceUser, req.useradd) : null;
    const home = await prepareOpenSearchHome(zip, workDir, config.opensearchVersion, req.unzip ?? 'unzip', user);
    if (config.opensearchNodeCount > 1) {
      const members: OpenSearchMember[] = [];
      for (let id = 1; id <= config.opensearchNodeCount; id++) {
        const http = await pick(previous.opensearch?.[`http-${id}`] ?? config.opensearchPort + (id - 1));
        const transport = await pick(previous.opensearch?.[`transport-${id}`] ?? config.opensearchPort + 100 + (id - 1));
        members.push({ id, httpPort: http, transportPort: transport });
      }
      log(
        `starting an OpenSearch ${config.opensearchVersion} cluster of ${members.length} nodes on ${members.map((m) => `http://127.0.0.1:${m.httpPort}`).join(', ')} (Java ${req.openSearchJava!.major}${user ? `, user ${user.name}` : ''})`,
      );
      const base = openSearchMemberBase(config, state, home, workDir, req.openSearchJava!.home, user);
      const nodes = await Promise.all(members.map((m) => startLocalOpenSearchMember(base, m, members)));
      const record = clusterRecord(config.opensearchVersion, nodes, workDir, nodes[0]!.endpoint, (n) => ({
        [`http-${n.id}`]: n.ports.http!,
        [`transport-${n.id}`]: n.ports.transport!,
      }));
      state.opensearch = record;
      state.lastPorts.opensearch = record.ports;
      started.push('opensearch');
      await save();
      return waitUntilAnswers(`OpenSearch cluster (${nodes.length} nodes)`, () => probeOpenSearchCluster(record, state.stackId), deadline, {
        pids: nodes.map((n) => n.pid),
        logs: nodes.flatMap((n) => [path.join(config.stackDir, `opensearch-${n.name}.out`), n.logFile]),
      });
    }
    const startOnce = async () => {
      log(
        `starting OpenSearch ${config.opensearchVersion} on http://127.0.0.1:${httpPort} (Java ${req.openSearchJava!.major}${user ? `, user ${user.name}` : ''})`,
      );
      const record = await startLocalOpenSearch({
        stackDir: config.stackDir,
        stackId: state.stackId,
        version: config.opensearchVersion,
        home,
        workDir,
        javaHome: req.openSearchJava!.home,
        httpPort,
        transportPort,
        user,
      });
      return recordAndWait('opensearch', `OpenSearch ${config.opensearchVersion}`, record, probeOpenSearch);
    };
    return startWithRetry('opensearch', startOnce, async () => {
      httpPort = await pick(config.opensearchPort);
      transportPort = await pick(config.opensearchPort + 100);
    });
  };
  const [k, o] = await Promise.allSettled([kafkaTask(), openSearchTask()]);
  if (k.status === 'rejected' || o.status === 'rejected') {
    // Leave nothing half-started behind: stop what this call started, then report every failure.
    for (const service of started) {
      const record = state[service];
      if (record) await stopRecord(record, state.stackId);
      delete state[service];
    }
    await save();
    const reasons = [k, o].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
    if (k.status === 'rejected' && k.reason instanceof StackRequirementError) throw k.reason;
    throw new Error(reasons.join('\n'));
  }
  return { ...(k.value ? { kafka: k.value } : {}), ...(o.value ? { opensearch: o.value } : {}) };
}

function clusterRecord(
  version: string,
  nodes: readonly NodeRecord[],
  workDir: string,
  endpoint: string,
  ports: (n: NodeRecord) => Record<string, number>,
): ServiceRecord {
  return {
    provider: 'local',
    version,
    endpoint,
    pid: nodes[0]!.pid,
    ports: Object.assign({}, ...nodes.map(ports)) as Record<string, number>,
    logFile: nodes[0]!.logFile,
    workDir,
    startedAt: new Date().toISOString(),
    nodes: [...nodes],
  };
}

function openSearchMemberBase(config: StackConfig, state: StackState, home: string, workDir: string, javaHome: string, user: ServiceUser | null) {
  return { stackDir: config.stackDir, stackId: state.stackId, version: config.opensearchVersion, home, workDir, javaHome, user };
}

/** Resolves once every broker answers and lists every broker of the cluster (registered and unfenced). */
async function probeKafkaCluster(record: ServiceRecord, stackId: string): Promise<KafkaProbeResult> {
  const nodes = record.nodes ?? [];
  let first: KafkaProbeResult | undefined;
  for (const n of nodes) {
    if (record.provider === 'local' && n.pid !== undefined && !(await isOurProcess(n.pid, stackId))) throw new Error(`${n.name} (pid ${n.pid}) is not running`);
    const probe = await probeKafka(n.endpoint);
    if (probe.brokers.length < nodes.length) throw new Error(`${n.name} lists ${probe.brokers.length} of ${nodes.length} brokers`);
    first ??= probe;
  }
  if (!first) throw new Error('no broker recorded');
  return first;
}

/** Resolves once every node answers and the cluster counts all of them (health at least yellow). */
async function probeOpenSearchCluster(record: ServiceRecord, stackId: string): Promise<OpenSearchProbeResult> {
  const nodes = record.nodes ?? [];
  let first: OpenSearchProbeResult | undefined;
  for (const n of nodes) {
    if (record.provider === 'local' && n.pid !== undefined && !(await isOurProcess(n.pid, stackId))) throw new Error(`${n.name} (pid ${n.pid}) is not running`);
    const probe = await probeOpenSearch(n.endpoint);
    const health = (await (await fetch(`${n.endpoint}/_cluster/health`, { signal: AbortSignal.timeout(3000) })).json()) as { number_of_nodes?: number };
    if ((health.number_of_nodes ?? 0) < nodes.length) throw new Error(`${n.name} sees ${health.number_of_nodes ?? 0} of ${nodes.length} nodes`);
    first ??= probe;
  }
  if (!first) throw new Error('no node recorded');
  return first;
}

/**
 * `stack up` on a local cluster with members down (a fault test killed one, or it crashed): starts exactly those
 * again on their ports and data folders, and waits until the whole cluster answers. Returns the names restarted.
 */
async function restartDeadMembers(
  config: StackConfig,
  state: StackState,
  service: ServiceName,
  log: (line: string) => void,
  deadline: number,
): Promise<string[]> {
  const record = state[service];
  if (!record?.nodes || record.provider !== 'local') return [];
  const dead: NodeRecord[] = [];
  for (const n of record.nodes) if (!(await memberAlive(n, 'local', state.stackId))) dead.push(n);
  if (dead.length === 0) return [];
  const installs = await findJavaInstalls(config.javaHome);
  const restarted: NodeRecord[] = [];
  if (service === 'kafka') {
    const java = pickKafkaJava(installs);
    if (!java) throw new StackRequirementError(['Java 17+ not found'], 'Install a JDK to restart the broker.');
    const libsDir = await ensureKafkaJars(config.cacheDir, record.version, 'mvn', log);
    const members: KafkaMember[] = record.nodes.map((n) => ({ id: n.id, port: n.ports.client!, controllerPort: n.ports.controller! }));
    const base = { stackDir: config.stackDir, stackId: state.stackId, version: record.version, libsDir, javaBin: java.javaBin };
    for (const n of dead) {
      log(`restarting Kafka ${n.name} on ${n.endpoint}`);
      restarted.push(await startLocalKafkaMember(base, members.find((m) => m.id === n.id)!, members));
    }
  } else {
    const java = pickOpenSearchJava(installs);
    if (!java) throw new StackRequirementError(['Java 17 to 23 not found'], 'Install a JDK to restart the node.');
    const isRoot = process.getuid?.() === 0;
    const user = isRoot ? await ensureServiceUser(config.serviceUser, null) : null;
    const home = path.join(record.workDir, `opensearch-${record.version}`);
    const members: OpenSearchMember[] = record.nodes.map((n) => ({ id: n.id, httpPort: n.ports.http!, transportPort: n.ports.transport! }));
    const base = { ...openSearchMemberBase(config, state, home, record.workDir, java.home, user), version: record.version };
    for (const n of dead) {
      log(`restarting OpenSearch ${n.name} on ${n.endpoint}`);
      restarted.push(await startLocalOpenSearchMember(base, members.find((m) => m.id === n.id)!, members));
    }
  }
  record.nodes = record.nodes.map((n) => restarted.find((r) => r.id === n.id) ?? n);
  record.pid = record.nodes[0]!.pid;
  await writeState(config.stackDir, state);
  const probe = async (): Promise<unknown> => (service === 'kafka' ? probeKafkaCluster(record, state.stackId) : probeOpenSearchCluster(record, state.stackId));
  await waitUntilAnswers(`${service} cluster after restarting ${dead.map((n) => n.name).join(', ')}`, probe, deadline, {
    pid: restarted[0]!.pid,
    logs: restarted.map((n) => n.logFile),
  });
  return dead.map((n) => n.name);
}

async function startDockerServices(
  config: StackConfig,
  state: StackState,
  plan: LocalPlan,
  save: () => Promise<void>,
  log: (line: string) => void,
  deadline: number,
): Promise<{ kafka?: KafkaProbeResult; opensearch?: OpenSearchProbeResult }> {
  const taken = new Set<number>();
  const kafkaPort = plan.kafka ? await choosePort(config.kafkaPort, taken) : 0;
  taken.add(kafkaPort);
  const httpPort = plan.opensearch ? await choosePort(config.opensearchPort, taken) : 0;
  taken.add(httpPort);
  const morePorts = async (first: number, count: number) => {
    const ports = [first];
    for (let i = 1; i < count; i++) {
      const p = await choosePort(first + i * 2, taken);
      taken.add(p);
      ports.push(p);
    }
    return ports;
  };
  const kafkaTask = async () => {
    if (!plan.kafka) return undefined;
    if (config.kafkaBrokerCount > 1) {
      const ports = await morePorts(kafkaPort, config.kafkaBrokerCount);
      log(`starting a Kafka ${config.kafkaVersion} cluster of ${ports.length} brokers in Docker (untested path)`);
      const record = await startDockerKafkaCluster(config.kafkaVersion, ports, state.stackId);
      state.kafka = record;
      await save();
      return waitUntilAnswers(`Kafka cluster (Docker)`, () => probeKafkaCluster(record, state.stackId), deadline, null);
    }
    log(`starting Kafka ${config.kafkaVersion} in Docker on 127.0.0.1:${kafkaPort}`);
    state.kafka = await startDockerKafka(config.kafkaVersion, kafkaPort, state.stackId);
    await save();
    const endpoint = state.kafka.endpoint;
    return waitUntilAnswers(`Kafka ${config.kafkaVersion} (Docker)`, () => probeKafka(endpoint), deadline, null);
  };
  const openSearchTask = async () => {
    if (!plan.opensearch) return undefined;
    if (config.opensearchNodeCount > 1) {
      const ports = await morePorts(httpPort, config.opensearchNodeCount);
      log(`starting an OpenSearch ${config.opensearchVersion} cluster of ${ports.length} nodes in Docker (untested path)`);
      const record = await startDockerOpenSearchCluster(config.opensearchVersion, ports, state.stackId);
      state.opensearch = record;
      await save();
      return waitUntilAnswers(`OpenSearch cluster (Docker)`, () => probeOpenSearchCluster(record, state.stackId), deadline, null);
    }
    log(`starting OpenSearch ${config.opensearchVersion} in Docker on http://127.0.0.1:${httpPort}`);
    state.opensearch = await startDockerOpenSearch(config.opensearchVersion, httpPort, state.stackId);
    await save();
    const endpoint = state.opensearch.endpoint;
    return waitUntilAnswers(`OpenSearch ${config.opensearchVersion} (Docker)`, () => probeOpenSearch(endpoint), deadline, null);
  };
  const [k, o] = await Promise.allSettled([kafkaTask(), openSearchTask()]);
  if (k.status === 'rejected' || o.status === 'rejected') {
    for (const service of ['kafka', 'opensearch'] as const) {
      const record = state[service];
      if (record && plan[service]) await stopRecord(record, state.stackId).catch(noop);
      if (plan[service]) delete state[service];
    }
    await save();
    throw new Error(
      [k, o]
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => (r.reason as Error).message)
        .join('\n'),
    );
  }
  return { ...(k.value ? { kafka: k.value } : {}), ...(o.value ? { opensearch: o.value } : {}) };
}

/**
 * Makes Kafka and OpenSearch available and returns their endpoints: env endpoints first, then services
 * this stack folder already runs, then new Docker containers or local JVMs. This is `m365-siem stack up`.
 */
export async function ensureStack(options: EnsureStackOptions = {}): Promise<StackEndpoints> {
  const config = loadStackConfig(options.env ?? process.env, options.config);
  const log = options.log ?? noop;
  const deadline = Date.now() + config.startTimeoutMs;
  const needKafka = !config.kafkaBrokers;
  const needOpenSearch = !config.opensearchUrl;

  let kafka: KafkaEndpoint | undefined;
  let opensearch: OpenSearchEndpoint | undefined;

  if (needKafka || needOpenSearch) {
    await withStackLock(config.stackDir, config.startTimeoutMs, async () => {
      const state = (await readState(config.stackDir)) ?? newState();
      const save = () => writeState(config.stackDir, state);
      const previous = {
        kafka: state.kafka?.ports ?? state.lastPorts.kafka,
        opensearch: state.opensearch?.ports ?? state.lastPorts.opensearch,
      };

      // A cluster with some members down: start those again (the others keep their data and leadership).
      for (const service of ['kafka', 'opensearch'] as const) {
        const record = state[service];
        if (!record?.nodes || (service === 'kafka' ? !needKafka : !needOpenSearch)) continue;
        const alive = await Promise.all(record.nodes.map((n) => memberAlive(n, record.provider, state.stackId)));
        if (alive.some(Boolean) && !alive.every(Boolean)) await restartDeadMembers(config, state, service, log, deadline);
      }

      // Reuse what this stack folder already runs.
      if (needKafka && state.kafka) {
        const record = state.kafka;
        if (await recordAlive(record, state.stackId)) {
          await waitUntilAnswers(`Kafka (pid ${record.pid ?? record.containerId})`, () => probeKafka(record.endpoint), deadline, {
            pid: record.pid,
            logs: [record.logFile],
          });
          kafka = { brokers: record.endpoint, version: record.version, provider: record.provider, startedNow: false };
          log(`reusing Kafka ${record.version} at ${record.endpoint} (${record.provider})`);
        } else delete state.kafka;
      }
      if (needOpenSearch && state.opensearch) {
        const record = state.opensearch;
        if (await recordAlive(record, state.stackId)) {
          const probe = await waitUntilAnswers(`OpenSearch (pid ${record.pid ?? record.containerId})`, () => probeOpenSearch(record.endpoint), deadline, {
            pid: record.pid,
            logs: [record.logFile],
          });
          opensearch = { url: record.endpoint, version: probe.version, provider: record.provider, startedNow: false };
          log(`reusing OpenSearch ${probe.version} at ${record.endpoint} (${record.provider})`);
        } else delete state.opensearch;
      }

      const plan: LocalPlan = { kafka: needKafka && !kafka, opensearch: needOpenSearch && !opensearch };
      if (plan.kafka || plan.opensearch) {
        const dockerAnswers = config.provider === 'local' ? null : await (options.dockerProbe ?? dockerAvailable)();
        const provider = decideProvider(undefined, config.provider, dockerAnswers);
        if (config.provider === 'auto' && provider === 'local') log('no Docker engine answers: starting local JVMs');
        const results =
          provider === 'docker'
            ? await startDockerServices(config, state, plan, save, log, deadline)
            : await startLocalServices(config, state, plan, previous, save, log, deadline);
        if (results.kafka && state.kafka) {
          kafka = { brokers: state.kafka.endpoint, version: state.kafka.version, provider: state.kafka.provider, startedNow: true };
        }
        if (results.opensearch && state.opensearch) {
          opensearch = { url: state.opensearch.endpoint, version: results.opensearch.version, provider: state.opensearch.provider, startedNow: true };
        }
      }
      if (options.lease) state.leases = [...liveLeases(state).filter((p) => p !== process.pid), process.pid];
      if (options.pin) state.pinned = true;
      await save();
    });
  }

  // Env endpoints are expected to run already: a short wait covers a broker still starting, while a stale
  // setting fails within a minute instead of the whole start timeout.
  const envDeadline = Math.min(deadline, Date.now() + 60_000);
  if (!kafka) {
    const brokers = config.kafkaBrokers!;
    const probe = await waitUntilAnswers(`Kafka at KAFKA_BROKERS=${brokers}`, () => probeKafka(brokers), envDeadline, null);
    kafka = { brokers, version: kafkaVersionFromProbe(probe), provider: 'env', startedNow: false };
  }
  if (!opensearch) {
    const url = config.opensearchUrl!;
    const probe = await waitUntilAnswers(`OpenSearch at OPENSEARCH_URL=${url}`, () => probeOpenSearch(url), envDeadline, null);
    opensearch = { url, version: probe.version, provider: 'env', startedNow: false };
  }
  return { kafka, opensearch, stackDir: config.stackDir };
}

/** Each member of a cluster: its process (or container) runs and it answers `answers`. */
async function membersStatus(record: ServiceRecord, stackId: string, answers: (n: NodeRecord) => Promise<boolean>): Promise<MemberStatus[]> {
  return Promise.all(
    (record.nodes ?? []).map(async (n) => {
      const alive = await memberAlive(n, record.provider, stackId);
      const up = alive && (await answers(n).catch(() => false));
      return { name: n.name, up, endpoint: n.endpoint, logFile: n.logFile, ...(alive && n.pid !== undefined ? { pid: n.pid } : {}) };
    }),
  );
}

/** What runs now, for `m365-siem stack status`. Never starts or stops anything. */
export async function stackStatus(options: StackOptions = {}): Promise<StackStatus> {
  const config = loadStackConfig(options.env ?? process.env, options.config);
  const state = await readState(config.stackDir);

  const kafkaStatus = async (): Promise<StackStatus['kafka']> => {
    if (config.kafkaBrokers) {
      const probe = await probeKafka(config.kafkaBrokers).catch(() => null);
      return { up: probe !== null, brokers: config.kafkaBrokers, version: probe ? kafkaVersionFromProbe(probe) : null, provider: 'env' };
    }
    const record = state?.kafka;
    if (!record || !state) return { up: false, brokers: null, version: null, provider: null };
    if (record.nodes) {
      const members = await membersStatus(record, state.stackId, async (n) => (await probeKafka(n.endpoint)).brokers.length === record.nodes!.length);
      return { up: members.every((m) => m.up), brokers: record.endpoint, version: record.version, provider: record.provider, logFile: record.logFile, members };
    }
    const alive = await recordAlive(record, state.stackId);
    const probe = alive ? await probeKafka(record.endpoint).catch(() => null) : null;
    return {
      up: probe !== null,
      brokers: record.endpoint,
      version: record.version,
      provider: record.provider,
      logFile: record.logFile,
      ...(record.pid !== undefined && alive ? { pid: record.pid } : {}),
    };
  };
  const openSearchStatus = async (): Promise<StackStatus['opensearch']> => {
    if (config.opensearchUrl) {
      const probe = await probeOpenSearch(config.opensearchUrl).catch(() => null);
      return { up: probe !== null, url: config.opensearchUrl, version: probe?.version ?? null, provider: 'env' };
    }
    const record = state?.opensearch;
    if (!record || !state) return { up: false, url: null, version: null, provider: null };
    if (record.nodes) {
      const members = await membersStatus(record, state.stackId, async (n) => (await probeOpenSearch(n.endpoint)) !== null);
      return { up: members.every((m) => m.up), url: record.endpoint, version: record.version, provider: record.provider, logFile: record.logFile, members };
    }
    const alive = await recordAlive(record, state.stackId);
    const probe = alive ? await probeOpenSearch(record.endpoint).catch(() => null) : null;
    return {
      up: probe !== null,
      url: record.endpoint,
      version: probe?.version ?? record.version,
      provider: record.provider,
      logFile: record.logFile,
      ...(record.pid !== undefined && alive ? { pid: record.pid } : {}),
    };
  };
  const [kafka, opensearch] = await Promise.all([kafkaStatus(), openSearchStatus()]);
  return { kafka, opensearch };
}

export interface StopResult {
  /** one line per service: what was stopped, or that it was not running */
  readonly actions: readonly string[];
}

/**
 * Stops every process or container this stack folder started, and nothing else (`m365-siem stack down`).
 * Env-provided services are never touched. `purge` also deletes the stack's data and logs.
 */
export async function stopStack(options: StackOptions & { purge?: boolean; only?: readonly ServiceName[] } = {}): Promise<StopResult> {
  const config = loadStackConfig(options.env ?? process.env, options.config);
  const actions: string[] = [];
  await withStackLock(config.stackDir, config.startTimeoutMs, async () => {
    const state = await readState(config.stackDir);
    if (!state) {
      actions.push(`nothing recorded in ${config.stackDir}`);
      return;
    }
    const services = options.only ?? (['kafka', 'opensearch'] as const);
    await Promise.all(
      services.map(async (service) => {
        const record = state[service];
        if (!record) return;
        const result = await stopRecord(record, state.stackId);
        const what = record.provider === 'local' ? `pid ${record.pid}` : `container ${record.containerId?.slice(0, 12)}`;
        actions.push(result === 'stopped' ? `stopped ${service} (${what})` : `${service} was not running (${what})`);
        delete state[service];
      }),
    );
    if (!state.kafka && !state.opensearch) {
      state.leases = [];
      state.pinned = false;
    }
    await writeState(config.stackDir, state);
    if (options.purge) {
      const isRoot = process.getuid?.() === 0;
      await rm(path.join(config.stackDir, 'kafka'), { recursive: true, force: true });
      await rm(await openSearchWorkDir(config.stackDir, isRoot), { recursive: true, force: true });
      await rm(path.join(config.stackDir, 'opensearch.out'), { force: true });
      actions.push(`purged data and logs of ${config.stackDir}`);
    }
  });
  if (actions.length === 0) actions.push('nothing was running');
  return { actions };
}

/**
 * Ends this process's use of the stack (test teardown): drops its lease, and stops the services `endpoints`
 * says this process started, unless another live process still holds a lease on them or `stack up` pinned
 * the stack meanwhile.
 */
export async function releaseStack(endpoints: StackEndpoints, options: StackOptions = {}): Promise<'stopped' | 'kept'> {
  const startedNow: ServiceName[] = [];
  if (endpoints.kafka.startedNow) startedNow.push('kafka');
  if (endpoints.opensearch.startedNow) startedNow.push('opensearch');
  const config = loadStackConfig(options.env ?? process.env, { ...options.config, stackDir: endpoints.stackDir });
  let othersHoldIt = false;
  const state = await readState(config.stackDir).catch(() => null);
  if (state) {
    await withStackLock(config.stackDir, config.startTimeoutMs, async () => {
      const current = (await readState(config.stackDir)) ?? state;
      current.leases = liveLeases(current).filter((p) => p !== process.pid);
      othersHoldIt = current.leases.length > 0 || current.pinned;
      await writeState(config.stackDir, current);
    });
  }
  if (startedNow.length === 0 || othersHoldIt) return 'kept';
  await stopStack({ ...options, config: { ...options.config, stackDir: endpoints.stackDir }, only: startedNow });
  return 'stopped';
}
