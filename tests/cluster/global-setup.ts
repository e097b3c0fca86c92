import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { ensureCertificateAuthority } from '../../simulator/index.ts';
import { ensureStack } from '../../stack/index.ts';
import { ClusterStack, clusterLauncherOptions } from './cluster-stack.ts';
import './provided-context.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Starts the fault tests' own cluster — 3 Kafka brokers (KRaft quorum) and 2 OpenSearch nodes, local JVMs through
 * the launcher, downloads from the shared cache — in a fresh stack folder, and removes all of it at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const caDir = path.join(repoRoot, '.cache', 'test-ca');
  const { caFile } = await ensureCertificateAuthority(caDir);
  process.env.NODE_EXTRA_CA_CERTS = caFile;
  const stackDir = await mkdtemp(path.join(os.tmpdir(), 'm365-siem-cluster-'));
  // mkdtemp makes it 0700: OpenSearch runs as the service user when we are root and must reach its folders.
  await chmod(stackDir, 0o755);
  const options = { stackDir, kafkaPort: 29092, opensearchPort: 29200 };
  const cluster = new ClusterStack(options);
  try {
    const endpoints = await ensureStack({ ...clusterLauncherOptions(options), lease: true });
    project.provide('clusterKafkaBrokers', endpoints.kafka.brokers);
    project.provide('clusterOpensearchUrl', endpoints.opensearch.url);
    project.provide('clusterStackDir', stackDir);
    project.provide('clusterKafkaPort', options.kafkaPort);
    project.provide('clusterOpensearchPort', options.opensearchPort);
    project.provide('simulatorCaDir', caDir);
    process.stdout.write(
      `[cluster] Kafka ${endpoints.kafka.version} × 3 at ${endpoints.kafka.brokers}, OpenSearch ${endpoints.opensearch.version} × 2 at ${endpoints.opensearch.url}; ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    await rm(stackDir, { recursive: true, force: true });
    throw error;
  }
  return async () => {
    // A test that failed between SIGSTOP and SIGCONT must not leave a stopped JVM behind: stop sends SIGTERM then
    // SIGKILL to each process group, which ends stopped processes too.
    await cluster.stop();
    await rm(stackDir, { recursive: true, force: true });
  };
}
