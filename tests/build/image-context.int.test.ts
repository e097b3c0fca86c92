/**
 * The production image, checked where no Docker engine runs: what the build context would hold (.dockerignore,
 * an allowlist), what the production stage copies (Dockerfile), and the production stage assembled for real in a
 * folder — `npm run build`, the stage's COPY lines applied to dist/, `npm ci --omit=dev` — whose compiled services
 * then run against the real Kafka and OpenSearch and carry a record from m365.raw into the index.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testKafkaClient, testOpenSearchClient } from '../helpers/clients.ts';
import { deleteTestIndices, deleteTestTopics, testTopicEnv, uniqueName } from '../helpers/resources.ts';
import { ephemeralPort } from '../../stack/index.ts';
import { goldenCases } from '../normalize/golden.ts';

const root = path.resolve(import.meta.dirname, '../..');
// A CommonJS package whose typings declare an ES default export: load it as what it is.
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as (options?: { caseInsensitive?: boolean }) => Ignore;

interface Stage {
  name: string;
  copies: Array<{ from: string | null; source: string; target: string }>;
}

/** The stages of the Dockerfile with their COPY lines (enough of the syntax for this project's Dockerfile). */
function dockerfileStages(): Stage[] {
  const stages: Stage[] = [];
  for (const line of readFileSync(path.join(root, 'Dockerfile'), 'utf8').split('\n')) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1] ?? `stage${stages.length}`, copies: [] });
    const copy = /^COPY\s+(?:--from=(\S+)\s+)?(.+)$/i.exec(line);
    if (copy && stages.length > 0) {
      const parts = (copy[2] as string).trim().split(/\s+/);
      const target = parts.pop() as string;
      for (const source of parts) stages.at(-1)?.copies.push({ from: copy[1] ?? null, source, target });
    }
  }
  return stages;
}

/** COPY semantics: a target ending in / receives a file under its own name, or a folder's contents. */
function copyInto(fromRoot: string, source: string, toRoot: string, target: string): void {
  const from = path.join(fromRoot, source);
  const to = target.endsWith('/') && !source.endsWith('/') ? path.join(toRoot, target, path.basename(source)) : path.join(toRoot, target);
  cpSync(from, to, { recursive: true });
}

function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? walk(full, base) : [path.relative(base, full)];
  });
}

