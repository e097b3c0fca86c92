// The shared runtime: the only module every service imports. Keep this surface small.
export * from './settings.ts';
export * from './service-settings.ts';
export * from './logger.ts';
export * from './retry.ts';
export * from './outcome.ts';
export * from './sources.ts';
export * from './clouds.ts';
export * from './topics.ts';
export * from './kafka.ts';
export * from './send-limits.ts';
export * from './dead-letters.ts';
export * from './opensearch.ts';
export * from './metrics.ts';
export * from './ops-server.ts';
export * from './shutdown.ts';
export * from './contracts/index.ts';
export * from './microsoft-auth.ts';
