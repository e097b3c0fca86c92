import { GraphError } from './graph-errors.ts';

/**
 * How Graph refuses a tenant without the licence a resource needs, in each form documented or reported, so tests can
 * run the pollers against every one (per tenant, `licenceRefusal`). `documented` answers as Microsoft's pages and
 * reports describe for each API: the reports' premium check (Graph known issues, "License check errors for Azure AD
 * activity reports"; troubleshooting text "Neither tenant is B2C or tenant doesn't have premium license"), and for
 * identity protection the 403 "Your tenant is not licensed for this feature." peers report.
 */
export const LICENCE_REFUSAL_SHAPES = ['documented', 'premium-check', 'premium-check-new-wording', 'not-licensed-for-feature', 'no-valid-licence'] as const;
export type LicenceRefusalShape = (typeof LICENCE_REFUSAL_SHAPES)[number];

export type LicenceGate = 'reports' | 'identityProtection';

const SHAPES: Record<Exclude<LicenceRefusalShape, 'documented'>, () => GraphError> = {
  'premium-check': () =>
    new GraphError(403, 'Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Neither tenant is B2C or tenant doesn't have premium license"),
  // The newer wording of the same check.
  'premium-check-new-wording': () =>
    new GraphError(403, 'Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Tenant is not a B2C tenant and doesn't have premium license"),
  'not-licensed-for-feature': () => new GraphError(403, 'Forbidden', 'Your tenant is not licensed for this feature.'),
  // A licence refusal under a permission-looking code: only the message tells it apart.
  'no-valid-licence': () => new GraphError(403, 'Authorization_RequestDenied', 'Tenant does not have a valid license for this feature.'),
};

export function licenceRefusal(shape: LicenceRefusalShape, gate: LicenceGate): GraphError {
  if (shape !== 'documented') return SHAPES[shape]();
  return gate === 'reports' ? SHAPES['premium-check']() : SHAPES['not-licensed-for-feature']();
}
