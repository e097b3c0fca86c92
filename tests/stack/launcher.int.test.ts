import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_KAFKA_VERSION, ensureStack, loadStackConfig, probeKafka, releaseStack, stackStatus, stopStack } from '../../stack/index.ts';
import { isAlive, isOurProcess } from '../../stack/processes.ts';
import { readState, writeState } from '../../stack/state.ts';

/**
 * The launcher's own behaviour, on a private stack folder: it starts a local Kafka (OpenSearch comes from
 * OPENSEARCH_URL, exercising the mixed env/local case), reuses it, moves off a taken port, keeps it while
 * another process holds a lease, and `down` stops its process and nothing else.
 */
describe('stack launcher (local Kafka in a private stack folder)', () => {
  let stackDir: string;
  let env: Record<string, string | undefined>;
  let blocker: net.Server;
  let blockedPort: number;
  let stranger: ChildProcess | undefined;

  beforeAll(async () => {
    stackDir = await mkdtemp(path.join(os.tmpdir(), 'm365-siem-launcher-test-'));
    // Occupy a port below the ephemeral range and make it Kafka's preferred port.
    blocker = net.createServer();
    blockedPort = 0;
    for (let candidate = 21000 + Math.floor(Math.random() * 5000); blockedPort === 0; candidate += 7) {
      blockedPort = await new Promise<number>((resolve) => {
        blocker.once('error', () => resolve(0));
        blocker.listen(candidate, '127.0.0.1', () => resolve(candidate));
      });
    }
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JAVA_HOME: process.env.JAVA_HOME,
      // the shared download cache, so this test downloads nothing when the suite already started a stack
      M365_SIEM_CACHE_DIR: loadStackConfig().cacheDir,
      M365_SIEM_STACK_DIR: stackDir,
      M365_SIEM_STACK_PROVIDER: 'auto',
      M365_SIEM_STACK_KAFKA_PORT: String(blockedPort),
      OPENSEARCH_URL: inject('opensearchUrl'),
    };
  });

  afterAll(async () => {
    await stopStack({ env }).catch(() => undefined);
    stranger?.kill('SIGKILL');
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await rm(stackDir, { recursive: true, force: true });
  });

  it('starts Kafka once even when two callers ask at the same time, on a free port when the preferred one is taken', async () => {
    // auto: the Docker probe decides; here it says no engine answers, so the launcher falls back to local JVMs.
    let dockerProbes = 0;
    const dockerProbe = async () => {
      dockerProbes += 1;
      return false;
    };
    const [a, b] = await Promise.all([ensureStack({ env, lease: true, dockerProbe }), ensureStack({ env, dockerProbe })]);
    expect([a.kafka.startedNow, b.kafka.startedNow].sort()).toEqual([false, true]);
    expect(dockerProbes).toBe(1);
    expect(a.kafka.brokers).toBe(b.kafka.brokers);
    expect(a.kafka.provider).toBe('local');
    expect(a.kafka.version).toBe(DEFAULT_KAFKA_VERSION);
    expect(a.kafka.brokers).not.toBe(`127.0.0.1:${blockedPort}`);
    expect(a.opensearch).toMatchObject({ provider: 'env', url: inject('opensearchUrl'), startedNow: false });

    const probe = await probeKafka(a.kafka.brokers);
    expect(probe.brokers).toEqual([a.kafka.brokers]);
    expect(probe.releaseLine).toBe(DEFAULT_KAFKA_VERSION.split('.').slice(0, 2).join('.'));

    const state = await readState(stackDir);
    expect(state?.kafka?.pid).toBeDefined();
    expect(await isOurProcess(state!.kafka!.pid!, state!.stackId)).toBe(true);
  });

  it('reuses the running broker on a second up and reports it in status', async () => {
    const again = await ensureStack({ env, dockerProbe: async () => true });
    // reuse comes before any provider decision: a Docker engine appearing does not move the stack
    expect(again.kafka.startedNow).toBe(false);
    expect(again.kafka.provider).toBe('local');
    const status = await stackStatus({ env });
    expect(status.kafka).toMatchObject({ up: true, provider: 'local', version: DEFAULT_KAFKA_VERSION, brokers: again.kafka.brokers });
    expect(status.opensearch).toMatchObject({ up: true, provider: 'env', url: inject('opensearchUrl') });
    expect(status.opensearch.version).toBe(inject('opensearchVersion'));
  });

  it('keeps the stack on release while another live process holds a lease, or once `stack up` pinned it', async () => {
    const endpoints = await ensureStack({ env, dockerProbe: async () => false });
    const state = (await readState(stackDir))!;
    state.leases = [...state.leases, process.ppid]; // the vitest main process: alive for the whole run
    await writeState(stackDir, state);
    expect(await releaseStack({ ...endpoints, kafka: { ...endpoints.kafka, startedNow: true } }, { env })).toBe('kept');
    expect((await stackStatus({ env })).kafka.up).toBe(true);

    // With no other lease left, a stack pinned by `stack up` still survives a test run's release.
    const pinned = (await readState(stackDir))!;
    pinned.leases = [];
    await writeState(stackDir, pinned);
    await ensureStack({ env, pin: true });
    expect(await releaseStack({ ...endpoints, kafka: { ...endpoints.kafka, startedNow: true } }, { env })).toBe('kept');
    expect((await stackStatus({ env })).kafka.up).toBe(true);
  });

  it('down stops the process it started, and leaves a process it did not start alone', async () => {
    const pid = (await readState(stackDir))!.kafka!.pid!;
    const down = await stopStack({ env });
    expect(down.actions.join('\n')).toMatch(/stopped kafka/);
    expect(isAlive(pid)).toBe(false);
    expect((await stackStatus({ env })).kafka).toMatchObject({ up: false, provider: null });

    // A state file naming a pid that is not ours (pid reuse, edited file) must not get that process killed.
    stranger = spawn('sleep', ['300'], { stdio: 'ignore' });
    const state = (await readState(stackDir))!;
    state.kafka = {
      provider: 'local',
      version: DEFAULT_KAFKA_VERSION,
      endpoint: '127.0.0.1:1',
      pid: stranger.pid!,
      ports: { client: 1 },
      logFile: '',
      workDir: '',
      startedAt: new Date().toISOString(),
    };
    await writeState(stackDir, state);
    const second = await stopStack({ env });
    expect(second.actions.join('\n')).toMatch(/kafka was not running/);
    expect(isAlive(stranger.pid!)).toBe(true);
  });
});
