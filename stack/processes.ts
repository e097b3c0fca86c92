import { readFile } from 'node:fs/promises';
import net from 'node:net';

/** True when a process with this pid exists (it may belong to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process (Linux /proc), or null when it is gone or unreadable. */
export async function commandLine(pid: number): Promise<string | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0/g, ' ').trim();
  } catch {
    return null;
  }
}

/** The marker every JVM the launcher starts carries on its command line, tying the pid to one stack. */
export function processMarker(stackId: string): string {
  return `-Dm365siem.stack=${stackId}`;
}

/** True when `pid` is alive and still the process the launcher started (pids get reused). */
export async function isOurProcess(pid: number, stackId: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const cmd = await commandLine(pid);
  return cmd?.includes(processMarker(stackId)) ?? false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops a process the launcher started: verifies its command line carries our marker, sends SIGTERM to its
 * process group (each JVM is started as a group leader with setsid), waits, then SIGKILLs the group.
 * Returns 'stopped', or 'not-running' when the pid is gone or now belongs to something else.
 */
export async function stopOurProcess(pid: number, stackId: string, graceMs = 20_000): Promise<'stopped' | 'not-running'> {
  if (!(await isOurProcess(pid, stackId))) return 'not-running';
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(200);
  }
  signalGroup(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  return 'stopped';
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** True when nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS says is free right now. */
export function ephemeralPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Picks `preferred` when it is free, else the first free port in steps of 10 above it, else an ephemeral
 * port; never a port in `taken` (ports already chosen for this stack). Ports below the kernel's ephemeral
 * range (32768+) are preferred: a port found free there cannot be grabbed by an outgoing connection in the
 * seconds before the JVM binds it.
 */
export async function choosePort(preferred: number, taken: ReadonlySet<number> = new Set()): Promise<number> {
  if (!taken.has(preferred) && (await isPortFree(preferred))) return preferred;
  for (let candidate = preferred + 10; candidate < 32768 && candidate <= preferred + 500; candidate += 10) {
    if (!taken.has(candidate) && (await isPortFree(candidate))) return candidate;
  }
  for (let i = 0; i < 20; i++) {
    const p = await ephemeralPort();
    if (!taken.has(p)) return p;
  }
  throw new Error('could not find a free TCP port on 127.0.0.1');
}

/** True when a start failure means a port was taken between choosing it and binding it. */
export function isBindFailure(message: string): boolean {
  return /address already in use|BindException|failed to bind/i.test(message);
}
