import { defineConfig } from 'vitest/config';

// One `vitest run` (= `npm test`) runs unit (*.test.ts), integration (*.int.test.ts) and end-to-end
// (*.e2e.test.ts) tests. The global setup makes real Kafka and OpenSearch available first (env endpoints,
// Docker, or local JVMs through the stack launcher) and hands their endpoints to the tests via inject().
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The cluster fault tests have their own config and cluster (vitest.cluster.config.ts).
    exclude: ['**/node_modules/**', '**/dist/**', 'tests/cluster/**'],
    globalSetup: ['./tests/setup/global-setup.ts'],
    // Workers are child processes: they inherit NODE_EXTRA_CA_CERTS set by the global setup at start.
    pool: 'forks',
    // 2 cores shared with two JVMs: two test files at a time keeps the brokers responsive.
    maxWorkers: 2,
    // Integration and e2e tests talk to real services (consumer-group joins, transactions, refreshes).
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
});
