import { randomUUID } from 'node:crypto';
import { Rng } from './deterministic.ts';

/** Injected faults: per target service, optionally per tenant, bounded by a duration and/or a count. */

export type FaultTarget = 'token' | 'management' | 'graph';
export type FaultKind = 'throttle' | 'server-error' | 'slow' | 'malformed' | 'truncated' | 'aadsts';

export interface FaultSpec {
  tenantId?: string;
  target: FaultTarget;
  kind: FaultKind;
  rate?: number;
  durationMs?: number;
  count?: number;
  /** For `slow`: added latency per affected response (default 2000 ms). */
  delayMs?: number;
  /** For `aadsts` on the token endpoint: the documented refusal to answer (700027, 7000112, 53003, …). */
  aadsts?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  createdAtMs: number;
  expiresAtMs: number | null;
  remaining: number | null;
  applied: number;
}

export class FaultRegistry {
  private readonly faults = new Map<string, Fault>();
  private counter = 0;

  constructor(
    private readonly seed: string,
    private readonly now: () => number,
  ) {}

  add(spec: FaultSpec): Fault {
    const now = this.now();
    const fault: Fault = {
      ...spec,
      id: randomUUID(),
      createdAtMs: now,
      expiresAtMs: spec.durationMs !== undefined ? now + spec.durationMs : null,
      remaining: spec.count ?? null,
      applied: 0,
    };
    this.faults.set(fault.id, fault);
    return fault;
  }

  remove(id: string): boolean {
    return this.faults.delete(id);
  }

  list(): Fault[] {
    this.expire();
    return [...this.faults.values()];
  }

  private expire(): void {
    const now = this.now();
    for (const [id, f] of this.faults) {
      if ((f.expiresAtMs !== null && now >= f.expiresAtMs) || (f.remaining !== null && f.remaining <= 0)) this.faults.delete(id);
    }
  }

  /** The fault to apply to this request, if any; consumes one unit of its count. */
  take(target: FaultTarget, tenantId: string | undefined): Fault | undefined {
    if (this.faults.size === 0) return undefined;
    this.expire();
    for (const f of this.faults.values()) {
      if (f.target !== target) continue;
      if (f.tenantId !== undefined && f.tenantId.toLowerCase() !== tenantId?.toLowerCase()) continue;
      const rate = f.rate ?? 1;
      if (rate < 1 && !new Rng(`${this.seed}|fault|${f.id}|${this.counter++}`).chance(rate)) continue;
      if (f.remaining !== null) f.remaining--;
      f.applied++;
      return f;
    }
    return undefined;
  }
}
