/**
 * `m365-siem start` (what `npm start` runs) as a child process of a test, on the global setup's Kafka and OpenSearch,
 * with its own topics, groups, index prefix and cache folder, and the cleanup of all of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { ephemeralPort } from '../../stack/index.ts';
import { testKafkaClient, testOpenSearchClient } from '../helpers/clients.ts';
import { deleteTestGroups, deleteTestIndices, deleteTestTopics, testTopicEnv, uniqueName } from '../helpers/resources.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(repoRoot, 'bin', 'm365-siem.js');

export interface Announcement {
  controlPlane: string;
  organizations: Array<{ id: string; name: string }>;
}

export interface StartedCommand {
  child: ChildProcess;
  announced: Announcement;
  stderr: string[];
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** One test file's `m365-siem start` runs: same topics and cache folder each start, removed by `cleanup`. */
export function startCommandFixture(label: string, extraEnv: Record<string, string> = {}) {
  const prefix = uniqueName(label);
  const indexPrefix = uniqueName(`${label}-events`);
  const token = `${label}-test-${Date.now().toString(36)}`;
  const groups = [`${prefix}-ingest`, `${prefix}-normalize`, `${prefix}-index`];
  const topicEnv = testTopicEnv(prefix);
  // The control plane's history topic is named after the tenants topic (decision 0110).
  const topics = [...Object.values(topicEnv), `${topicEnv.TOPIC_TENANTS}.history`];
  let cacheDir = '';
  const running: ChildProcess[] = [];

  async function start(): Promise<StartedCommand> {
    cacheDir ||= await mkdtemp(path.join(os.tmpdir(), `m365-siem-${label}-`));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      OPENSEARCH_URL: inject('opensearchUrl'),
      M365_SIEM_CACHE_DIR: cacheDir,
      M365_SIEM_TOKEN: token,
      CONTROL_PLANE_PORT: String(await ephemeralPort()),
      LOG_LEVEL: 'warn',
      ...topicEnv,
      INGEST_GROUP_ID: groups[0],
      NORMALIZE_GROUP_ID: groups[1],
      NORMALIZE_TRANSACTIONAL_ID: `${prefix}-normalize`,
      INDEX_GROUP_ID: groups[2],
      INDEX_PREFIX: indexPrefix,
      INDEX_RETENTION_DAYS: '0',
      ...extraEnv,
    };
    // Without a Microsoft application the command starts the simulator (the embedded default).
    for (const key of Object.keys(env)) if (key.startsWith('M365_CLIENT_') || key.startsWith('M365_ALL_HOSTS')) delete env[key];
    // Its own process group, so a Ctrl-C can be sent to the command and everything it started at once.
    const child = spawn(process.execPath, [bin, 'start', '--json', '--poll-interval', '2000'], {
      cwd: repoRoot,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const announced = await new Promise<Announcement>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no announcement within 180 s:\n${stderr.join('\n')}`)), 180_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Announcement);
      });
      child.once('exit', (code) => reject(new Error(`start exited with ${code} before it was ready:\n${stderr.join('\n')}`)));
    });
    return { child, announced, stderr };
  }

  async function cleanup(): Promise<void> {
    for (const child of running) if (child.pid && alive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    const admin = testKafkaClient(`${label}-cleanup`).admin();
    await admin.connect();
    await deleteTestTopics(admin, topics).catch(() => undefined);
    await deleteTestGroups(admin, groups).catch(() => undefined);
    await admin.disconnect();
    const client = testOpenSearchClient();
    const indices = Object.keys((await client.indices.get({ index: `${indexPrefix}-*` }).catch(() => ({ body: {} }))).body as object);
    await deleteTestIndices(client, indices).catch(() => undefined);
    await client.close();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  }

  return { start, cleanup, token, topicEnv };
}
