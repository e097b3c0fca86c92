import { describe, expect, it } from 'vitest';
import { ConsentStateSigner, CONSENT_STATE_TTL_MS } from '../../control-plane/consent-state.ts';

const SECRET = 'x'.repeat(40);

describe('consent state', () => {
  it('round-trips organization, purpose and a fresh nonce', () => {
    const signer = new ConsentStateSigner(SECRET, () => 1_000);
    const a = signer.sign('org_abc123', 'connect');
    const b = signer.sign('org_abc123', 'connect');
    expect(a.state).not.toBe(b.state);
    const check = signer.verify(a.state);
    expect(check).toEqual({
      ok: true,
      payload: { v: 1, org: 'org_abc123', nonce: a.payload.nonce, exp: 1_000 + CONSENT_STATE_TTL_MS, purpose: 'connect', step: 'signin' },
    });
  });

  it('rejects a state whose organization was altered', () => {
    const signer = new ConsentStateSigner(SECRET);
    const { state } = signer.sign('org_abc123', 'connect');
    const [body, mac] = state.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
    payload.org = 'org_other1';
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    expect(signer.verify(forged)).toEqual({ ok: false, problem: 'bad_signature' });
  });

  it('rejects a state signed with another secret, garbage and a missing state', () => {
    const other = new ConsentStateSigner('y'.repeat(40)).sign('org_abc123', 'repair').state;
    const signer = new ConsentStateSigner(SECRET);
    expect(signer.verify(other)).toMatchObject({ ok: false, problem: 'bad_signature' });
    expect(signer.verify('nonsense')).toMatchObject({ ok: false, problem: 'malformed' });
    expect(signer.verify('a.b.c')).toMatchObject({ ok: false, problem: 'malformed' });
    expect(signer.verify(undefined)).toMatchObject({ ok: false, problem: 'missing' });
  });

  it('expires after ten minutes and still says which organization it named', () => {
    let now = 5_000;
    const signer = new ConsentStateSigner(SECRET, () => now);
    const { state } = signer.sign('org_abc123', 'upgrade');
    now += CONSENT_STATE_TTL_MS - 1;
    expect(signer.verify(state).ok).toBe(true);
    now += 1;
    expect(signer.verify(state)).toMatchObject({ ok: false, problem: 'expired', payload: { org: 'org_abc123' } });
  });

  it('refuses a short secret', () => {
    expect(() => new ConsentStateSigner('short')).toThrow(/32/);
  });
});
