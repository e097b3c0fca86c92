import { describe, expect, it } from 'vitest';
import { createLogger, type KafkaClient } from '../../runtime/index.ts';
import { OrganizationStore, newOrganizationId, ORGANIZATION_ID_PATTERN, type OrganizationRecord } from '../../control-plane/organization-store.ts';
import type { Actor } from '../../control-plane/auth.ts';

/** The store's rules with an in-memory stand-in for Kafka (the integration tests use the real one). */
function fakeKafka(initial: Map<string, Buffer | null> = new Map()) {
  const sent: Array<{ key: string; value: string | null }> = [];
  let failNext = false;
  let delayMs = 0;
  const kafka = {
    readCompactedToEnd: async () => initial,
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async ({ messages }: { messages: Array<{ key: string; value: string | null }> }) => {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        if (failNext) {
          failNext = false;
          const error = new Error('broker unavailable');
          error.name = 'KafkaJSConnectionError';
          throw error;
        }
        sent.push(...messages);
        return [];
      },
    }),
  } as unknown as KafkaClient;
  return { kafka, sent, failOnce: () => (failNext = true), slow: (ms: number) => (delayMs = ms) };
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
    controlPlane: { createdAt: new Date().toISOString(), requestedTenant: null, pendingUpgrade: null, verification: null, consumedNonces: [], history: [] },
  };
}

async function started(kafka: KafkaClient, historyLimit = 1000, now?: () => number) {
  const store = new OrganizationStore({ kafka, topic: 't', logger, historyLimit, ...(now ? { now } : {}) });
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
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'n0'), history: [{ action: 'organization.created', message: 'c' }], result: undefined }));
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

  it('bounds history, records the actor, and prunes expired nonces', async () => {
    let now = 1_000_000;
    const { kafka } = fakeKafka();
    const store = await started(kafka, 5, () => now);
    await store.mutate('org_a1b2', actor, () => {
      const r = newRecord('org_a1b2', 'x');
      r.controlPlane.consumedNonces = [{ nonce: 'old', exp: now + 10 }, { nonce: 'fresh', exp: now + 100_000 }];
      return { record: r, result: undefined };
    });
    now += 1000;
    for (let i = 0; i < 8; i++) {
      await store.mutate('org_a1b2', actor, (current) => ({ record: current, history: [{ action: 'a', message: `change ${i}` }], result: undefined }));
    }
    const record = store.get('org_a1b2')!;
    expect(record.controlPlane.history.map((h) => h.message)).toEqual(['change 3', 'change 4', 'change 5', 'change 6', 'change 7']);
    expect(record.controlPlane.history[0]?.actor).toEqual({ role: 'admin', label: 'alice' });
    expect(record.controlPlane.consumedNonces.map((n) => n.nonce)).toEqual(['fresh']);
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

  it('deletes with a tombstone', async () => {
    const { kafka, sent } = fakeKafka();
    const store = await started(kafka);
    await store.mutate('org_a1b2', actor, () => ({ record: newRecord('org_a1b2', 'x'), result: undefined }));
    await store.mutate('org_a1b2', actor, () => ({ record: null, result: undefined }));
    expect(store.get('org_a1b2')).toBeUndefined();
    expect(sent.at(-1)).toEqual({ key: 'org_a1b2', value: null });
  });
});
