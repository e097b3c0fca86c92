import { randomBytes } from 'node:crypto';

/**
 * Every topic, consumer group, transactional id and index a test creates carries this prefix, so tests can
 * share one Kafka and one OpenSearch (in parallel, across runs) and clean up only what is theirs.
 */
export const TEST_PREFIX = 'test-';

/**
 * A unique resource name: `test-<kind>-<time>-<random>`, lower case (valid for Kafka topics, consumer groups
 * and OpenSearch indices alike).
 */
export function uniqueName(kind: string): string {
  const safeKind = kind.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
  return `${TEST_PREFIX}${safeKind}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** The TOPIC_* settings naming a test's own six topics `<prefix>.tenants`, `<prefix>.checkpoints`, … */
export function testTopicEnv(
  prefix: string,
): Record<'TOPIC_TENANTS' | 'TOPIC_CHECKPOINTS' | 'TOPIC_STATUS' | 'TOPIC_RAW' | 'TOPIC_EVENTS' | 'TOPIC_DLQ', string> {
  return {
    TOPIC_TENANTS: `${prefix}.tenants`,
    TOPIC_CHECKPOINTS: `${prefix}.checkpoints`,
    TOPIC_STATUS: `${prefix}.status`,
    TOPIC_RAW: `${prefix}.raw`,
    TOPIC_EVENTS: `${prefix}.events`,
    TOPIC_DLQ: `${prefix}.dlq`,
  };
}

export function isTestResourceName(name: string): boolean {
  return name.startsWith(TEST_PREFIX) && name.length > TEST_PREFIX.length;
}

/** Throws unless every name is a test resource: cleanup must never touch real topics or indices. */
export function assertTestResourceNames(names: readonly string[]): void {
  const foreign = names.filter((n) => !isTestResourceName(n));
  if (foreign.length > 0) {
    throw new Error(`refusing to delete resources not named with the test prefix "${TEST_PREFIX}": ${foreign.join(', ')}`);
  }
}

/** The part of a Kafka admin client cleanup needs (KafkaAdmin satisfies it). */
export interface TopicAdmin {
  listTopics(): Promise<string[]>;
  deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void>;
  deleteGroups(groupIds: string[]): Promise<unknown>;
}

/** Deletes test topics that exist; refuses any name without the test prefix. */
export async function deleteTestTopics(admin: TopicAdmin, topics: readonly string[]): Promise<void> {
  assertTestResourceNames(topics);
  if (topics.length === 0) return;
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
}

/** Deletes test consumer groups (ignoring ones that no longer exist); refuses any name without the prefix. */
export async function deleteTestGroups(admin: TopicAdmin, groups: readonly string[]): Promise<void> {
  assertTestResourceNames(groups);
  if (groups.length === 0) return;
  await admin.deleteGroups([...groups]).catch(() => undefined);
}

/** The part of an OpenSearch client cleanup needs (@opensearch-project/opensearch Client satisfies it). */
export interface IndexAdmin {
  indices: {
    delete(params: { index: string | string[]; ignore_unavailable?: boolean }): Promise<unknown>;
  };
}

/**
 * Deletes test indices; refuses any name without the prefix, and wildcards, so one typo cannot wipe a
 * shared cluster.
 */
export async function deleteTestIndices(client: IndexAdmin, indices: readonly string[]): Promise<void> {
  assertTestResourceNames(indices);
  const wildcard = indices.filter((i) => /[*?,]/.test(i));
  if (wildcard.length > 0) throw new Error(`refusing to delete index patterns: ${wildcard.join(', ')}`);
  if (indices.length === 0) return;
  await client.indices.delete({ index: [...indices], ignore_unavailable: true });
}
