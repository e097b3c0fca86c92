import { describe, expect, it } from 'vitest';
import { createLogger, KafkaError, type KafkaClient } from '../../runtime/index.ts';
import { OrganizationStore, newOrganizationId, ORGANIZATION_ID_PATTERN, type OrganizationRecord } from '../../control-plane/organization-store.ts';
import type { Actor } from '../../control-plane/auth.ts';

/** The store's rules with an in-memory stand-in for Kafka (the integration tests use the real one). */
function fakeKafka(initial: Map<string, Buffer | null> = new Map(), historyInitial: Map<string, Buffer | null> = new Map()) {
  const sent: Array<{ key: string; value: string | null }> = [];
  const historySent: Array<{ key: string; value: string | null }> = [];
  let failNext = false;
  let failHistory = false;
  let delayMs = 0;
  const kafka = {
    readCompactedToEnd: async (topic: string) => (topic === 't' ? initial : historyInitial),
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async ({ topic, messages }: { topic: string; messages: Array<{ key: string; value: string | null }> }) => {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        if (topic === 't' ? failNext : failHistory) {
          if (topic === 't') failNext = false;
          else failHistory = false;
          throw new KafkaError('broker unavailable', 'connection', true);
        }
        (topic === 't' ? sent : historySent).push(...messages);
        return [];
      },
    }),
  } as unknown as KafkaClient;
  return { kafka, sent, historySent, failOnce: () => (failNext = true), failHistoryOnce: () => (failHistory = true), slow: (ms: number) => (delayMs = ms) };
}

const actor: Actor = { role: 'admin', label: 'alice' };
const logger = createLogger('test', { level: 'silent' });

function newRecord(id: string, name: string): OrganizationRecord {
  return {
    schemaVersion: 1,
    orgId: id,
    orgName: name,
    revision: 0,
    updatedAt: '',
    connection: null,
    controlPlane: { createdAt: new Date().toISOString(), requestedTenant: null, pendingUpgrade: null, verification: null, consent: null, consumedNonces: [] },
  };
}

async function started(kafka: KafkaClient, historyMaxBytes = 1024 * 1024, now?: () => number) {
  const store = new OrganizationStore({ kafka, topic: 't', historyTopic: 't.history', historyMaxBytes, logger, ...(now ? { now } : {}) });
  await store.start();
  return store;
}

