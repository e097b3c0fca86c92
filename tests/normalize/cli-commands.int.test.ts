/**
 * The real `m365-siem` binary: `normalize` exit codes and stderr, and `tail` decoding siem.events from Kafka.
 */
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeSiemEvent } from '../../schemas/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { cleanupTopics, normalizerEnv, testTopicNames } from './kafka-helpers.ts';
import { goldenCases } from './golden.ts';
import { runCli } from '../helpers/run-cli.ts';

function run(args: string[], env: Record<string, string> = {}, input?: string, untilStdout?: (s: string) => boolean, timeoutMs = 40_000) {
  return runCli(args, env, { ...(input !== undefined ? { input } : {}), ...(untilStdout ? { untilStdout } : {}), timeoutMs });
}

describe('m365-siem normalize / tail', () => {
  const kafka = testKafkaClient('normalize-cli');
  const t = testTopicNames('norm-cli');
  const dir = mkdtempSync(join(tmpdir(), 'normalize-cli-'));

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await cleanupTopics(kafka, t);
  });

  it('normalize --in/--out: events out, bad lines on stderr with line numbers, exit code 1', async () => {
    const cases = goldenCases().slice(0, 4);
    const lines = [...cases.map((c) => JSON.stringify(JSON.parse(c.input))), 'garbage'];
    const inFile = join(dir, 'in.jsonl');
    const outFile = join(dir, 'out.jsonl');
    writeFileSync(inFile, `${lines.join('\n')}\n`);
    const { code, stderr } = await run(['normalize', '--in', inFile, '--out', outFile]);
    expect(code).toBe(1);
    expect(stderr).toContain('line 5: invalid_json');
    const out = readFileSync(outFile, 'utf8').trim().split('\n');
    expect(out).toHaveLength(4);
  });

  it('normalize from stdin to stdout exits 0 when every line maps', async () => {
    const [c] = goldenCases();
    const { code, stdout } = await run(['normalize'], {}, `${JSON.stringify(JSON.parse(c?.input ?? '{}'))}\n`);
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim()).event.id).toBeTruthy();
  });

  it('tail --org --from-beginning decodes siem.events and filters by organization', async () => {
    await kafka.ensureTopics([{ name: t.events, partitions: 2, replicationFactor: 1, config: {} }]);
    const producer = kafka.producer();
    await producer.connect();
    const mk = (org: string, id: string) => ({
      key: org,
      value: encodeSiemEvent({ timestamp: 1_700_000_000_000_000, event: { id, dataset: 'o365.audit' }, organization: { id: org } }),
    });
    await producer.send({ topic: t.events, messages: [mk('org-x', 'x1'), mk('org-y', 'y1'), mk('org-x', 'x2')] });
    await producer.disconnect();
    const env = normalizerEnv(t);
    const { stdout } = await run(['tail', '--org', 'org-x', '--from-beginning'], env, undefined, (s) => s.trim().split('\n').filter(Boolean).length >= 2);
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: { id: string }; organization: { id: string }; timestamp: string });
    expect(events.map((e) => e.event.id).sort()).toEqual(['x1', 'x2']);
    expect(events.every((e) => e.organization.id === 'org-x')).toBe(true);
    expect(events[0]?.timestamp).toBe('2023-11-14T22:13:20.000000Z');
  });
});
