/**
 * Kills the normalizer (SIGKILL, its own process) in the middle of a Kafka transaction — records and offsets sent,
 * commit not yet — restarts it, and proves siem.events read with read_committed holds every event exactly once,
 * while read_uncommitted shows the killed transaction's records really were written (and aborted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterSchema, type RawEnvelope } from '../../runtime/index.ts';
import { decodeSiemEvent } from '../../schemas/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { cleanupTopics, envelopeMessages, normalizerEnv, produceRaw, readTopic, testTopicNames } from './kafka-helpers.ts';
import { simulatedEnvelopes } from './simulated-envelopes.ts';
import { expectDeadLetterHeaders } from '../helpers/dead-letters.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/normalizer-process.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

function startProcess(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  ready: Promise<void>;
  exited: Promise<NodeJS.Signals | number | null>;
} {
  const child = spawn(TSX, [FIXTURE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => (output.includes('ready') || output.includes('crashing') ? resolve() : undefined);
    child.stdout?.on('data', check);
    void exited.then(() => (output.includes('crashing') ? resolve() : reject(new Error(`normalizer exited early:\n${output}`))));
  });
  return { child, output: () => output, ready, exited };
}

describe('normalizer exactly once across a crash mid-transaction', () => {
  const kafka = testKafkaClient('normalize-eos');
  const t = testTopicNames('norm-eos');
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await cleanupTopics(kafka, t);
  });

  it('leaves every event exactly once in siem.events (read_committed) and every poison record once in the DLQ', async () => {
    const envelopes: RawEnvelope[] = [...simulatedEnvelopes(180, 'org-one', 'eos-a'), ...simulatedEnvelopes(180, 'org-two', 'eos-b')];
    const poison = [
      { key: 'org-one', value: '{"truncated": ' },
      { key: 'org-two', value: JSON.stringify({ orgId: 'org-two', tenantId: 't', source: 'management:Audit.Nope', fetchedAt: 'x', record: {} }) },
      { key: 'org-one', value: JSON.stringify({ ...envelopes[0], record: { RecordType: 8, Operation: 'no id' } }) },
    ];
    const messages = envelopeMessages(envelopes);
    // Poison records in the middle of the stream: they must not stop their partition.
    messages.splice(100, 0, ...poison);
    const env = normalizerEnv(t, { NORMALIZE_MAX_TRANSACTION_RECORDS: '25' });
    await kafka.ensureTopics([
      { name: t.raw, partitions: 2, replicationFactor: 1, config: {} },
      { name: t.events, partitions: 2, replicationFactor: 1, config: {} },
      { name: t.dlq, partitions: 2, replicationFactor: 1, config: {} },
    ]);
    await produceRaw(kafka, t.raw, messages);

    // 1. A normalizer that kills itself before committing its 4th transaction.
    const first = startProcess({ ...env, TEST_CRASH_AT_TRANSACTION: '4' });
    children.push(first.child);
    // tsx relays the child's death by SIGKILL as exit code 137.
    expect(['SIGKILL', 137]).toContain(await first.exited);
    // Partitions are processed concurrently, so the hook may first fire in a later-numbered transaction.
    const crashedIn = Number(/crashing in transaction (\d+)/.exec(first.output())?.[1] ?? '0');
    expect(crashedIn).toBeGreaterThanOrEqual(4);

    // 2. A fresh normalizer (same group, same transactional ids) takes over and finishes.
    const second = startProcess(env);
    children.push(second.child);
    await second.ready;

    const expectedIds = new Set(envelopes.map((e) => `${e.orgId}|${String(e.record.Id ?? e.record.id)}`));
    const committed = await readTopic(kafka, t.events, {
      readCommitted: true,
      enough: (m) => m.length >= expectedIds.size,
      producedBy: { groupId: t.group, input: t.raw },
      timeoutMs: 60_000,
    });
    second.child.kill('SIGTERM');
    await second.exited;

    const seen = new Map<string, number>();
    for (const m of committed) {
      const ev = decodeSiemEvent(m.value as Buffer);
      expect(m.key?.toString()).toBe(ev.organization.id);
      const key = `${ev.organization.id}|${ev.event.id}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const duplicates = [...seen.entries()].filter(([, n]) => n > 1);
    expect(duplicates).toEqual([]);
    // Derived ids (risky users, registration, risk detections: one event per version) differ from the record id;
    // compare counts and the Microsoft ids we know.
    expect(committed.length).toBe(envelopes.length);
    const derivedSources = new Set(['graph:riskyUsers', 'graph:userRegistrationDetails', 'graph:riskDetections']);
    for (const e of envelopes) {
      if (derivedSources.has(e.source)) continue;
      expect(seen.get(`${e.orgId}|${String(e.record.Id ?? e.record.id)}`), `${e.source} ${String(e.record.Id ?? e.record.id)}`).toBe(1);
    }

    // The killed transaction's records reached the log but were aborted: visible only to read_uncommitted.
    const uncommitted = await readTopic(kafka, t.events, {
      readCommitted: false,
      enough: (m) => m.length > committed.length,
      timeoutMs: 20_000,
    });
    expect(uncommitted.length).toBeGreaterThan(committed.length);

    const dead = await readTopic(kafka, t.dlq, { readCommitted: true, enough: (m) => m.length >= poison.length });
    expect(dead).toHaveLength(poison.length);
    const letters = dead.map((m) => deadLetterSchema.parse(JSON.parse(m.value?.toString() ?? '')));
    for (const [i, m] of dead.entries()) expectDeadLetterHeaders(m.headers, letters[i]!);
    expect(letters.map((l) => l.errorCode).sort()).toEqual(['invalid_envelope', 'invalid_json', 'mapping_error']);
    for (const l of letters) {
      expect(l.stage).toBe('normalize');
      expect(l.origin?.topic).toBe(t.raw);
    }
  }, 150_000);
});
