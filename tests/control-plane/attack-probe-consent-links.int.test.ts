import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsentStateSigner } from '../../control-plane/consent-state.ts';
import { startHarness, STATE_SECRET, type Harness } from './helpers/harness.ts';

/**
 * The consent-link half of the attack probe (attack-probe.int.test.ts has the rest), against the real control plane
 * on real Kafka and the simulator's Entra: a replayed, an expired and a forged consent link — the anonymous write
 * amplifier of issue 13 (6 history entries and 6 rewrites of the organization for 1 decline + 5 replays) — must
 * write nothing: no history entry, no record on m365.tenants, none on the history topic. The callback side of this
 * is helper h13a's work (one counter, nothing written).
 */
describe('attack probe: consent links', () => {
  let h: Harness;
  let other: string;
  beforeAll(async () => {
    h = await startHarness();
    other = await h.createOrg('Probe other customer');
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Messages on a topic so far (sum of end offsets): a write of any kind moves it. */
  async function topicEnd(topic: string): Promise<bigint> {
    const admin = h.kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + BigInt(p.high), 0n);
    } finally {
      await admin.disconnect();
    }
  }
  const historyOf = async (orgId: string) => (await h.api('GET', `/organizations/${orgId}/history`)).body.items as Array<{ action: string }>;

  it('a replayed, an expired and a forged link write no history entry and no m365.tenants record', async () => {
    const tenant = await h.tenant();
    const orgId = await h.createOrg('Probe consent');
    const started = await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage`, {
      autoUpgrade: false,
      cloud: 'commercial',
      tenant: tenant.tenantId,
    });
    expect(started.status).toBe(201);
    const declined = await h.consent(started.body.consentUrl, tenant.adminAccount, 'cancel');
    expect(declined.stage).toBe('callback');
    const replayable = declined.callbackUrl!;
    const expired = new ConsentStateSigner(STATE_SECRET, () => Date.now() - 11 * 60 * 1000).sign(orgId, 'connect').state;
    const [body, mac] = new ConsentStateSigner(STATE_SECRET).sign(orgId, 'connect').state.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
    const forged = `${Buffer.from(JSON.stringify({ ...payload, org: other })).toString('base64url')}.${mac}`;
    const callback = (query: string) => `${h.cp.url}/oauth/microsoft/callback?${query}`;
    const links = [
      ...Array.from({ length: 5 }, () => replayable),
      callback(`admin_consent=True&tenant=${tenant.tenantId}&state=${encodeURIComponent(expired)}`),
      callback(`admin_consent=True&tenant=${tenant.tenantId}&state=${encodeURIComponent(forged)}`),
      callback(`admin_consent=True&tenant=${tenant.tenantId}&state=not-a-state`),
      callback(`admin_consent=True&tenant=${tenant.tenantId}`),
    ];
    const historyBefore = [(await historyOf(orgId)).length, (await historyOf(other)).length];
    const tenantsBefore = await topicEnd(h.topics.tenants);
    const historyTopicBefore = await topicEnd(`${h.topics.tenants}.history`);
    for (const link of links) {
      const res = await fetch(link);
      expect(res.status, link).toBeGreaterThanOrEqual(400);
      expect(res.status, link).toBeLessThan(500);
    }
    expect([(await historyOf(orgId)).length, (await historyOf(other)).length]).toEqual(historyBefore);
    expect(await topicEnd(h.topics.tenants)).toBe(tenantsBefore);
    expect(await topicEnd(`${h.topics.tenants}.history`)).toBe(historyTopicBefore);
  });
});
