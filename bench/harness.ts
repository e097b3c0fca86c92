// Runs one benchmark file in its own process (clean heap for memory figures) and prints its results as JSON.
import { pathToFileURL } from 'node:url';
import type { BenchFn, BenchContext } from './types.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: harness.ts <bench file>');
const ctx: BenchContext = {
  kafkaBrokers: process.env.KAFKA_BROKERS ?? '',
  opensearchUrl: process.env.OPENSEARCH_URL ?? '',
};
const mod = (await import(pathToFileURL(file).href)) as { default: BenchFn };
const results = await mod.default(ctx);
process.stdout.write(`\n@@BENCH@@${JSON.stringify(results)}\n`);
process.exit(0);
