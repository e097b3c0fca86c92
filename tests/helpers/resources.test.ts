import { describe, expect, it } from 'vitest';
import { deleteTestIndices, deleteTestTopics, isTestResourceName, uniqueName, type IndexAdmin, type TopicAdmin } from './resources.ts';

describe('test resource names', () => {
  it('are unique, prefixed and valid as topic, group and index names', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('My Topic')));
    expect(names.size).toBe(100);
    for (const n of names) {
      expect(isTestResourceName(n)).toBe(true);
      expect(n).toMatch(/^test-my-topic-[a-z0-9]+-[0-9a-f]{8}$/);
    }
  });

  it('cleanup refuses anything not named as a test resource', async () => {
    const deleted: string[] = [];
    const admin: TopicAdmin = {
      listTopics: async () => ['m365.raw', 'test-a'],
      deleteTopics: async ({ topics }) => {
        deleted.push(...topics);
      },
      deleteGroups: async () => undefined,
    };
    await expect(deleteTestTopics(admin, ['test-a', 'm365.raw'])).rejects.toThrow(/refusing to delete/);
    expect(deleted).toEqual([]);
    await deleteTestTopics(admin, ['test-a', 'test-gone']);
    expect(deleted).toEqual(['test-a']);

    const indices: IndexAdmin = { indices: { delete: async () => undefined } };
    await expect(deleteTestIndices(indices, ['siem-events-2026.01'])).rejects.toThrow(/refusing/);
    await expect(deleteTestIndices(indices, ['test-*'])).rejects.toThrow(/patterns/);
  });
});
