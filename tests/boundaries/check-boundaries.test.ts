import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const checker = join(import.meta.dirname, '../../bin/check-boundaries.js');
/**
 * The Kafka client package's name, assembled: the checker reads this file too, and a literal import statement in a
 * fixture string would count as this file importing the client.
 */
const KAFKA_CLIENT = ['kafka', 'js'].join('');
const ADAPTER = 'runtime/kafka/kafkajs-adapter.ts';

function run(root: string): { code: number; output: string } {
  try {
    const output = execFileSync(process.execPath, [checker, root], { encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, output };
  } catch (e) {
    const err = e as { status: number; stderr: string };
    return { code: err.status, output: err.stderr };
  }
}

describe('import boundary check', () => {
  const roots: string[] = [];
  const tree = (files: Record<string, string>) => {
    const root = mkdtempSync(join(tmpdir(), 'boundaries-'));
    roots.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('passes the real project', () => {
    expect(run(join(import.meta.dirname, '../..')).code).toBe(0);
  });

  it('fails when one service imports another', () => {
    const root = tree({
      'runtime/index.ts': 'export const x = 1;',
      'ingest/poller.ts': "import { x } from '../runtime/index.ts';\nimport { y } from '../normalize/mapper.ts';",
      'normalize/mapper.ts': 'export const y = 2;',
    });
    const { code, output } = run(root);
    expect(code).toBe(1);
    expect(output).toContain('ingest/poller.ts: imports ../normalize/mapper.ts (normalize/)');
  });

  it('fails when a service uses the Kafka client directly', () => {
    const root = tree({ 'index/consumer.ts': importing(KAFKA_CLIENT, 'import') });
    const { code, output } = run(root);
    expect(code).toBe(1);
    expect(output).toContain(`index/consumer.ts: imports ${KAFKA_CLIENT}; only ${ADAPTER} may use the Kafka client`);
  });

  /** An import of `spec` in one of the forms the checker must catch (built here: see KAFKA_CLIENT). */
  const importing = (spec: string, form: 'import' | 'import type' | 'export type' | 'dynamic'): string =>
    form === 'dynamic' ? `const client = await import('${spec}');` : `${form} { Client } from '${spec}';`;

  it.each([
    ['cli/replay.ts', KAFKA_CLIENT, 'import'],
    ['bench/kafka-client.bench.ts', KAFKA_CLIENT, 'import type'],
    ['tests/helpers/read-topic.ts', KAFKA_CLIENT, 'import type'],
    ['tests/e2e/deep/harness.ts', KAFKA_CLIENT, 'dynamic'],
    ['runtime/consumer-supervisor.ts', `${KAFKA_CLIENT}/types`, 'import type'],
    ['runtime/kafka/index.ts', KAFKA_CLIENT, 'export type'],
    ['normalize/consumer.ts', ['@confluentinc', 'kafka-javascript'].join('/'), 'import'],
  ] as const)('fails when %s, outside the adapter, imports the Kafka client %s', (file, spec, form) => {
    const root = tree({ [ADAPTER]: importing(KAFKA_CLIENT, 'import'), [file]: importing(spec, form) });
    const { code, output } = run(root);
    expect(code).toBe(1);
    expect(output).toContain(`${file}: imports ${spec}; only ${ADAPTER} may use the Kafka client`);
    expect(output).not.toContain(`${ADAPTER}: imports`);
  });

  it('allows a Kafka client package that is not the client itself (the schema registry client) in tests', () => {
    const root = tree({ 'tests/schemas/decode.test.ts': importing(`@${KAFKA_CLIENT}/confluent-schema-registry`, 'import') });
    expect(run(root).code).toBe(0);
  });

  it.each(['cli', 'bench'])('fails when %s/ imports a service internal instead of its index.ts', (caller) => {
    const root = tree({
      'ingest/index.ts': "export { IdLedger } from './checkpoint-store.ts';",
      'ingest/checkpoint-store.ts': 'export class IdLedger {}',
      [`${caller}/tool.ts`]: "import { IdLedger } from '../ingest/checkpoint-store.ts';",
    });
    const { code, output } = run(root);
    expect(code).toBe(1);
    expect(output).toContain(
      `${caller}/tool.ts: imports ../ingest/checkpoint-store.ts, an internal of ingest/; ${caller}/ may import ingest/ only through ingest/index.ts`,
    );
  });

  it.each(['cli', 'bench'])('allows %s/ to import a service through index.ts and runtime/ anywhere', (caller) => {
    const root = tree({
      'ingest/index.ts': 'export const startIngest = 1;',
      'runtime/config.ts': 'export const c = 1;',
      [`${caller}/tool.ts`]: "import { startIngest } from '../ingest/index.ts';\nimport { c } from '../runtime/config.ts';",
    });
    expect(run(root).code).toBe(0);
  });

  it('allows runtime and schemas imports from services', () => {
    const root = tree({
      [ADAPTER]: importing(KAFKA_CLIENT, 'import'),
      'runtime/kafka/index.ts': "export * from './kafkajs-adapter.ts';",
      'schemas/index.ts': "import '../runtime/kafka/index.ts';",
      'index/writer.ts': "import type { A } from '../runtime/kafka/index.ts';\nimport { b } from '../schemas/index.ts';",
    });
    expect(run(root).code).toBe(0);
  });
});
