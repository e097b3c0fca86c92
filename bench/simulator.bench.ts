/**
 * Simulator blob throughput: one simulator process holding 1,000 tenants serves Management Activity API content
 * blobs over HTTPS to a few concurrent keep-alive clients, with its blob cache off (every fetch generates the
 * records: the worst case). Baseline in the same run: a bare node:https server serving the same bytes from
 * memory to the same clients. The clients run in a worker thread (pollers are other processes), so the server's
 * event loop only serves. Simulator and baseline rounds alternate (the machine is shared, load varies) and the
 * medians are reported. Goal: >= 20,000 records/s.
 */
import https from 'node:https';
import { Worker } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ensureServerCertificate, SimulatorControl, startSimulator } from '../simulator/index.ts';
import type { BenchResult } from './types.ts';

const TENANTS = 1000;
const RECORDS_PER_TENANT = 100;
const CLIENTS = 4;
const ROUND_SECONDS = 3;
const ROUNDS = 3;
const GOAL = 20_000;

function get(agent: https.Agent, url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
        else resolve(Buffer.concat(chunks));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function post(agent: https.Agent, url: string, body: string, headers: Record<string, string>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, headers: { 'Content-Length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const MARKER = Buffer.from('"OrganizationId":');
function countRecords(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(MARKER); i !== -1; i = body.indexOf(MARKER, i + MARKER.length)) n++;
  return n;
}

interface Job {
  url: string;
  headers: Record<string, string>;
  records: number;
}

// The timed clients, as plain JavaScript evaluated in a worker thread.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const https = require('node:https');
const { jobs, seconds, clients, ca } = workerData;
function get(agent, job) {
  return new Promise((resolve, reject) => {
    const req = https.get(job.url, { agent, headers: job.headers }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(job.url + ' answered ' + res.statusCode))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
(async () => {
  let next = 0;
  let records = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
    while (Date.now() < deadline) {
      const job = jobs[next++ % jobs.length];
      await get(agent, job);
      records += job.records;
    }
    agent.destroy();
  }));
  parentPort.postMessage({ recordsPerSecond: records / (Number(process.hrtime.bigint() - started) / 1e9) });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

function driveInWorker(ca: string, jobs: Job[], seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { jobs, seconds, clients: CLIENTS, ca } });
    worker.once('message', (m: { recordsPerSecond?: number; error?: string }) => {
      void worker.terminate();
      if (m.error !== undefined) reject(new Error(m.error));
      else resolve(m.recordsPerSecond ?? 0);
    });
    worker.once('error', reject);
  });
}

/** Fetches jobs with `CLIENTS` concurrent keep-alive clients; once through (`seconds` 0) or in a loop for `seconds`. */
async function drive(ca: string, jobs: Job[], seconds: number): Promise<{ recordsPerSecond: number; bodies: Map<string, Buffer> }> {
  const bodies = new Map<string, Buffer>();
  let next = 0;
  let records = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
      for (;;) {
        if (seconds === 0 && next >= jobs.length) break;
        if (seconds > 0 && Date.now() >= deadline) break;
        const job = jobs[next++ % jobs.length] as Job;
        const body = await get(agent, job.url, job.headers);
        records += job.records > 0 ? job.records : countRecords(body);
        if (seconds === 0) bodies.set(job.url, body);
      }
      agent.destroy();
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { recordsPerSecond: records / elapsed, bodies };
}

