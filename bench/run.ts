/**
 * `npm run bench`: runs every bench/*.bench.ts in its own process against real Kafka and OpenSearch (from the
 * launcher, like the tests), prints a table and writes bench-results.json. Each result is a ratio against a
 * baseline measured in the same run, because absolute numbers drift on shared machines.
 */
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCertificateAuthority } from '../simulator/index.ts';
import { ensureStack, releaseStack } from '../stack/index.ts';
import type { BenchResult } from './types.ts';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');

function runOne(file: string, env: NodeJS.ProcessEnv): Promise<BenchResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, 'harness.ts'), file], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const marker = out.lastIndexOf('@@BENCH@@');
      if (code !== 0 || marker < 0) return reject(new Error(`${path.basename(file)} exited with ${code}`));
      resolve(
        JSON.parse(
          out
            .slice(marker + '@@BENCH@@'.length)
            .trim()
            .split('\n')[0] ?? '[]',
        ) as BenchResult[],
      );
    });
  });
}

function table(results: BenchResult[]): string {
  const rows = results.map((r) => [
    r.name,
    `${formatNumber(r.value)} ${r.unit}`,
    `${formatNumber(r.baselineValue)} (${r.baseline})`,
    r.ratio.toFixed(3),
    r.goal,
    r.met === undefined ? '' : r.met ? 'met' : 'NOT met',
  ]);
  const header = ['benchmark', 'value', 'baseline (same run)', 'ratio', 'goal', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function formatNumber(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

const only = process.argv.slice(2);
const files = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const { caFile } = await ensureCertificateAuthority(path.join(repoRoot, '.cache', 'test-ca'));
const endpoints = await ensureStack({ lease: true, log: (l) => process.stderr.write(`[stack] ${l}\n`) });
const env = {
  ...process.env,
  NODE_EXTRA_CA_CERTS: caFile,
  KAFKA_BROKERS: endpoints.kafka.brokers,
  OPENSEARCH_URL: endpoints.opensearch.url,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};
process.stderr.write(`[bench] Kafka ${endpoints.kafka.version}, OpenSearch ${endpoints.opensearch.version}\n`);

const results: BenchResult[] = [];
const failures: string[] = [];
try {
  for (const file of files) {
    process.stderr.write(`[bench] running ${file}\n`);
    try {
      results.push(...(await runOne(path.join(benchDir, file), env)));
    } catch (error) {
      failures.push(`${file}: ${(error as Error).message}`);
    }
  }
} finally {
  await releaseStack(endpoints);
}

writeFileSync(path.join(repoRoot, 'bench-results.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${table(results)}\n\nwritten to bench-results.json\n`);
if (failures.length > 0) {
  process.stderr.write(`benchmarks that failed to run:\n  ${failures.join('\n  ')}\n`);
  process.exit(1);
}
