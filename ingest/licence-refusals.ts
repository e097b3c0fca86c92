import type { SourceName } from '../runtime/index.ts';

/**
 * Every form in which Microsoft says "this tenant lacks the licence" (docs/decisions/0132). Any of them makes a
 * licence-gated source `unavailable_licence` and leaves the connection Active; none of them is a permission problem.
 * Matched on code or message, because the same refusal comes under different codes (a permission-looking code
 * included) and the same code with different wordings. `basis` says how each is known: doc = Microsoft's pages,
 * reported = issue threads / peers, inferred = a wording family we have not seen documented.
 */
export interface LicenceRefusal {
  id: string;
  /** HTTP statuses it comes with. */
  statuses: readonly number[];
  code?: string;
  message?: RegExp;
  apis: string;
  basis: 'doc' | 'reported' | 'inferred';
  reference: string;
}

export const LICENCE_REFUSALS: readonly LicenceRefusal[] = [
  {
    id: 'premium-check',
    statuses: [403],
    code: 'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
    apis: 'auditLogs/signIns (v1.0 and beta, every type), reports/authenticationMethods/*, users?$select=signInActivity',
    basis: 'doc',
    reference:
      'Graph known issues "License check errors for Azure AD activity reports"; message "Neither tenant is B2C or tenant doesn\'t have premium license" (reference/microsoft-apis.md §2.4)',
  },
  {
    id: 'premium-licence-wording',
    statuses: [403],
    message: /(doesn't|does not) have (a )?premium licen[cs]e/i,
    apis: 'the same reports, when the code is lost or re-wrapped ("Tenant is not a B2C tenant and doesn\'t have premium license")',
    basis: 'reported',
    reference: 'microsoft-graph-docs-contrib issues #3033, #3808 (reference/microsoft-apis.md §2.4)',
  },
  {
    id: 'not-licensed-for-feature',
    statuses: [403],
    message: /not licensed for this feature/i,
    apis: 'identityProtection/riskyUsers (needs P2), identityProtection/riskDetections (needs P1 or P2)',
    basis: 'reported',
    reference: 'peers\' reports of "Your tenant is not licensed for this feature." on tenants without Entra ID P2 (issue 18)',
  },
  {
    id: 'no-valid-licence',
    statuses: [403, 400],
    message:
      /(doesn't|does not|do not) have (a |the )?(valid|required) licen[cs]e|licen[cs]e (is )?required|requires? (an? )?(Microsoft Entra ID|Azure AD|Azure Active Directory) (Premium )?P[12]/i,
    apis: 'any licence-gated Graph resource answering in this wording, under whatever code (Authorization_RequestDenied seen)',
    basis: 'inferred',
    reference: 'the wording family of the refusals above; kept so a reworded refusal is not read as a missing permission',
  },
];

/** The refusal a Microsoft answer is, or null when it is no licence refusal. */
export function licenceRefusalOf(status: number, code: string, message: string): LicenceRefusal | null {
  return (
    LICENCE_REFUSALS.find(
      (r) =>
        r.statuses.includes(status) &&
        (r.code === undefined || r.code === code) &&
        (r.message === undefined || r.message.test(message)) &&
        (r.code !== undefined || r.message !== undefined),
    ) ?? null
  );
}

/** The licence a source needs, shown with `unavailable_licence` (Microsoft's licence requirements per API). */
export const LICENCE_REQUIRED: Partial<Record<SourceName, string>> = {
  'graph:signIns': 'Microsoft Entra ID P1 or P2',
  'graph:nonInteractiveSignIns': 'Microsoft Entra ID P1 or P2',
  'graph:servicePrincipalSignIns': 'Microsoft Entra ID P1 or P2',
  'graph:managedIdentitySignIns': 'Microsoft Entra ID P1 or P2',
  'graph:userRegistrationDetails': 'Microsoft Entra ID P1 or P2',
  'graph:riskDetections': 'Microsoft Entra ID P1 or P2 (P2 for full detail)',
  'graph:riskyUsers': 'Microsoft Entra ID P2',
  'graph:servicePrincipalRiskDetections': 'Microsoft Entra Workload ID Premium',
  'graph:provisioning': 'Microsoft Entra ID P1 or P2',
};
