/**
 * Consent propagation (docs/decisions/0101). Entra ID replicates a fresh consent over seconds to minutes and gives no
 * SLA: right after consent the token service may not know the service principal yet (AADSTS700016 and friends) or
 * issue tokens without roles. Verification is therefore retried with backoff for a window of 15 minutes after the
 * consent; only after it does a failure count as the connection's status.
 */
import { PROPAGATION_WINDOW_MINUTES } from './messages.ts';

export const PROPAGATION_WINDOW_MS = PROPAGATION_WINDOW_MINUTES * 60_000;
/** Waits between attempts: quick at first (most consents propagate in seconds), then every 30 s. */
const STEPS_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000] as const;

/** Reasons that right after a consent mean "not propagated yet", not "refused". */
const PROPAGATION_SYMPTOMS = new Set(['consent_revoked']);

/** The wait before attempt `attempt` (0-based) of a consent given at `consentAtMs`, or null once the window is over. */
export function nextPropagationCheck(consentAtMs: number, nowMs: number, attempt: number): number | null {
  const end = consentAtMs + PROPAGATION_WINDOW_MS;
  if (nowMs >= end) return null;
  const step = STEPS_MS[Math.min(attempt, STEPS_MS.length - 1)] ?? 30_000;
  return Math.max(0, Math.min(step, end - nowMs));
}

export function withinPropagationWindow(consentAt: string | null | undefined, nowMs: number): boolean {
  if (!consentAt) return false;
  const at = Date.parse(consentAt);
  return Number.isFinite(at) && nowMs < at + PROPAGATION_WINDOW_MS;
}

/** A verification result that, inside the window, means the consent has not reached the token service yet. */
export function isPropagationSymptom(result: { ok: true; roles: readonly string[] } | { ok: false; reason: string }): boolean {
  return result.ok ? result.roles.length === 0 : PROPAGATION_SYMPTOMS.has(result.reason);
}

export type PropagationStep = 'propagating' | 'settled';

/**
 * Retries `attempt` until it settles or the window ends. The clock and the sleep are injected so the 15-minute
 * logic is tested with a controllable clock; `attempt` answers `settled` for success or a real refusal.
 */
export async function retryUntilPropagated(options: {
  consentAtMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  attempt: () => Promise<PropagationStep>;
  stopped?: () => boolean;
}): Promise<{ settled: boolean; attempts: number }> {
  let attempts = 0;
  for (;;) {
    const wait = nextPropagationCheck(options.consentAtMs, options.now(), attempts);
    if (wait === null || options.stopped?.()) return { settled: false, attempts };
    await options.sleep(wait);
    if (options.stopped?.()) return { settled: false, attempts };
    attempts++;
    if ((await options.attempt()) === 'settled') return { settled: true, attempts };
  }
}
