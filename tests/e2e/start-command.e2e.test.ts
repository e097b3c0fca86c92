/**
 * `m365-siem start` (what `npm start` runs) as a newcomer uses it: the whole pipeline on the embedded default,
 * stopped and started again.
 *   - Stopping: every process it started (simulator, control plane, ingest, normalize, index) is gone afterwards,
 *     whether a supervisor signals the command and its re-exec'd child (as `pkill`/systemd do) or Ctrl-C signals the
 *     whole process group.
 *   - A pipeline service that dies (the normalizer, SIGKILL) is started again by the command after 1 s.
 *   - Starting again: the organizations connected by the first run (kept in Kafka) are pinned to tenants of a
 *     simulator that starts empty every time; the demo repairs them, so they are Active again and data flows.
 * The command runs as a child process with its own topics, groups, index prefix and cache folder.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from './harness.ts';
import { alive, startCommandFixture, type Announcement } from './start-command.ts';

/** Parent pid of a live process, or null when it is gone. */
async function parentOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Every live process below `root` (children, grandchildren, …). */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = await parentOf(Number(entry));
    if (parent !== null) parents.set(Number(entry), parent);
  }
  const below = new Set<number>([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (!below.has(pid) && below.has(parent)) {
        below.add(pid);
        grew = true;
      }
    }
  }
  below.delete(root);
  return [...below];
}

/** The one live process below `root` running `m365-siem start <service>`. */
async function serviceProcess(root: number, service: string): Promise<number> {
  const found: number[] = [];
  for (const pid of await descendants(root)) {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const at = args.indexOf('start');
    if (at >= 0 && args[at + 1] === service) found.push(pid);
  }
  if (found.length !== 1) throw new Error(`expected one ${service} process, found ${found.length}`);
  return found[0] as number;
}

describe('m365-siem start: stop everything, start again', () => {
  // The UI is not under test here.
  const fixture = startCommandFixture('start', { CONTROL_PLANE_UI: 'false' });
  const { start, token } = fixture;
  afterAll(() => fixture.cleanup());

  const statuses = async (a: Announcement): Promise<string[]> =>
    Promise.all(
      a.organizations.map(async (o) => {
        const res = await fetch(`${a.controlPlane}/api/v1/organizations/${o.id}/applications/microsoft-manage`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { status: string; reason: string | null };
        return body.reason ? `${body.status} (${body.reason})` : body.status;
      }),
    );

  /** Waits for the command to exit, then for every process it had started to be gone. */
  async function stopped(child: ChildProcess, started: number[], stderr: string[]): Promise<void> {
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (c) => resolve(c))));
    expect(code, stderr.join('\n')).toBe(0);
    await waitUntil('every process the command started is gone', () => started.every((pid) => !alive(pid)), 30_000);
    expect(stderr.some((l) => l.includes('[start] stopping'))).toBe(true);
  }

  it('stops every process it started when the command and its re-exec are both signalled', async () => {
    const { child, announced, stderr } = await start();
    expect(announced.organizations.map((o) => o.name)).toEqual(['Contoso Pharmaceuticals', 'Fabrikam Logistics', 'Northwind Dental']);
    expect(await statuses(announced)).not.toContain('not_connected');
    const started = await descendants(child.pid!);
    // the re-exec'd command, the simulator and the four services at least
    expect(started.length).toBeGreaterThanOrEqual(6);
    // As `pkill -f 'm365-siem.js start'` or a service manager does: the command (which forwards it) and the
    // re-exec'd supervisor both get SIGTERM, the services and the simulator do not.
    const inner = (await Promise.all(started.map(async (pid) => ((await parentOf(pid)) === child.pid ? pid : null)))).find((p) => p !== null);
    expect(inner).toBeDefined();
    process.kill(child.pid!, 'SIGTERM');
    process.kill(inner!, 'SIGTERM');
    await stopped(child, started, stderr);
  }, 360_000);

  it('starts again with the same organizations repaired and Active, and Ctrl-C stops it all', async () => {
    const { child, announced, stderr } = await start();
    expect(stderr.filter((l) => l.includes('repairing'))).toHaveLength(3);
    let last: string[] = [];
    await waitUntil(
      'all three organizations Active again',
      async () => {
        last = await statuses(announced);
        return last.every((s) => s === 'active');
      },
      150_000,
      2_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last seen: ${last.join(', ')}`);
    });
    // A pipeline service that dies is started again: kill the normalizer, see it announced and running anew.
    const normalizer = await serviceProcess(child.pid!, 'normalize');
    process.kill(normalizer, 'SIGKILL');
    await waitUntil('the restart to be announced', () => stderr.some((l) => /normalize exited \(SIGKILL\); restarting it in 1 s/.test(l)), 30_000);
    const restarted = await waitUntil(
      'a new normalizer process',
      async () => {
        const pid = await serviceProcess(child.pid!, 'normalize').catch(() => null);
        return pid !== null && pid !== normalizer ? pid : null;
      },
      30_000,
    );
    expect(alive(normalizer)).toBe(false);
    expect(alive(restarted)).toBe(true);
    const started = await descendants(child.pid!);
    expect(started).toContain(restarted);
    process.kill(-child.pid!, 'SIGINT'); // Ctrl-C in a terminal: the whole foreground process group
    await stopped(child, started, stderr);
  }, 420_000);
});