describe('organization store', () => {
  it('makes short unique organization ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newOrganizationId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(ORGANIZATION_ID_PATTERN);
  });

  it('serializes changes to one organization: each sees the previous one', async () => {
    const { kafka, sent, slow } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({
      record: newRecord('org_a1b2', 'n0'),
      history: [{ action: 'organization.created', message: 'c' }],
      result: undefined,
    }));
    slow(5);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.mutate('org_a1b2', actor, (current) => {
          current!.orgName = `${current!.orgName}+${i}`;
          return { record: current, history: [{ action: 'organization.renamed', message: String(i) }], result: undefined };
        }),
      ),
    );
    const record = store.get('org_a1b2')!;
    expect(record.revision).toBe(11);
    expect(record.orgName).toBe('n0+0+1+2+3+4+5+6+7+8+9');
    expect(sent.map((m) => JSON.parse(m.value ?? 'null').revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('changes the view only after the write was acknowledged', async () => {
    const { kafka, failOnce } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'before'), result: undefined }));
    failOnce();
    await expect(
      store.mutate('org_a1b2', actor, (current) => {
        current!.orgName = 'after';
        return { record: current, result: undefined };
      }),
    ).rejects.toThrow(/broker unavailable/);
    expect(store.get('org_a1b2')?.orgName).toBe('before');
    // The chain continues after a failure.
    await store.mutate('org_a1b2', actor, (current) => {
      current!.orgName = 'later';
      return { record: current, result: undefined };
    });
    expect(store.get('org_a1b2')).toMatchObject({ orgName: 'later', revision: 2 });
  });

  it('writes nothing when nothing changed', async () => {
    const { kafka, sent } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'x'), result: undefined }));
    await store.mutate('org_a1b2', actor, (current) => ({ record: current, result: undefined }));
    expect(sent).toHaveLength(1);
  });

  it('keeps history out of the organization value, records the actor, and prunes expired nonces', async () => {
    let now = 1_000_000;
    const { kafka, sent, historySent } = fakeKafka();
    const store = await started(kafka, 1024 * 1024, () => now);
    await store.mutate('org_a1b2', actor, () => {
      const r = newRecord('org_a1b2', 'x');
      r.controlPlane.consumedNonces = [
        { nonce: 'old', exp: now + 10 },
        { nonce: 'fresh', exp: now + 100_000 },
      ];
      return { record: r, history: [{ action: 'organization.created', message: 'created' }], result: undefined };
    });
    now += 1000;
    for (let i = 0; i < 8; i++) {
      await store.mutate('org_a1b2', actor, (current) => {
        current!.orgName = `name ${i}`;
        return { record: current, history: [{ action: 'organization.renamed', message: `change ${i}` }], result: undefined };
      });
    }
    expect(store.history('org_a1b2').map((h) => h.message)).toEqual(['created', ...Array.from({ length: 8 }, (_, i) => `change ${i}`)]);
    expect(store.history('org_a1b2')[0]?.actor).toEqual({ role: 'admin', label: 'alice' });
    expect(store.get('org_a1b2')!.controlPlane.consumedNonces.map((n) => n.nonce)).toEqual(['fresh']);
    for (const m of sent) expect(JSON.parse(m.value!).controlPlane.history).toBeUndefined();
    expect(historySent.length).toBe(9);
    expect(historySent.every((m) => m.key === 'org_a1b2|0')).toBe(true);
  });

  it('adds history alone without rewriting the value ingest reads', async () => {
    const { kafka, sent, historySent } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'x'), result: undefined }));
    for (let i = 0; i < 5; i++)
      await store.mutate('org_a1b2', actor, () => ({
        record: undefined,
        history: [{ action: 'upgrade.approved', message: `approved ${i}` }],
        result: undefined,
      }));
    expect(sent).toHaveLength(1);
    expect(store.get('org_a1b2')?.revision).toBe(1);
    expect(historySent).toHaveLength(5);
    expect(store.history('org_a1b2')).toHaveLength(5);
  });

  it("bounds an organization's history in bytes: 1,000 renames with long names stay under the bound and every write stays small", async () => {
    const maxBytes = 64 * 1024;
    const { kafka, sent, historySent } = fakeKafka();
    const store = await started(kafka, maxBytes);
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'x'), result: undefined }));
    for (let i = 0; i < 1000; i++) {
      const name = `${'Ä'.repeat(180)}${i}`;
      await store.mutate('org_a1b2', actor, (current) => {
        const old = current!.orgName;
        current!.orgName = name;
        return {
          record: current,
          history: [{ action: 'organization.renamed', message: `renamed from "${old}" to "${name}"`, detail: { from: old, to: name } }],
          result: undefined,
        };
      });
    }
    expect(store.get('org_a1b2')?.revision).toBe(1001);
    const largestRecord = Math.max(...sent.map((m) => Buffer.byteLength(m.value ?? '')));
    expect(largestRecord).toBeLessThan(2048);
    const live = new Map<string, string | null>();
    for (const m of historySent) live.set(m.key, m.value);
    const liveBytes = [...live.values()].reduce((n, v) => n + (v ? Buffer.byteLength(v) : 0), 0);
    expect(liveBytes).toBeLessThanOrEqual(maxBytes);
    expect(Math.max(...historySent.map((m) => Buffer.byteLength(m.value ?? '')))).toBeLessThanOrEqual(maxBytes / 4);
    const kept = store.history('org_a1b2');
    expect(kept.at(-1)?.message).toContain(`${'Ä'.repeat(180)}999`);
    expect(kept.length).toBeGreaterThan(20);
    expect(kept.length).toBeLessThan(1000);
    // The tombstoned chunks are the oldest: what is kept is the most recent run, in order.
    const numbers = kept.map((e) => Number(/(\d+)"$/.exec(e.message)?.[1]));
    expect(numbers).toEqual(numbers.map((_, i) => 999 - numbers.length + 1 + i));
  });

  it('rebuilds history from its chunks and moves a legacy in-value history there once', async () => {
    const { kafka, historySent } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({
      record: newRecord('org_a1b2', 'x'),
      history: [{ action: 'organization.created', message: 'c' }],
      result: undefined,
    }));
    const chunks = new Map<string, Buffer | null>(historySent.map((m) => [m.key, m.value === null ? null : Buffer.from(m.value)]));
    const legacy = { ...newRecord('org_old1', 'Old'), revision: 3, updatedAt: 'x' };
    legacy.controlPlane.history = [{ at: 'then', actor: { role: 'admin', label: 'bob' }, action: 'organization.created', message: 'legacy', detail: {} }];
    const records = new Map<string, Buffer | null>([['org_old1', Buffer.from(JSON.stringify(legacy))]]);
    const again = fakeKafka(records, chunks);
    const rebuilt = await started(again.kafka);
    expect(rebuilt.history('org_a1b2').map((e) => e.message)).toEqual(['c']);
    expect(rebuilt.history('org_old1').map((e) => e.message)).toEqual(['legacy']);
    expect(again.historySent.map((m) => m.key)).toEqual(['org_old1|0']);
    // The next change of the organization drops the legacy copy from the value ingest reads.
    await rebuilt.mutate('org_old1', actor, (current) => ({ record: current, history: [{ action: 'a', message: 'next' }], result: undefined }));
    expect(JSON.parse(again.sent.at(-1)!.value!).controlPlane.history).toBeUndefined();
    expect(rebuilt.history('org_old1').map((e) => e.message)).toEqual(['legacy', 'next']);
  });

  it('writes a chunk whose write failed again with the next change', async () => {
    const { kafka, historySent, failHistoryOnce } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'x'), result: undefined }));
    failHistoryOnce();
    await store.mutate('org_a1b2', actor, () => ({ record: undefined, history: [{ action: 'a', message: 'one' }], result: undefined }));
    expect(historySent).toHaveLength(0);
    await store.mutate('org_a1b2', actor, () => ({ record: undefined, history: [{ action: 'a', message: 'two' }], result: undefined }));
    expect(JSON.parse(historySent.at(-1)!.value!).entries.map((e: { message: string }) => e.message)).toEqual(['one', 'two']);
  });

  it('cuts an oversized entry and says so', async () => {
    const { kafka } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({
      record: newRecord('org_a1b2', 'x'),
      history: [{ action: 'verification.failed', message: 'x'.repeat(20_000), detail: { big: 'y'.repeat(20_000) } }],
      result: undefined,
    }));
    const [entry] = store.history('org_a1b2');
    expect(entry?.action).toBe('verification.failed');
    expect(entry?.message).toMatch(/cut: the entry was \d+ bytes/);
    expect(entry?.detail).toEqual({ truncated: true });
    expect(Buffer.byteLength(JSON.stringify(entry))).toBeLessThanOrEqual(4096);
  });

  it('rebuilds from the topic and skips values it cannot read', async () => {
    const good = { ...newRecord('org_good1', 'Good'), revision: 4, updatedAt: 'x' };
    const initial = new Map<string, Buffer | null>([
      ['org_good1', Buffer.from(JSON.stringify(good))],
      ['org_bad1', Buffer.from('{not json')],
      ['org_bad2', Buffer.from(JSON.stringify({ orgId: 'org_bad2' }))],
      ['org_gone', null],
      ['org_other', Buffer.from(JSON.stringify({ ...good, orgId: 'org_good1' }))],
    ]);
    const { kafka } = fakeKafka(initial);
    const store = await started(kafka);
    expect(store.list().map((r) => r.orgId)).toEqual(['org_good1']);
    expect(store.get('org_good1')?.revision).toBe(4);
  });

  it('deletes with a tombstone, its history too', async () => {
    const { kafka, sent, historySent } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({
      record: newRecord('org_a1b2', 'x'),
      history: [{ action: 'organization.created', message: 'c' }],
      result: undefined,
    }));
    await store.mutate('org_a1b2', actor, () => ({ record: null, result: undefined }));
    expect(store.get('org_a1b2')).toBeUndefined();
    expect(sent.at(-1)).toEqual({ key: 'org_a1b2', value: null });
    expect(historySent.at(-1)).toEqual({ key: 'org_a1b2|0', value: null });
    expect(store.history('org_a1b2')).toEqual([]);
  });
});
