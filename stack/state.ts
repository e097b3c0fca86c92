import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { isAlive } from './processes.ts';

/** One broker or node of a cluster the launcher started (`stack up --kafka-brokers 3 --opensearch-nodes 2`). */
const nodeRecordSchema = z.object({
  /** "broker-1", "node-2": also the Kafka node.id / OpenSearch node.name */
  name: z.string(),
  /** Kafka node.id; OpenSearch node number */
  id: z.number().int().positive(),
  pid: z.number().int().positive().optional(),
  containerId: z.string().optional(),
  /** this member's own client endpoint (Kafka host:port, OpenSearch URL) */
  endpoint: z.string(),
  ports: z.record(z.string(), z.number().int()),
  logFile: z.string(),
  workDir: z.string(),
});
export type NodeRecord = z.infer<typeof nodeRecordSchema>;

/** What the launcher started for one service; env-provided services are never recorded. */
const serviceRecordSchema = z.object({
  provider: z.enum(['local', 'docker']),
  version: z.string(),
  /** Kafka: host:port bootstrap; OpenSearch: base URL */
  endpoint: z.string(),
  /** local: pid of the JVM, also its process-group id */
  pid: z.number().int().positive().optional(),
  /** docker: container id */
  containerId: z.string().optional(),
  ports: z.record(z.string(), z.number().int()),
  logFile: z.string(),
  workDir: z.string(),
  startedAt: z.string(),
  /**
   * Set for a cluster (more than one broker or node): every member; then `endpoint` is the bootstrap list or the
   * first node's URL, and `pid`/`containerId` the first member's. A single node has no `nodes` (the layout the
   * launcher always had).
   */
  nodes: z.array(nodeRecordSchema).optional(),
});
export type ServiceRecord = z.infer<typeof serviceRecordSchema>;

const stackStateSchema = z.object({
  format: z.literal(1),
  /** random id carried by every process of this stack on its command line (see processes.ts) */
  stackId: z.string(),
  kafka: serviceRecordSchema.optional(),
  opensearch: serviceRecordSchema.optional(),
  /** pids of processes (test runs) using the stack; teardown stops the stack only when no other lease is alive */
  leases: z.array(z.number().int()).default([]),
  /** set by `m365-siem stack up`: the stack runs until `stack down`, whatever test runs release */
  pinned: z.boolean().default(false),
  /** ports of the last run of each service, preferred on the next start so endpoints stay stable */
  lastPorts: z.record(z.string(), z.record(z.string(), z.number().int())).default({}),
});
export type StackState = z.infer<typeof stackStateSchema>;

export function statePath(stackDir: string): string {
  return path.join(stackDir, 'state.json');
}

export function newState(): StackState {
  return { format: 1, stackId: randomUUID().slice(0, 8), leases: [], pinned: false, lastPorts: {} };
}

/** Reads the state file; a missing file is an empty stack, a corrupt one is an error naming the file. */
export async function readState(stackDir: string): Promise<StackState | null> {
  let raw: string;
  try {
    raw = await readFile(statePath(stackDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = stackStateSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`unreadable stack state ${statePath(stackDir)}: ${parsed.error.message}`);
  return parsed.data;
}

/** Writes the state atomically (temp file + rename) so a crash never leaves half a file. */
export async function writeState(stackDir: string, state: StackState): Promise<void> {
  await mkdir(stackDir, { recursive: true });
  const tmp = `${statePath(stackDir)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath(stackDir));
}

export function liveLeases(state: StackState): number[] {
  return state.leases.filter((pid) => isAlive(pid));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Serialises launcher operations on one stack directory across processes (a CLI `stack up` and a test run
 * starting at the same time). The lock file holds the owner's pid; a lock whose owner died is taken over.
 */
export async function withStackLock<T>(stackDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  await mkdir(stackDir, { recursive: true });
  const lockFile = path.join(stackDir, '.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const content = (await readFile(lockFile, 'utf8').catch(() => '')).trim();
      const owner = Number(content);
      // An empty file is a lock whose owner is still writing its pid: wait for it rather than take it.
      if (content !== '' && (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner))) {
        await unlink(lockFile).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`stack directory ${stackDir} is locked by process ${content || '?'} (another \`stack up\`?)`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lockFile).catch(() => undefined);
  }
}
