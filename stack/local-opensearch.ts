import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, cp, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from './path-exists.ts';
import { processMarker } from './processes.ts';
import { runCommand, runOrThrow } from './run-command.ts';
import type { NodeRecord, ServiceRecord } from './state.ts';

export function openSearchZipPath(cacheDir: string, version: string): string {
  return path.join(cacheDir, `opensearch-${version}`, `opensearch-${version}.zip`);
}

/**
 * Downloads the OpenSearch integ-test-zip distribution (published to Maven Central; no JDK, no security
 * plugin, transport-netty4 as its only module) into the cache with Maven.
 */
export async function ensureOpenSearchZip(cacheDir: string, version: string, mvn: string, log: (line: string) => void): Promise<string> {
  const zip = openSearchZipPath(cacheDir, version);
  if (await pathExists(zip)) return zip;
  const dir = path.dirname(zip);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  log(`downloading OpenSearch ${version} (integ-test-zip) from Maven Central into ${dir}`);
  await runOrThrow(
    'Maven download of the OpenSearch distribution',
    mvn,
    [
      '-B',
      '-q',
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
      `-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:${version}:zip`,
      `-DoutputDirectory=${tmp}`,
    ],
    { cwd: tmp, timeoutMs: 600_000 },
  );
  if (!(await pathExists(path.join(tmp, path.basename(zip))))) throw new Error(`Maven did not produce ${path.basename(zip)} in ${tmp}`);
  await mkdir(dir, { recursive: true });
  await rename(path.join(tmp, path.basename(zip)), zip);
  await rm(tmp, { recursive: true, force: true });
  return zip;
}

