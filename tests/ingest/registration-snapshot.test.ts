import { describe, expect, it } from 'vitest';
import { diffRegistration, stateOf } from '../../ingest/registration-snapshot.ts';

const T = 'f28ab78a-d401-4060-8012-736e373933eb';
const base = {
  id: 'u1',
  userPrincipalName: 'a@contoso.com',
  userDisplayName: 'A',
  isMfaRegistered: false,
  isMfaCapable: false,
  isSsprRegistered: false,
  methodsRegistered: ['password'],
  lastUpdatedDateTime: '2026-11-26T00:00:00Z',
};

describe('registration change events', () => {
  it('emit method registered/removed and capability changes with before/after', () => {
    const before = stateOf(base);
    const after = stateOf({ ...base, isMfaRegistered: true, isMfaCapable: true, methodsRegistered: ['microsoftAuthenticatorPush', 'mobilePhone'] });
    const changes = diffRegistration({ tenantId: T, userId: 'u1', before, after, generation: 3, detectedMs: 1_000, previousSnapshotMs: 500 });
    const summary = changes.map((c) => `${c.changeType}:${String(c.method ?? c.capability)}`).sort();
    expect(summary).toEqual([
      'capabilityChanged:isMfaCapable',
      'capabilityChanged:isMfaRegistered',
      'methodRegistered:microsoftAuthenticatorPush',
      'methodRegistered:mobilePhone',
      'methodRemoved:password',
    ]);
    const mfa = changes.find((c) => c.capability === 'isMfaRegistered');
    expect(mfa).toMatchObject({ oldValue: false, newValue: true, userPrincipalName: 'a@contoso.com', before, after, snapshotGeneration: 3 });
    expect(new Set(changes.map((c) => c.id)).size).toBe(changes.length);
  });

  it('are deterministic for a retried snapshot and empty when nothing changed (method order ignored)', () => {
    const before = stateOf(base);
    const after = stateOf({ ...base, methodsRegistered: ['email', 'password'] });
    const input = { tenantId: T, userId: 'u1', before, after, generation: 2, detectedMs: 1, previousSnapshotMs: 0 };
    expect(diffRegistration(input).map((c) => c.id)).toEqual(diffRegistration({ ...input, detectedMs: 999 }).map((c) => c.id));
    expect(diffRegistration({ ...input, generation: 3 })[0]?.id).not.toBe(diffRegistration(input)[0]?.id);
    expect(diffRegistration({ ...input, after: stateOf({ ...base, methodsRegistered: ['password'] }) })).toEqual([]);
  });

  it('treat a user new since the last snapshot as registering its methods, without false capability noise', () => {
    const changes = diffRegistration({
      tenantId: T,
      userId: 'u2',
      before: null,
      after: stateOf({ ...base, isSsprRegistered: true }),
      generation: 1,
      detectedMs: 1,
      previousSnapshotMs: 0,
    });
    expect(changes.map((c) => `${c.changeType}:${String(c.method ?? c.capability)}`).sort()).toEqual([
      'capabilityChanged:isSsprRegistered',
      'methodRegistered:password',
    ]);
  });
});
