import { defineConfig } from 'vitest/config';

// The cluster fault tests (`npm test` runs them after the main suite; alone: `npm run test:cluster`). Their global
// setup starts a 3-broker Kafka and a 2-node OpenSearch cluster of their own through the launcher, in their own stack
// folder, and removes it at the end; the shared single-node stack is never touched. One file at a time: the tests
// kill and pause members of that one cluster.
export default defineConfig({
  test: {
    include: ['tests/cluster/**/*.cluster.test.ts'],
    globalSetup: ['./tests/cluster/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 600_000,
    teardownTimeout: 120_000,
  },
});
