export * from './tenant-connection.ts';
export * from './source-status.ts';
export * from './raw-envelope.ts';
export * from './dead-letter.ts';
export * from './siem-events.ts';