export default async function run(): Promise<BenchResult[]> {
  const stateDir = path.join(os.tmpdir(), 'm365-siem-bench-sim');
  const sim = await startSimulator({ port: 0, stateDir, seed: 'bench', blobCacheEntries: 0 });
  const ca = await readFile(sim.caFile, 'utf8');
  const control = new SimulatorControl(sim.url, ca);
  const setupAgent = new https.Agent({ keepAlive: true, ca, maxSockets: 8 });
  const jobs: Job[] = [];
  try {
    // 1,000 consented tenants with one subscription and 100 Exchange records each.
    for (let i = 0; i < TENANTS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, TENANTS - i) }, async (_, k) => {
          const t = await control.createTenant({
            name: `Bench ${i + k}`,
            domain: `bench${i + k}.example`,
            publicationDelayMs: [0, 0],
            recordsPerBlob: RECORDS_PER_TENANT,
            managementRequestsPerMinute: 1_000_000,
          });
          await control.grantConsent(t.tenantId, ['ActivityFeed.Read']);
          const form = new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: sim.clientId,
            client_secret: sim.clientSecret,
            scope: 'https://manage.office.com/.default',
          }).toString();
          const tokenBody = JSON.parse(
            (await post(setupAgent, `${sim.url}/${t.tenantId}/oauth2/v2.0/token`, form, { 'Content-Type': 'application/x-www-form-urlencoded' })).toString(),
          ) as { access_token: string };
          const headers = { Authorization: `Bearer ${tokenBody.access_token}` };
          const base = `${sim.url}/api/v1.0/${t.tenantId}/activity/feed`;
          await post(setupAgent, `${base}/subscriptions/start?contentType=Audit.Exchange`, '', headers);
          await control.addRecords(t.tenantId, 'management:Audit.Exchange', RECORDS_PER_TENANT);
          await new Promise((r) => setTimeout(r, 5));
          const items = JSON.parse((await get(setupAgent, `${base}/subscriptions/content?contentType=Audit.Exchange`, headers)).toString()) as Array<{
            contentUri: string;
          }>;
          for (const item of items) jobs.push({ url: `${item.contentUri}?PublisherIdentifier=${t.tenantId}`, headers, records: 0 });
        }),
      );
    }
    if (jobs.length !== TENANTS) throw new Error(`expected ${TENANTS} blobs, got ${jobs.length}`);

    const first = await drive(ca, jobs, 0);
    const counted = jobs.map((j) => ({ ...j, records: countRecords(first.bodies.get(j.url) ?? Buffer.alloc(0)) }));

    // Baseline: a bare HTTPS server answering the same paths with the same bytes.
    const server = await ensureServerCertificate(stateDir);
    const byPath = new Map<string, Buffer>();
    for (const [url, body] of first.bodies) {
      const u = new URL(url);
      byPath.set(`${u.pathname}${u.search}`, body);
    }
    const bare = https.createServer({ key: server.keyPem, cert: server.certPem, keepAlive: true }, (req, res) => {
      const body = byPath.get(req.url ?? '') ?? Buffer.from('[]');
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
    const port = (bare.address() as AddressInfo).port;
    const bareJobs = counted.map((j) => {
      const u = new URL(j.url);
      return { ...j, url: `https://localhost:${port}${u.pathname}${u.search}` };
    });
    const simRates: number[] = [];
    const bareRates: number[] = [];
    // Process CPU per record served (server + clients): independent of how loaded the shared machine is.
    const cpuPerRecord = { sim: [] as number[], bare: [] as number[] };
    const timed = async (target: Job[], rates: number[], cpu: number[]) => {
      const c0 = process.cpuUsage();
      const rate = await driveInWorker(ca, target, ROUND_SECONDS);
      const c = process.cpuUsage(c0);
      rates.push(rate);
      cpu.push((c.user + c.system) / (rate * ROUND_SECONDS));
    };
    for (let round = 0; round < ROUNDS; round++) {
      await timed(counted, simRates, cpuPerRecord.sim);
      await timed(bareJobs, bareRates, cpuPerRecord.bare);
    }
    bare.closeAllConnections();
    await new Promise<void>((r) => bare.close(() => r()));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const value = median(simRates);
    const baselineValue = median(bareRates);
    return [
      {
        name: 'simulator.blob_records_per_s',
        value: Math.round(value),
        unit: 'records/s',
        baseline: `bare node:https server in the same process serving the same blob bytes from memory (${CLIENTS} keep-alive clients in a worker thread, same run)`,
        baselineValue: Math.round(baselineValue),
        ratio: value / baselineValue,
        goal: `value >= ${GOAL} records/s from one process holding ${TENANTS} tenants, every fetch generating its records`,
        met: value >= GOAL,
        notes:
          `rounds (sim/bare records/s): ${simRates.map((r, i) => `${Math.round(r)}/${Math.round(bareRates[i] ?? 0)}`).join(', ')}; ` +
          `process CPU per record (sim/bare µs): ${median(cpuPerRecord.sim).toFixed(1)}/${median(cpuPerRecord.bare).toFixed(1)}; ` +
          `load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores; blobs of ${RECORDS_PER_TENANT} Exchange records`,
      },
    ];
  } finally {
    setupAgent.destroy();
    control.close();
    await sim.close();
  }
}
