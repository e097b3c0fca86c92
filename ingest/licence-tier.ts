import { z } from 'zod';
import { isSignInSource, type Logger, type SourceName } from '../runtime/index.ts';
import type { LicenceTier } from './data-loss.ts';
import type { MicrosoftHttp, RequestTarget } from './microsoft-http.ts';

/**
 * The Entra ID licence tier of one organization's tenant, which sets the retention clock of its Graph sources
 * (decision 0151). Read from Graph's organization resource (`assignedPlans`, under Directory.Read.All, which every
 * manifest already grants for sign-ins and audit logs), refreshed daily; when that read fails, inferred from what the
 * sign-in sources met: a licence refusal means no P1 (Free), sign-ins served mean P1 at least.
 */

/** Service plan ids of "Product names and service plan identifiers for licensing": AAD_PREMIUM and AAD_PREMIUM_P2. */
export const ENTRA_P1_PLAN = '41781fb2-bc02-4b7c-bd55-b576c07bb09d';
export const ENTRA_P2_PLAN = 'eec0eb4f-6444-4f95-aba0-50c24d67f998';

const REFRESH_MS = 24 * 3_600_000;
const RETRY_MS = 15 * 60_000;

const organizationSchema = z.looseObject({
  value: z
    .array(
      z.looseObject({ assignedPlans: z.array(z.looseObject({ servicePlanId: z.string().optional(), capabilityStatus: z.string().optional() })).default([]) }),
    )
    .default([]),
});

/** The tier an organization's assigned plans give (an Enabled or Warning plan counts: Microsoft still serves it). */
export function tierOfPlans(plans: ReadonlyArray<{ servicePlanId?: string | undefined; capabilityStatus?: string | undefined }>): LicenceTier {
  const active = new Set(plans.filter((p) => /^(enabled|warning)$/i.test(p.capabilityStatus ?? '')).map((p) => (p.servicePlanId ?? '').toLowerCase()));
  if (active.has(ENTRA_P2_PLAN)) return 'p2';
  if (active.has(ENTRA_P1_PLAN)) return 'p1';
  return 'free';
}

export class TenantLicence {
  private read: { tier: LicenceTier; atMs: number } | null = null;
  private failedAtMs: number | null = null;
  private inferred: LicenceTier | null = null;
  private pending: Promise<void> | null = null;

  constructor(
    private readonly http: MicrosoftHttp,
    private readonly target: RequestTarget,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly orgId: string,
  ) {}

  /** What is known now, without asking Microsoft (status of a failing source). */
  known(): LicenceTier | null {
    return this.read?.tier ?? this.inferred;
  }

  /** The tier, read from Microsoft when not read within a day (a failed read is retried after 15 minutes). */
  async tier(signal: AbortSignal): Promise<LicenceTier | null> {
    const now = this.now();
    const fresh = this.read !== null && now - this.read.atMs < REFRESH_MS;
    const waiting = this.failedAtMs !== null && now - this.failedAtMs < RETRY_MS;
    if (!fresh && !waiting) {
      this.pending ??= this.fetch(signal).finally(() => {
        this.pending = null;
      });
      await this.pending;
    }
    return this.known();
  }

  private async fetch(signal: AbortSignal): Promise<void> {
    try {
      const res = await this.http.json(this.target, `${this.target.base}/v1.0/organization?$select=assignedPlans`, organizationSchema, {
        api: 'graph',
        signal,
      });
      const tier = tierOfPlans(res.body.value.flatMap((o) => o.assignedPlans));
      if (this.read?.tier !== tier) this.logger.info({ orgId: this.orgId, tier }, 'Entra ID licence tier read');
      this.read = { tier, atMs: this.now() };
      this.failedAtMs = null;
    } catch (error) {
      this.failedAtMs = this.now();
      this.logger.warn({ orgId: this.orgId, err: error }, 'Entra ID licence tier could not be read; inferred from the sign-in sources');
    }
  }

  /** A source's outcome, for the inference: sign-ins refused for licence → Free; sign-ins served → P1 at least. */
  learn(source: SourceName, outcome: 'served' | 'licence_refused'): void {
    if (!isSignInSource(source)) return;
    if (outcome === 'licence_refused') this.inferred = 'free';
    else if (this.inferred === null || this.inferred === 'free') this.inferred = 'p1';
  }
}