describe('the build context (.dockerignore allowlist)', () => {
  const ignore = dockerignore({ caseInsensitive: false }).add(readFileSync(path.join(root, '.dockerignore'), 'utf8'));
  const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  const sent = tracked.filter((f) => !ignore.ignores(f));

  it('never sends secrets, local state or build output, wherever they are', () => {
    const sensitive = [
      '.env',
      '.env.local',
      'control-plane/.env',
      'runtime/.env.production',
      'cli/client.pem',
      'stack/tls.key',
      'node_modules/x/index.js',
      'dist/cli/main.js',
      'ingest/node_modules/a.js',
      '.sim-state/ca.pem',
      'simulator/.sim-state/ca.pem',
      '.git/config',
    ];
    expect(sensitive.filter((f) => !ignore.ignores(f))).toEqual([]);
  });

  it('sends no tests, benchmarks or docs, and everything the build stage copies', () => {
    expect(sent.filter((f) => /^(tests|bench|docs|detections)\//.test(f) || f === 'README.md' || f === 'docker-compose.yml')).toEqual([]);
    const build = dockerfileStages().find((s) => s.name === 'build');
    expect(build).toBeDefined();
    for (const c of build?.copies ?? []) {
      const source = c.source.replace(/\/$/, '');
      expect(
        sent.some((f) => f === source || f.startsWith(`${source}/`)),
        `${c.source} must be in the context`,
      ).toBe(true);
    }
  });
});

describe('the production image', () => {
  const stages = dockerfileStages();
  const production = stages.at(-1) as Stage;
  const image = mkdtempSync(path.join(os.tmpdir(), 'm365-image-'));
  const prefix = uniqueName('image');
  const topics = testTopicEnv(prefix);
  const indexPrefix = uniqueName('image-idx');
  const children: ChildProcess[] = [];

  beforeAll(() => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
    // The production-dependencies stage, as the Dockerfile runs it, in a folder of its own.
    const deps = mkdtempSync(path.join(os.tmpdir(), 'm365-image-deps-'));
    for (const c of stages.find((st) => st.name === 'production-dependencies')?.copies ?? []) copyInto(root, c.source, deps, c.target);
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: deps, stdio: 'ignore' });
    for (const c of production.copies) {
      if (c.from === 'production-dependencies') copyInto(deps, c.source.replace(/^\/app\//, ''), image, c.target);
      else if (c.from === 'build') copyInto(root, c.source.replace(/^\/src\//, ''), image, c.target);
      else if (c.from === null) copyInto(root, c.source, image, c.target);
      else throw new Error(`unexpected COPY --from=${c.from}`);
    }
    rmSync(deps, { recursive: true, force: true });
  }, 600_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    const kafka = testKafkaClient('image');
    const admin = kafka.admin();
    await admin.connect();
    await deleteTestTopics(admin, Object.values(topics)).catch(() => undefined);
    await admin.disconnect();
    const os = testOpenSearchClient();
    const listed = await os.cat.indices({ index: `${indexPrefix}-*`, format: 'json' }).catch(() => null);
    const names = ((listed?.body ?? []) as Array<{ index: string }>).map((i) => i.index);
    await deleteTestIndices(os, names);
    rmSync(image, { recursive: true, force: true });
  });

  it('is the default target and copies only compiled services, runtime and production dependencies', () => {
    expect(production.name).toBe('production');
    expect(production.copies.map((c) => c.source).filter((s) => /simulator|tests|bench|\.ts$|\/src\/(?!dist)/.test(s))).toEqual([]);
    const files = walk(image).filter((f) => !f.startsWith('node_modules/'));
    expect(files.filter((f) => /(^|\/)(simulator|tests|bench)\//.test(f) || f.endsWith('.ts') || /(^|\/)\.env/.test(f))).toEqual([]);
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/control-plane/ui/dist/app.js');
    const devOnly = ['vitest', 'typescript', 'tsx', 'esbuild', 'testcontainers', 'playwright-core', 'node-forge'];
    expect(devOnly.filter((p) => existsSync(path.join(image, 'node_modules', p)))).toEqual([]);
  });

  it('has no simulator command and runs the compiled normalizer and indexer: a raw record reaches the index', async () => {
    const help = execFileSync(process.execPath, ['dist/cli/main.js', '--help'], { cwd: image, encoding: 'utf8' });
    expect(help).toContain('start');
    expect(help).not.toMatch(/^\s+sim\b/m);

    const [normalizeOps, indexOps] = [await ephemeralPort(), await ephemeralPort()];
    const env = {
      PATH: process.env.PATH,
      HOME: image,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      OPENSEARCH_URL: inject('opensearchUrl'),
      ...topics,
      TOPIC_DATA_PARTITIONS: '1',
      NORMALIZE_GROUP_ID: `${prefix}-normalize`,
      INDEX_GROUP_ID: `${prefix}-index`,
      INDEX_PREFIX: indexPrefix,
      INDEX_REPLICAS: '0',
      NORMALIZE_OPS_PORT: String(normalizeOps),
      INDEX_OPS_PORT: String(indexOps),
      LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, ['dist/cli/main.js', 'start', 'normalize', 'index'], { cwd: image, env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));

    const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok === true;
    await expect.poll(async () => (await ready(normalizeOps)) && (await ready(indexOps)), { timeout: 90_000, interval: 500 }).toBe(true);

    const kafka = testKafkaClient('image');
    const producer = kafka.producer();
    await producer.connect();
    const golden = goldenCases()[0];
    if (!golden) throw new Error('no golden case');
    const envelope = JSON.parse(golden.input) as { orgId: string };
    await producer.send({ topic: topics.TOPIC_RAW, messages: [{ key: envelope.orgId, value: golden.input }] });
    await producer.disconnect();

    const os = testOpenSearchClient();
    const count = async () => {
      const r = await os.count({ index: `${indexPrefix}-*` }).catch(() => null);
      return (r?.body as { count?: number } | undefined)?.count ?? 0;
    };
    await expect.poll(count, { timeout: 90_000, interval: 1_000 }).toBe(1);
    expect(child.exitCode, stderr).toBeNull();
  }, 240_000);
});
