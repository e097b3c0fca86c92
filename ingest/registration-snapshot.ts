import { createHash } from 'node:crypto';
import { z } from 'zod';
import { bucketKey, type Checkpoint, type CheckpointMessage } from './checkpoint-store.ts';
import { graphPages } from './graph-poller.ts';
import type { RequestTarget } from './microsoft-http.ts';
import { commitPage, emptyReport, type CycleReport, type Poller, type PollerContext } from './poller.ts';
import type { ReadyRecord, RefusedRecord } from './source-progress.ts';
import { guardRecord } from './tenant-guard.ts';

/**
 * MFA/SSPR registration report (`/reports/authenticationMethods/userRegistrationDetails`) as a periodic snapshot
 * turned into change events: a method registered or removed, a capability changed. The first snapshot is the
 * baseline and emits nothing. Change events carry before/after and a deterministic id (tenant, user, change,
 * snapshot generation, before/after fingerprints), so a snapshot retried after a crash publishes the same ids and
 * the record-id ledger drops the repeats. Record shape: README.md § Ingest.
 */

export const TRACKED_CAPABILITIES = [
  'isAdmin',
  'isMfaRegistered',
  'isMfaCapable',
  'isSsprRegistered',
  'isSsprEnabled',
  'isSsprCapable',
  'isPasswordlessCapable',
  'isSystemPreferredAuthenticationMethodEnabled',
  'userPreferredMethodForSecondaryAuthentication',
  'systemPreferredAuthenticationMethods',
] as const;

export interface RegistrationState {
  userPrincipalName: string | null;
  userDisplayName: string | null;
  methodsRegistered: string[];
  capabilities: Record<string, unknown>;
  lastUpdatedDateTime: string | null;
}

const bucketSchema = z.object({ v: z.literal(1), users: z.record(z.string(), z.unknown()) });

export function stateOf(record: Record<string, unknown>): RegistrationState {
  const methods = Array.isArray(record.methodsRegistered) ? record.methodsRegistered.filter((m): m is string => typeof m === 'string') : [];
  const capabilities: Record<string, unknown> = {};
  for (const c of TRACKED_CAPABILITIES) {
    const v = record[c];
    if (v === undefined) continue;
    capabilities[c] = Array.isArray(v) ? [...v].map(String).sort() : v;
  }
  return {
    userPrincipalName: typeof record.userPrincipalName === 'string' ? record.userPrincipalName : null,
    userDisplayName: typeof record.userDisplayName === 'string' ? record.userDisplayName : null,
    methodsRegistered: [...new Set(methods)].sort(),
    capabilities,
    lastUpdatedDateTime: typeof record.lastUpdatedDateTime === 'string' ? record.lastUpdatedDateTime : null,
  };
}

const fingerprint = (s: RegistrationState | null): string =>
  s === null ? 'none' : JSON.stringify([s.methodsRegistered, TRACKED_CAPABILITIES.map((c) => s.capabilities[c] ?? null)]);

export type RegistrationChange = Record<string, unknown> & { id: string; changeType: 'methodRegistered' | 'methodRemoved' | 'capabilityChanged' };

/** The change events between two states of one user. Pure. */
export function diffRegistration(input: {
  tenantId: string;
  userId: string;
  before: RegistrationState | null;
  after: RegistrationState;
  generation: number;
  detectedMs: number;
  previousSnapshotMs: number | null;
}): RegistrationChange[] {
  const { before, after } = input;
  if (before !== null && fingerprint(before) === fingerprint(after)) return [];
  const fb = fingerprint(before);
  const fa = fingerprint(after);
  const idOf = (kind: string, detail: string) =>
    createHash('sha256').update([input.tenantId.toLowerCase(), input.userId, kind, detail, input.generation, fb, fa].join('\u0000')).digest('hex').slice(0, 32);
  const common = {
    userId: input.userId,
    userPrincipalName: after.userPrincipalName,
    userDisplayName: after.userDisplayName,
    before,
    after,
    detectedDateTime: new Date(input.detectedMs).toISOString(),
    previousSnapshotDateTime: input.previousSnapshotMs !== null ? new Date(input.previousSnapshotMs).toISOString() : null,
    lastUpdatedDateTime: after.lastUpdatedDateTime,
    snapshotGeneration: input.generation,
  };
  const out: RegistrationChange[] = [];
  const was = new Set(before?.methodsRegistered ?? []);
  const now = new Set(after.methodsRegistered);
  for (const m of after.methodsRegistered) if (!was.has(m)) out.push({ id: idOf('methodRegistered', m), changeType: 'methodRegistered', method: m, ...common });
  for (const m of before?.methodsRegistered ?? [])
    if (!now.has(m)) out.push({ id: idOf('methodRemoved', m), changeType: 'methodRemoved', method: m, ...common });
  for (const c of TRACKED_CAPABILITIES) {
    const oldValue = before?.capabilities[c] ?? null;
    const newValue = after.capabilities[c] ?? null;
    if (JSON.stringify(oldValue) === JSON.stringify(newValue)) continue;
    if (before === null && (newValue === false || newValue === null || (Array.isArray(newValue) && newValue.length === 0))) continue;
    out.push({ id: idOf('capabilityChanged', c), changeType: 'capabilityChanged', capability: c, oldValue, newValue, ...common });
  }
  return out;
}

const bucketOf = (userId: string, buckets: number): number => createHash('sha1').update(userId).digest().readUInt32BE(0) % buckets;

