import { defineConfig } from 'vitest/config';

// One `vitest run` (= `npm test`, with the cluster tests after it) runs both projects; `npm run test:unit` runs only
// the first (decision 0190):
// - `unit` (*.test.ts): pure logic, local processes and loopback servers; no global setup, so no Kafka, OpenSearch
//   or simulator CA — seconds, anywhere.
// - `stack` (*.int.test.ts, *.e2e.test.ts): real services. The global setup makes Kafka and OpenSearch available
//   first (env endpoints, Docker, or local JVMs through the stack launcher) and hands their endpoints to the tests
//   via inject().
const STACK_TESTS = ['tests/**/*.int.test.ts', 'tests/**/*.e2e.test.ts'];
// The cluster fault tests have their own config and cluster (vitest.cluster.config.ts).
const EXCLUDED = ['**/node_modules/**', '**/dist/**', 'tests/cluster/**'];

export default defineConfig({
  test: {
    // Workers are child processes: they inherit NODE_EXTRA_CA_CERTS set by the global setup at start.
    pool: 'forks',
    // 2 cores shared with two JVMs: two test files at a time keeps the brokers responsive.
    maxWorkers: 2,
    // Generous for unit tests too: the CPU-heavy ones (e.g. 200,000-id ledgers) share 2 cores with the JVMs.
    testTimeout: 60_000,
    // Root-only setting: the stack project's global teardown releases the services it started.
    teardownTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['tests/**/*.test.ts'],
          exclude: [...EXCLUDED, ...STACK_TESTS],
          // A unit test that runs no expect fails (decision 0191).
          expect: { requireAssertions: true },
        },
      },
      {
        extends: true,
        test: {
          name: 'stack',
          include: STACK_TESTS,
          exclude: EXCLUDED,
          globalSetup: ['./tests/setup/global-setup.ts'],
          // Integration and e2e tests talk to real services (consumer-group joins, transactions, refreshes).
          hookTimeout: 120_000,
          // A stack test that runs no expect fails too (decision 0191).
          expect: { requireAssertions: true },
        },
      },
    ],
  },
});
