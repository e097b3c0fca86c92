import { GraphError } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimFixture } from './fixtures/simulator-fixture.ts';
import { rejectionOf, startFixture } from './fixtures/simulator-fixture.ts';

/** Licence gates (P1 reports, P2 risky users) in every refusal form, and Entra's retention by licence. */
let f: SimFixture;
beforeAll(async () => {
  f = await startFixture('licence-retention');
});
afterAll(async () => {
  await f.close();
});

const DAY = 24 * 3_600_000;

describe('licences', () => {
  it.each([
    ['documented', 403, 'Authentication_RequestFromNonPremiumTenantOrB2CTenant', /premium license/],
    ['premium-check-new-wording', 403, 'Authentication_RequestFromNonPremiumTenantOrB2CTenant', /Tenant is not a B2C tenant/],
    ['not-licensed-for-feature', 403, 'Forbidden', /not licensed for this feature/],
    ['no-valid-licence', 403, 'Authorization_RequestDenied', /valid license/],
  ] as const)('a Free tenant answering %s refuses sign-ins in that form and still serves directory audits', async (shape, status, code, message) => {
    const t = await f.tenant({ licences: { entraP1: false, entraP2: false }, licenceRefusal: shape });
    const client = f.graphClient(t.tenantId);
    const e = await rejectionOf(client.api('/auditLogs/signIns').version('beta').filter("signInEventTypes/any(t: t eq 'servicePrincipal')").get(), GraphError);
    expect([e.statusCode, e.code]).toEqual([status, code]);
    expect(e.message).toMatch(message);
    await expect(client.api('/auditLogs/directoryAudits').get()).resolves.toBeDefined();
  });

  it('a P1 tenant gets sign-ins and risk detections, and is refused risky users (P2 only), in the identity-protection form', async () => {
    const t = await f.tenant({ licences: { entraP1: true, entraP2: false } });
    const client = f.graphClient(t.tenantId);
    await expect(client.api('/auditLogs/signIns').get()).resolves.toBeDefined();
    await expect(client.api('/identityProtection/riskDetections').get()).resolves.toBeDefined();
    const e = await rejectionOf(client.api('/identityProtection/riskyUsers').get(), GraphError);
    expect([e.statusCode, e.message]).toEqual([403, 'Your tenant is not licensed for this feature.']);
  });
});

describe('retention', () => {
  it('serves directory audits 7 days back on a Free tenant and 30 on P1, and the ledger counts the rest as expired', async () => {
    for (const [licences, days] of [
      [{ entraP1: false, entraP2: false }, 7],
      [{ entraP1: true, entraP2: false }, 30],
    ] as const) {
      const t = await f.tenant({ licences, graphThrottling: false });
      await f.control.addRecords(t.tenantId, 'graph:directoryAudits', 40, { eventsSpanMs: 6 * DAY });
      await f.control.advanceClock(3 * DAY);
      const value = ((await f.graphClient(t.tenantId).api('/auditLogs/directoryAudits').get()) as { value: Array<{ activityDateTime: string }> }).value;
      const ledger = await f.control.ledger(t.tenantId, 'graph:directoryAudits');
      expect(value.length).toBe(ledger.records.length);
      expect(ledger.records.length + ledger.expired).toBe(40);
      if (days === 7) expect(ledger.expired).toBeGreaterThan(0);
      else expect(ledger.expired).toBe(0);
      const now = Date.parse((await f.control.advanceClock(0)).now);
      expect(value.every((r) => Date.parse(r.activityDateTime) >= now - days * DAY)).toBe(true);
    }
  });
});
