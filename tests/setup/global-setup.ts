import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TestProject } from 'vitest/node';
import { ensureStack, releaseStack } from '../../stack/index.ts';
import './provided-context.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const simulatorCaDir = path.join(repoRoot, '.cache', 'test-ca');

/**
 * Makes sure the simulator's certificate authority exists and points NODE_EXTRA_CA_CERTS at it, before the
 * forked test workers start (they read it at process start), so simulator HTTPS is trusted like Microsoft's.
 * TODO(simulator): simulator/index.ts is written in parallel; it is imported by path at run time so this setup
 * also works while it does not exist. Once it exports ensureCertificateAuthority, this may become a static import.
 */
async function prepareSimulatorCa(): Promise<string> {
  for (const file of ['index.ts', 'certificate-authority.ts']) {
    const entry = path.join(repoRoot, 'simulator', file);
    if (!existsSync(entry)) continue;
    const simulator = (await import(pathToFileURL(entry).href)) as {
      ensureCertificateAuthority?: (dir: string) => Promise<{ caFile: string }>;
    };
    if (typeof simulator.ensureCertificateAuthority !== 'function') continue;
    const { caFile } = await simulator.ensureCertificateAuthority(simulatorCaDir);
    process.env.NODE_EXTRA_CA_CERTS = caFile;
    return caFile;
  }
  return '';
}

/**
 * Gets Kafka and OpenSearch through the launcher — the code path of `m365-siem stack up`: KAFKA_BROKERS /
 * OPENSEARCH_URL first, then services this stack folder already runs, then Docker, then local JVMs.
 * Teardown stops only what this run started, and only when no other test run still uses it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const caFile = await prepareSimulatorCa();
  const endpoints = await ensureStack({ lease: true, log: (line) => process.stderr.write(`[stack] ${line}\n`) });
  const { kafka, opensearch } = endpoints;
  project.provide('kafkaBrokers', kafka.brokers);
  project.provide('opensearchUrl', opensearch.url);
  project.provide('kafkaVersion', kafka.version);
  project.provide('opensearchVersion', opensearch.version);
  project.provide('kafkaProvider', kafka.provider);
  project.provide('opensearchProvider', opensearch.provider);
  project.provide('simulatorCaFile', caFile);
  project.provide('simulatorCaDir', caFile ? simulatorCaDir : '');
  // The issue asks the test output to name the versions the tests talk to.
  process.stdout.write(
    `[stack] tests talk to Kafka ${kafka.version} at ${kafka.brokers} (${kafka.provider}${kafka.startedNow ? ', started now' : ''}) ` +
      `and OpenSearch ${opensearch.version} at ${opensearch.url} (${opensearch.provider}${opensearch.startedNow ? ', started now' : ''}); ` +
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return async () => {
    const outcome = await releaseStack(endpoints);
    if (outcome === 'stopped') process.stdout.write('[stack] stopped the services this test run started\n');
  };
}