/** The last complete snapshot of one organization: raw buckets as restored, parsed lazily; outlives a poller. */
export interface RegistrationMemory {
  buckets: Map<number, Buffer>;
  state: Map<string, RegistrationState> | null;
}

export class RegistrationSnapshotPoller implements Poller {
  private readonly target: RequestTarget;

  constructor(
    private readonly ctx: PollerContext,
    private readonly memory: RegistrationMemory,
  ) {
    this.target = { tenantId: ctx.tenantId, cloud: ctx.profile.cloud, resource: 'graph', base: ctx.profile.graphHost, budget: 'graph-report' };
  }

  private loadState(): Map<string, RegistrationState> {
    if (this.memory.state) return this.memory.state;
    const state = new Map<string, RegistrationState>();
    const live = this.ctx.progress.checkpoint.snapshot?.buckets ?? 0;
    for (const [b, value] of this.memory.buckets) {
      if (b >= live) continue;
      try {
        const parsed = bucketSchema.safeParse(JSON.parse(value.toString()));
        if (parsed.success) for (const [id, s] of Object.entries(parsed.data.users)) state.set(id, s as RegistrationState);
      } catch {
        this.ctx.logger.warn({ orgId: this.ctx.orgId }, 'registration snapshot bucket is not JSON; users in it count as new');
      }
    }
    this.memory.buckets.clear();
    this.memory.state = state;
    return state;
  }

  async runCycle(signal: AbortSignal): Promise<CycleReport> {
    const report = emptyReport();
    const cp = this.ctx.progress.checkpoint;
    const now = this.ctx.now();
    const interval = this.ctx.settings.registrationIntervalMs;
    const last = cp.snapshot?.atMs ?? null;
    if (last !== null && now - last < interval) return { ...report, nextRunInMs: interval - (now - last) };
    const previous = this.loadState();
    const baseline = cp.snapshot === null || cp.snapshot.atMs === null;
    const generation = (cp.snapshot?.generation ?? 0) + 1;
    const next = new Map<string, RegistrationState>();
    const firstUrl = `${this.ctx.profile.graphHost}/v1.0/reports/authenticationMethods/userRegistrationDetails`;
    for await (const page of graphPages(this.ctx, this.target, firstUrl, signal)) {
      const records: ReadyRecord[] = [];
      const refused: RefusedRecord[] = [];
      for (const rec of page) {
        const verdict = guardRecord(rec, this.ctx.tenantId, 'graph');
        if (verdict.kind !== 'ok') {
          if (verdict.kind === 'tenant_mismatch') {
            report.tenantMismatches++;
            this.ctx.metrics.tenantMismatch.inc({ source: this.ctx.source });
          }
          refused.push({
            errorCode: verdict.kind === 'tenant_mismatch' ? 'tenant_mismatch' : 'malformed_record',
            errorMessage: verdict.kind === 'tenant_mismatch' ? `record names tenant ${verdict.foundTenantId}` : verdict.reason,
            input: rec,
          });
          continue;
        }
        const r = rec as Record<string, unknown>;
        if (typeof r.id !== 'string' || r.id === '') {
          refused.push({ errorCode: 'malformed_record', errorMessage: 'registration record without id', input: rec });
          continue;
        }
        const after = stateOf(r);
        next.set(r.id, after);
        if (baseline) continue;
        for (const change of diffRegistration({
          tenantId: this.ctx.tenantId,
          userId: r.id,
          before: previous.get(r.id) ?? null,
          after,
          generation,
          detectedMs: now,
          previousSnapshotMs: last,
        })) {
          records.push({ dedupKey: `reg:${change.id}`, record: change, eventMs: now });
        }
      }
      await commitPage(this.ctx, report, records, refused);
    }
    // The snapshot is complete: store it (only buckets that changed) and move the generation.
    const buckets = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, next.size / 2_000))));
    const oldBuckets = cp.snapshot?.buckets ?? 0;
    const contents = Array.from({ length: buckets }, () => ({}) as Record<string, RegistrationState>);
    const changed = new Set<number>();
    for (const [id, s] of next) {
      const b = bucketOf(id, buckets);
      (contents[b] as Record<string, RegistrationState>)[id] = s;
      const before = previous.get(id);
      if (buckets !== oldBuckets || !before || fingerprint(before) !== fingerprint(s) || before.userPrincipalName !== s.userPrincipalName) changed.add(b);
    }
    for (const id of previous.keys()) if (!next.has(id)) changed.add(bucketOf(id, buckets));
    const extra: CheckpointMessage[] = [...changed].map((b) => ({
      key: bucketKey(this.ctx.orgId, this.ctx.source, b),
      value: JSON.stringify({ v: 1, users: contents[b] }),
    }));
    for (let b = buckets; b < oldBuckets; b++) extra.push({ key: bucketKey(this.ctx.orgId, this.ctx.source, b), value: null });
    await this.ctx.progress.commit({
      extra,
      cursorMs: now,
      success: true,
      mutate: (c: Checkpoint) => ({ ...c, snapshot: { generation, atMs: now, buckets } }),
    });
    this.memory.state = next;
    this.ctx.logger.debug({ orgId: this.ctx.orgId, users: next.size, changes: report.published, baseline }, 'registration snapshot done');
    return { ...report, nextRunInMs: interval, oldestPendingMs: null };
  }
}
