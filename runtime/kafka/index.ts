// The Kafka client boundary: the project's own interface (client.ts), its settings, and the one implementation
// (kafkajs-adapter.ts, the only file that imports kafkajs). Nothing here exposes a kafkajs type.
export * from './client.ts';
export * from './settings.ts';
export { createKafkaClient, partitionForKey } from './kafkajs-adapter.ts';