export interface ServiceUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** True when every ancestor of `dir` lets other users through (mode o+x), so the service user can reach it. */
async function reachableByOthers(dir: string): Promise<boolean> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const s = await stat(current);
      if ((s.mode & 0o001) === 0) return false;
    } catch {
      // not created yet: its parent decides
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where OpenSearch's home, data and logs live. Normally <stackDir>/opensearch; when the launcher runs as
 * root and the stack folder is not reachable by other users (the default ~/.cache under a 0700 /root), a
 * folder under /var/tmp named after the stack folder, owned by the service user.
 */
export async function openSearchWorkDir(stackDir: string, runAsOtherUser: boolean): Promise<string> {
  const inside = path.join(stackDir, 'opensearch');
  if (!runAsOtherUser || (await reachableByOthers(stackDir))) return inside;
  const hash = createHash('sha256').update(path.resolve(stackDir)).digest('hex').slice(0, 12);
  return path.join('/var/tmp/m365-siem-opensearch', hash);
}

/** Looks the service user up, creating it as a system user without login shell when missing (root only). */
export async function ensureServiceUser(name: string, useradd: string | null): Promise<ServiceUser> {
  const lookup = async (): Promise<ServiceUser | null> => {
    const u = await runCommand('id', ['-u', name]);
    const g = await runCommand('id', ['-g', name]);
    if (u.code !== 0 || g.code !== 0) return null;
    return { name, uid: Number(u.output.trim()), gid: Number(g.output.trim()) };
  };
  const found = await lookup();
  if (found) return found;
  if (!useradd) throw new Error(`useradd not found: cannot create the user "${name}" OpenSearch must run as (it refuses root)`);
  await runOrThrow(`creating the system user ${name}`, useradd, [
    '--system',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    name,
  ]);
  const created = await lookup();
  if (!created) throw new Error(`user ${name} still missing after useradd`);
  return created;
}

async function chownRecursive(target: string, user: ServiceUser): Promise<void> {
  await runOrThrow('chown of the OpenSearch folder', 'chown', ['-R', `${user.uid}:${user.gid}`, target]);
}

/** Unpacks the distribution into the work folder once (keeps exec bits; `jar xf` would drop them). */
export async function prepareOpenSearchHome(zip: string, workDir: string, version: string, unzip: string, user: ServiceUser | null): Promise<string> {
  const home = path.join(workDir, `opensearch-${version}`);
  const marker = path.join(home, '.m365-siem-unpacked');
  await mkdir(workDir, { recursive: true });
  if (user) {
    await chmod(workDir, 0o755);
    await chown(workDir, user.uid, user.gid);
  }
  if (!(await pathExists(marker))) {
    const tmp = path.join(workDir, `unpack-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await runOrThrow('unpacking OpenSearch', unzip, ['-q', '-o', zip, '-d', tmp], { timeoutMs: 300_000 });
    await rm(home, { recursive: true, force: true });
    await rename(path.join(tmp, `opensearch-${version}`), home);
    await rm(tmp, { recursive: true, force: true });
    await writeFile(marker, new Date().toISOString());
    if (user) await chownRecursive(home, user);
  }
  for (const sub of ['data', 'logs', 'tmp']) {
    const dir = path.join(workDir, sub);
    await mkdir(dir, { recursive: true });
    if (user) await chown(dir, user.uid, user.gid);
  }
  return home;
}

export function needsUnpack(workDir: string, version: string): Promise<boolean> {
  return pathExists(path.join(workDir, `opensearch-${version}`, '.m365-siem-unpacked')).then((e) => !e);
}

export interface LocalOpenSearchOptions {
  readonly stackDir: string;
  readonly stackId: string;
  readonly version: string;
  readonly home: string;
  readonly workDir: string;
  readonly javaHome: string;
  readonly httpPort: number;
  readonly transportPort: number;
  readonly user: ServiceUser | null;
}

/** Starts a single-node OpenSearch as its own process group (as the service user when we are root). */
export async function startLocalOpenSearch(o: LocalOpenSearchOptions): Promise<ServiceRecord> {
  const logsDir = path.join(o.workDir, 'logs');
  const pid = await spawnOpenSearch(o, {
    stdoutFile: path.join(o.stackDir, 'opensearch.out'),
    nodeDir: o.workDir,
    dataDir: path.join(o.workDir, 'data'),
    logsDir,
    nodeName: 'node-1',
    httpPort: o.httpPort,
    transportPort: o.transportPort,
    clusterSettings: ['-Ediscovery.type=single-node'],
    // applied after jvm.options, so these win over its 1 GiB heap
    javaOpts: ['-Xms512m', '-Xmx512m'],
  });
  return {
    provider: 'local',
    version: o.version,
    endpoint: `http://127.0.0.1:${o.httpPort}`,
    pid,
    ports: { http: o.httpPort, transport: o.transportPort },
    logFile: path.join(logsDir, 'm365-siem-stack.log'),
    workDir: o.workDir,
    startedAt: new Date().toISOString(),
  };
}

/** One OpenSearch process as its own process group (as the service user when we are root); returns its pid. */
async function spawnOpenSearch(
  o: Pick<LocalOpenSearchOptions, 'home' | 'javaHome' | 'user' | 'stackDir' | 'stackId'>,
  node: {
    stdoutFile: string;
    nodeDir: string;
    dataDir: string;
    logsDir: string;
    nodeName: string;
    httpPort: number;
    transportPort: number;
    clusterSettings: readonly string[];
    javaOpts: readonly string[];
    confDir?: string;
  },
): Promise<number> {
  await mkdir(o.stackDir, { recursive: true });
  const out = await open(node.stdoutFile, 'a');
  try {
    const child = spawn(
      path.join(o.home, 'bin', 'opensearch'),
      [
        ...node.clusterSettings,
        '-Enetwork.host=127.0.0.1',
        `-Ehttp.port=${node.httpPort}`,
        `-Etransport.port=${node.transportPort}`,
        '-Ecluster.name=m365-siem-stack',
        `-Enode.name=${node.nodeName}`,
        `-Epath.data=${node.dataDir}`,
        `-Epath.logs=${node.logsDir}`,
        // small CI disks must not turn indices read-only
        '-Ecluster.routing.allocation.disk.threshold_enabled=false',
        '-Eaction.auto_create_index=true',
      ],
      {
        cwd: o.home,
        detached: true,
        stdio: ['ignore', out.fd, out.fd],
        ...(o.user ? { uid: o.user.uid, gid: o.user.gid } : {}),
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          HOME: node.nodeDir,
          JAVA_HOME: o.javaHome,
          OPENSEARCH_JAVA_HOME: o.javaHome,
          // otherwise opensearch-env leaves a new /tmp/opensearch-<random> folder behind on every start
          OPENSEARCH_TMPDIR: path.join(node.nodeDir, 'tmp'),
          ...(node.confDir ? { OPENSEARCH_PATH_CONF: node.confDir } : {}),
          OPENSEARCH_JAVA_OPTS: [...node.javaOpts, processMarker(o.stackId)].join(' '),
        },
      },
    );
    if (child.pid === undefined) throw new Error(`could not start ${path.join(o.home, 'bin', 'opensearch')}`);
    child.unref();
    return child.pid;
  } finally {
    await out.close();
  }
}

/** One member of a local OpenSearch cluster. */
export interface OpenSearchMember {
  readonly id: number;
  readonly httpPort: number;
  readonly transportPort: number;
}

export function openSearchMemberName(id: number): string {
  return `node-${id}`;
}

/**
 * Which nodes may become cluster manager. Three or more: all of them (a majority survives one loss). Two: only the
 * first — two eligible nodes cannot out-vote each other, so only one of them votes anyway and losing that one would
 * stop the cluster; making it explicit means the second node is the one that can be lost (a data node).
 */
export function managerEligible(memberCount: number, id: number): boolean {
  return memberCount >= 3 || id === 1;
}

/**
 * Starts one node of a local cluster (all of them at `stack up`, a single one when `stack up` finds it dead). The
 * nodes share the unpacked distribution but each has its own data, logs and temp folders under <workDir>/node-N,
 * and its own GC log (jvm.options writes logs/gc.log relative to the shared home otherwise).
 */
export async function startLocalOpenSearchMember(
  o: Omit<LocalOpenSearchOptions, 'httpPort' | 'transportPort'>,
  member: OpenSearchMember,
  members: readonly OpenSearchMember[],
): Promise<NodeRecord> {
  const nodeDir = path.join(o.workDir, openSearchMemberName(member.id));
  for (const sub of ['data', 'logs', 'tmp']) {
    const dir = path.join(nodeDir, sub);
    await mkdir(dir, { recursive: true });
    if (o.user) await chown(dir, o.user.uid, o.user.gid);
  }
  // Each node its own config folder: on a first start every node creates opensearch.keystore there, and two nodes
  // doing it in one shared folder race (FileAlreadyExistsException on opensearch.keystore.tmp).
  const confDir = path.join(nodeDir, 'config');
  if (!(await pathExists(path.join(confDir, 'jvm.options')))) {
    await cp(path.join(o.home, 'config'), confDir, { recursive: true });
    if (o.user) await chownRecursive(confDir, o.user);
  }
  if (o.user) await chown(nodeDir, o.user.uid, o.user.gid);
  const logsDir = path.join(nodeDir, 'logs');
  const eligible = members.filter((m) => managerEligible(members.length, m.id)).map((m) => openSearchMemberName(m.id));
  const pid = await spawnOpenSearch(o, {
    stdoutFile: path.join(o.stackDir, `opensearch-${openSearchMemberName(member.id)}.out`),
    nodeDir,
    dataDir: path.join(nodeDir, 'data'),
    logsDir,
    nodeName: openSearchMemberName(member.id),
    httpPort: member.httpPort,
    transportPort: member.transportPort,
    confDir,
    clusterSettings: [
      `-Ediscovery.seed_hosts=${members.map((m) => `127.0.0.1:${m.transportPort}`).join(',')}`,
      // Used only when the cluster forms for the first time; a restarted node rejoins from its data folder.
      `-Ecluster.initial_cluster_manager_nodes=${eligible.join(',')}`,
      ...(managerEligible(members.length, member.id) ? [] : ['-Enode.roles=data,ingest']),
    ],
    javaOpts: [
      '-Xms512m',
      '-Xmx512m',
      // jvm.options' GC log is relative to the shared home: this node logs into its own folder instead.
      '-Xlog:disable',
      '-Xlog:all=warning:stderr',
      `-Xlog:gc*:file=${path.join(logsDir, 'gc.log')}:utctime,pid,tags:filecount=4,filesize=16m`,
      `-XX:ErrorFile=${path.join(logsDir, 'hs_err_pid%p.log')}`,
    ],
  });
  return {
    name: openSearchMemberName(member.id),
    id: member.id,
    endpoint: `http://127.0.0.1:${member.httpPort}`,
    pid,
    ports: { http: member.httpPort, transport: member.transportPort },
    logFile: path.join(logsDir, 'm365-siem-stack.log'),
    workDir: nodeDir,
  };
}
