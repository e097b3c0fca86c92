import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordedStack, withRecordedStack } from '../../stack/index.ts';
import { testOpenSearchClient } from '../helpers/clients.ts';
import { runCli } from '../helpers/run-cli.ts';

/**
 * A CLI command started without KAFKA_BROKERS / OPENSEARCH_URL finds the services the launcher recorded, as after
 * `npm start` in another terminal. The recorded stack here is a stack folder of the test's own whose record points
 * at the real OpenSearch and names a live process carrying the launcher's marker (what `recordAlive` checks).
 */
describe('the CLI finds the recorded stack', () => {
  const stackId = `t${Date.now().toString(36)}`;
  let stackDir: string;
  let holder: ChildProcess;
  const prefix = `test-cli-stack-${Date.now().toString(36)}`;

  beforeAll(async () => {
    stackDir = await mkdtemp(path.join(os.tmpdir(), 'm365-recorded-stack-'));
    holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)', '--', `-Dm365siem.stack=${stackId}`], { stdio: 'ignore' });
    const record = (endpoint: string) => ({
      provider: 'local',
      version: 'test',
      endpoint,
      pid: holder.pid,
      ports: {},
      logFile: path.join(stackDir, 'log'),
      workDir: stackDir,
      startedAt: new Date().toISOString(),
    });
    const state = {
      format: 1,
      stackId,
      kafka: record(inject('kafkaBrokers')),
      opensearch: record(inject('opensearchUrl')),
      leases: [],
      pinned: true,
      lastPorts: {},
    };
    await writeFile(path.join(stackDir, 'state.json'), JSON.stringify(state));
  });

  afterAll(async () => {
    holder.kill('SIGKILL');
    await testOpenSearchClient()
      .indices.deleteIndexTemplate({ name: prefix })
      .catch(() => undefined);
    await rm(stackDir, { recursive: true, force: true });
  });

  it('reads live records only', async () => {
    const found = await recordedStack({ M365_SIEM_STACK_DIR: stackDir });
    expect(found).toEqual({ stackDir, kafkaBrokers: inject('kafkaBrokers'), opensearchUrl: inject('opensearchUrl') });
    expect(await recordedStack({ M365_SIEM_STACK_DIR: path.join(stackDir, 'none') })).toEqual({ stackDir: path.join(stackDir, 'none') });
  });

  it('explicit settings win over the record', () => {
    const { env, filled } = withRecordedStack({ KAFKA_BROKERS: 'kafka.example:9092' }, { stackDir, kafkaBrokers: 'a:1', opensearchUrl: 'http://b:2' });
    expect(env.KAFKA_BROKERS).toBe('kafka.example:9092');
    expect(filled).toEqual({ OPENSEARCH_URL: 'http://b:2' });
  });

  it('`index install-template` with no endpoint settings uses the recorded OpenSearch and says so', async () => {
    const result = await runCli(['index', 'install-template'], {
      M365_SIEM_STACK_DIR: stackDir,
      INDEX_PREFIX: prefix,
      INDEX_REPLICAS: '0',
      KAFKA_BROKERS: undefined,
      OPENSEARCH_URL: undefined,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`using the stack recorded in ${stackDir}`);
    expect(JSON.parse(result.stdout)).toMatchObject({ installed: prefix });
    const template = await testOpenSearchClient().indices.getIndexTemplate({ name: prefix });
    expect(template.body.index_templates).toHaveLength(1);
  });

  it('a dead recorded process is not used: the command falls back to its default and fails visibly', async () => {
    const dead = await mkdtemp(path.join(os.tmpdir(), 'm365-recorded-dead-'));
    try {
      await writeFile(
        path.join(dead, 'state.json'),
        JSON.stringify({
          format: 1,
          stackId: 'gone',
          opensearch: {
            provider: 'local',
            version: 'x',
            endpoint: inject('opensearchUrl'),
            pid: 2 ** 22 - 1,
            ports: {},
            logFile: 'l',
            workDir: dead,
            startedAt: new Date().toISOString(),
          },
          leases: [],
          pinned: false,
          lastPorts: {},
        }),
      );
      const result = await runCli(['index', 'install-template'], {
        M365_SIEM_STACK_DIR: dead,
        INDEX_PREFIX: `${prefix}-dead`,
        OPENSEARCH_REQUEST_TIMEOUT_MS: '2000',
        KAFKA_BROKERS: undefined,
        OPENSEARCH_URL: undefined,
      });
      expect(result.stderr).not.toContain('using the stack recorded');
      expect(result.code).not.toBe(0);
    } finally {
      await rm(dead, { recursive: true, force: true });
    }
  });
});
