import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASONS } from '../../control-plane/status.ts';
import { startHarness, type Harness } from './helpers/harness.ts';

/** Credential and token-endpoint failures as the verification sees them. */
describe('credentials and token endpoint', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const verify = async (orgId: string) => (await h.api('POST', `/organizations/${orgId}/applications/microsoft-manage/verify`)).body;

  it('reports an invalid client secret (for example the secret id configured instead of its value)', async () => {
    const tenant = await h.tenant();
    const orgId = await h.connectOrg(tenant);
    const good = h.env.M365_CLIENT_SECRET!;
    await h.restart({ M365_CLIENT_SECRET: 'not-the-secret-value' });
    try {
      const view = await verify(orgId);
      expect(view).toMatchObject({ status: 'needs_attention', reason: 'secret_invalid', remedy: REASONS.secret_invalid.remedy });
      expect(view.message).toContain('AADSTS7000215');
      expect(view.message).not.toContain('not-the-secret-value');
    } finally {
      await h.restart({ M365_CLIENT_SECRET: good });
    }
    expect((await verify(orgId)).status).toBe('waiting_for_first_events');
  });

  it('reports a throttled token endpoint for one tenant without touching the others', async () => {
    const throttled = await h.tenant();
    const healthy = await h.tenant();
    const a = await h.connectOrg(throttled);
    const b = await h.connectOrg(healthy);
    const fault = await h.control.injectFault({ tenantId: throttled.tenantId, target: 'token', kind: 'throttle', durationMs: 60_000 });
    try {
      expect(await verify(a)).toMatchObject({ status: 'needs_attention', reason: 'throttled', remedy: REASONS.throttled.remedy });
      expect((await verify(b)).status).toBe('waiting_for_first_events');
    } finally {
      await h.control.clearFault(fault.id);
    }
  });
});
