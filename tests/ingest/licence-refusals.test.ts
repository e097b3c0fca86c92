import { describe, expect, it } from 'vitest';
import { classifyResponse } from '../../ingest/microsoft-http.ts';
import { LICENCE_REFUSALS, licenceRefusalOf } from '../../ingest/licence-refusals.ts';

const graph = (code: string, message: string) => JSON.stringify({ error: { code, message, innerError: { date: '2026-11-20T10:00:00', 'request-id': 'r' } } });

/** One answer per row of the table, as Microsoft (or a peer) showed it. */
const SHAPES: Record<string, [number, string]> = {
  'premium-check': [403, graph('Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Neither tenant is B2C or tenant doesn't have premium license")],
  'premium-licence-wording': [403, graph('', "Tenant is not a B2C tenant and doesn't have premium license")],
  'not-licensed-for-feature': [403, graph('Forbidden', 'Your tenant is not licensed for this feature.')],
  'no-valid-licence': [403, graph('Authorization_RequestDenied', 'Tenant does not have a valid license for this feature.')],
};

describe('licence refusals', () => {
  it('has an example answer for every row of the table, and every example is its row', () => {
    expect(Object.keys(SHAPES).sort()).toEqual(LICENCE_REFUSALS.map((r) => r.id).sort());
    for (const [id, [status, body]] of Object.entries(SHAPES)) {
      const { error } = JSON.parse(body) as { error: { code: string; message: string } };
      expect(licenceRefusalOf(status, error.code, error.message)?.id, id).toBe(id);
    }
  });

  it.each(Object.entries(SHAPES))('%s is licence_missing, not retriable and never permission_missing', (_id, [status, body]) => {
    const f = classifyResponse(status, body, null);
    expect(f.reason).toBe('licence_missing');
    expect(f.retriable).toBe(false);
  });

  it('a plain permission refusal stays a permission refusal', () => {
    expect(classifyResponse(403, graph('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'), null).reason).toBe(
      'permission_missing',
    );
    expect(
      classifyResponse(403, graph('AccessDenied', 'You cannot perform the requested operation, required scopes are missing in the token.'), null).reason,
    ).toBe('permission_missing');
  });

  it('the premium-check code counts whatever its message says', () => {
    expect(classifyResponse(403, graph('Authentication_RequestFromNonPremiumTenantOrB2CTenant', ''), null).reason).toBe('licence_missing');
  });
});
