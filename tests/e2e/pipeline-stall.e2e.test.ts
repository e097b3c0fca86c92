/**
 * A stalled stage is seen (issue 19): the normalizer runs as its own process and is frozen with SIGSTOP while a
 * tenant's records keep arriving; the control plane, with its default thresholds, must show the organization as
 * `pipeline_stalled` with stage `normalize` within a minute — in the REST API, the organization list and the CLI —
 * and Active again once the normalizer runs on (SIGCONT). Then the same for the indexer, whose consumer group holds
 * its offsets while it is stopped. The normalizer's own lag gauges are checked against the offsets read directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registerControlPlaneCommands, type PipelineStall } from '../../control-plane/index.ts';
import { partitionForKey } from '../../runtime/index.ts';
import type { SimTenant } from '../../simulator/index.ts';
import { freePort } from '../helpers/free-port.ts';
import { startPipeline, waitUntil, type Pipeline } from './harness.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The promise of the brief: a stall shows within a minute of the records that wait for the stage. */
const WITHIN_MS = 60_000;

interface ConnectionBody {
  status: string;
  reason: string | null;
  message: string | null;
  pipelineStalls: PipelineStall[];
  sources?: Array<{ name: string; state: string }>;
}

describe('a stalled stage shows as pipeline_stalled on its organizations (real Kafka, OpenSearch, simulator)', () => {
  let p: Pipeline;
  let tenant: SimTenant;
  let orgId: string;
  let normalizer: ChildProcess | null = null;
  let normalizerOutput = '';
  let opsPort = 0;
  let partition = 0;

  const connection = async () => (await p.api<ConnectionBody>('GET', `/organizations/${orgId}/applications/microsoft-manage`)).body;
  const opsGet = async (route: string) => {
    const res = await fetch(`http://127.0.0.1:${opsPort}${route}`);
    return { status: res.status, text: await res.text() };
  };
  /** The raw topic's end offset on the organization's partition (grows when ingest published its records). */
  const rawEnd = async () => (await p.endOffsets(p.topics.raw.name)).get(partition) ?? 0n;
  const cli = async (args: string[]) => {
    let out = '';
    const program = new Command().exitOverride();
    registerControlPlaneCommands(program, {
      env: { M365_SIEM_URL: p.controlPlaneUrl, M365_SIEM_TOKEN: p.operatorToken },
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        out += t;
      },
      setExitCode: () => undefined,
      readStdin: async () => '',
    });
    await program.parseAsync(['node', 'm365-siem', ...args]);
    return out;
  };

  beforeAll(async () => {
    const caFile = inject('simulatorCaFile');
    if (!caFile) throw new Error('the global setup did not provide the simulator CA');
    // The control plane's stall settings stay at their defaults: the test proves what an operator gets.
    p = await startPipeline({ kafkaBrokers: inject('kafkaBrokers'), opensearchUrl: inject('opensearchUrl'), simulatorStateDir: path.dirname(caFile) });
    for (const name of ['control-plane', 'index', 'ingest'] as const) await p.start(name);
    opsPort = await freePort();
    normalizer = spawn(process.execPath, [path.join(repoRoot, 'bin', 'm365-siem.js'), 'start', 'normalize'], {
      cwd: repoRoot,
      env: { ...process.env, ...p.env, NORMALIZE_OPS_PORT: String(opsPort), NORMALIZE_LAG_INTERVAL_SECONDS: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    normalizer.stdout?.on('data', (d: Buffer) => (normalizerOutput += d.toString()));
    normalizer.stderr?.on('data', (d: Buffer) => (normalizerOutput += d.toString()));
    await waitUntil('the normalizer process to be ready', async () => (await opsGet('/readyz')).status === 200, 90_000, 500).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${normalizerOutput.slice(-2000)}`);
    });

    tenant = await p.control.createTenant({
      name: 'Stall Corp',
      domain: `stall-${Date.now().toString(36)}.example`,
      users: 5,
      publicationDelayMs: [0, 0],
      graphThrottling: false,
    });
    orgId = (await p.connect(tenant)).orgId;
    partition = partitionForKey(orgId, p.topics.raw.partitions);
    // Management content exists only for started subscriptions: records are added once the pollers reported.
    await waitUntil(
      'the pollers to report on Audit.Exchange',
      async () => (await connection()).sources?.some((s) => s.name === 'management:Audit.Exchange' && s.state === 'ok'),
      120_000,
      1_000,
    );
    await p.control.addRecords(tenant.tenantId, 'management:Audit.Exchange', 20);
    let last: ConnectionBody | null = null;
    await waitUntil(
      'the organization to be Active',
      async () => {
        last = await connection();
        return last.status === 'active';
      },
      180_000,
      1_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last status: ${JSON.stringify(last).slice(0, 3000)}`);
    });
  }, 300_000);

  afterAll(async () => {
    if (normalizer && normalizer.exitCode === null && normalizer.signalCode === null) {
      normalizer.kill('SIGCONT');
      normalizer.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          normalizer?.kill('SIGKILL');
          resolve();
        }, 15_000);
        normalizer?.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await p?.close();
  }, 120_000);

  it('shows a frozen normalizer within a minute, in the API, the list and the CLI, and clears when it runs again', async () => {
    const child = normalizer!;
    const before = await rawEnd();
    child.kill('SIGSTOP');
    const frozenAt = Date.now();
    await p.control.addRecords(tenant.tenantId, 'management:Audit.Exchange', 200);
    await waitUntil('ingest to publish the new records to m365.raw', async () => (await rawEnd()) > before, 60_000, 500);
    const arrivedAt = Date.now();

    let seen: ConnectionBody | null = null;
    const stalled = await waitUntil(
      'pipeline_stalled with stage normalize',
      async () => {
        const c = await connection();
        seen = c;
        return c.reason === 'pipeline_stalled' && c.pipelineStalls.some((s) => s.stage === 'normalize') ? c : null;
      },
      WITHIN_MS + 15_000,
      1_000,
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; last: ${JSON.stringify({ status: seen?.status, reason: seen?.reason, stalls: seen?.pipelineStalls })}; normalizer exit ${child.exitCode ?? child.signalCode ?? 'running'}; its output:\n${normalizerOutput.slice(-3000)}`,
      );
    });
    const seenAfterMs = Date.now() - arrivedAt;
    expect(seenAfterMs).toBeLessThan(WITHIN_MS);
    expect(stalled.status).toBe('needs_attention');
    const stall = stalled.pipelineStalls.find((s) => s.stage === 'normalize')!;
    expect(stall).toMatchObject({ topic: p.topics.raw.name, partition });
    expect(stall.lagRecords).toBeGreaterThan(0);
    // Since when: after the process was frozen (the records arrived then), before it was reported.
    expect(Date.parse(stall.since)).toBeGreaterThanOrEqual(frozenAt - 1_000);
    expect(Date.parse(stall.since)).toBeLessThanOrEqual(Date.now());
    expect(stalled.message).toContain(`normalize stage has committed nothing on ${p.topics.raw.name} partition ${partition}`);

    const list = await p.api<{ items: Array<{ id: string; connection: { status: string; reason: string | null } | null }> }>('GET', '/organizations');
    expect(list.body.items.find((o) => o.id === orgId)?.connection).toMatchObject({ status: 'needs_attention', reason: 'pipeline_stalled' });
    const status = await cli(['org', 'status', orgId]);
    expect(status).toContain('status:   needs_attention (pipeline_stalled)');
    expect(status).toContain(`stalled:  normalize since ${stall.since} (${p.topics.raw.name} partition ${partition}`);

    child.kill('SIGCONT');
    await waitUntil(
      'Active again once the normalizer commits',
      async () => {
        const c = await connection();
        return c.status === 'active' && c.pipelineStalls.length === 0;
      },
      WITHIN_MS,
      1_000,
    );
  }, 240_000);

  it("reports the normalizer's lag gauges as the offsets read directly say", async () => {
    const gaugeOf = (metrics: string, what: 'records' | 'seconds') => {
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`m365siem_normalize_consumer_lag_${what}{`) && l.includes(`topic="${p.topics.raw.name}"`) && l.includes(`partition="${partition}"`),
        );
      return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const admin = p.kafka.admin();
    await admin.connect();
    try {
      // Once caught up nothing moves: the gauge must equal end − committed read now, with no waiting seconds.
      const matched = await waitUntil(
        'the gauge to match the offsets',
        async () => {
          const [ends, committed] = await Promise.all([
            admin.fetchTopicOffsets(p.topics.raw.name),
            admin.fetchOffsets({ groupId: p.env.NORMALIZE_GROUP_ID!, topics: [p.topics.raw.name] }),
          ]);
          const end = BigInt(ends.find((e) => e.partition === partition)?.high ?? '0');
          const at = BigInt(committed[0]?.partitions.find((c) => c.partition === partition)?.offset ?? '-1');
          const expected = Number(end - (at < 0n ? 0n : at));
          const metrics = (await opsGet('/metrics')).text;
          const gauges = { records: gaugeOf(metrics, 'records'), seconds: gaugeOf(metrics, 'seconds') };
          return expected <= 1 && gauges.records === expected && gauges.seconds === 0 ? { expected, ...gauges } : null;
        },
        60_000,
        1_000,
      );
      // Caught up: at most the transaction marker behind, and the gauges say exactly what the offsets say.
      expect(matched.expected).toBeLessThanOrEqual(1);
      expect(matched.records).toBe(matched.expected);
      expect(matched.seconds).toBe(0);
    } finally {
      await admin.disconnect();
    }
  }, 90_000);

  it('shows a stopped indexer (its group holding offsets while events arrive) as stage index, and clears on restart', async () => {
    await p.stop('index');
    const eventsBefore = (await p.eventsEndOffsets()).get(partitionForKey(orgId, p.topics.events.partitions)) ?? 0n;
    await p.control.addRecords(tenant.tenantId, 'management:Audit.Exchange', 50);
    await waitUntil(
      'the normalizer to produce the new events',
      async () => ((await p.eventsEndOffsets()).get(partitionForKey(orgId, p.topics.events.partitions)) ?? 0n) > eventsBefore,
      60_000,
      500,
    );
    const arrivedAt = Date.now();
    const stalled = await waitUntil(
      'pipeline_stalled with stage index',
      async () => {
        const c = await connection();
        return c.reason === 'pipeline_stalled' && c.pipelineStalls.some((s) => s.stage === 'index') ? c : null;
      },
      WITHIN_MS + 15_000,
      1_000,
    );
    expect(Date.now() - arrivedAt).toBeLessThan(WITHIN_MS);
    expect(stalled.pipelineStalls.find((s) => s.stage === 'index')).toMatchObject({
      topic: p.topics.events.name,
      partition: partitionForKey(orgId, p.topics.events.partitions),
    });
    await p.start('index');
    await waitUntil(
      'Active again once the indexer commits',
      async () => {
        const c = await connection();
        return c.status === 'active' && c.pipelineStalls.length === 0;
      },
      WITHIN_MS,
      1_000,
    );
  }, 240_000);
});
