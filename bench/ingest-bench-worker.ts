/**
 * Child process of bench/ingest.bench.ts: one ingest instance alone in its process so its peak memory is its own.
 * Prints JSON lines on stdout: {"event":"ready"} once partitions are assigned; on "stop" from stdin,
 * {"event":"memory",…} with the peaks, then closes and exits.
 */
import { createInterface } from 'node:readline';
import { createLogger, parseTopicSettings, topicSpecs } from '../runtime/index.ts';
import { startIngest } from '../ingest/index.ts';

let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
const timer = setInterval(sample, 100);
const topics = topicSpecs(parseTopicSettings(process.env));
const running = await startIngest(process.env, { topics, logger: createLogger('ingest-bench', { level: 'error' }), opsServer: false });
await running.ready();
if (process.env.INGEST_BENCH_DEBUG) {
  let cpu = process.cpuUsage();
  setInterval(async () => {
    const c = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    process.stderr.write(`[worker] cpu ${(((c.user + c.system) / 5e6) * 100).toFixed(0)}% `);
    const m = await running.metrics.registry.getMetricsAsJSON();
    const pick = (n: string) =>
      m
        .find((x) => x.name === n)
        ?.values.map((v) => `${JSON.stringify(v.labels)}=${v.value}`)
        .join(' ');
    process.stderr.write(
      `[worker] tx ${pick('m365siem_ingest_transactions_total')} | rec ${pick('m365siem_ingest_records_published_total')} | inflight ${pick('m365siem_ingest_http_in_flight_count')} | req ${pick('m365siem_ingest_microsoft_requests_total')}\n`,
    );
  }, 5_000).unref();
}
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'stop') continue;
  sample();
  clearInterval(timer);
  // Live heap with every tenant still loaded: what the process keeps, as opposed to garbage not yet collected.
  (globalThis as { gc?: () => void }).gc?.();
  const liveHeapMb = process.memoryUsage().heapUsed / 1048576;
  process.stdout.write(`${JSON.stringify({ event: 'memory', peakRssMb: peakRss / 1048576, peakHeapMb: peakHeap / 1048576, liveHeapMb })}\n`);
  await running.close();
  process.exit(0);
}
