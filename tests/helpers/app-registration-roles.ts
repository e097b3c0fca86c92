/**
 * Application roles an app registration of an older release declared, for tests of permission upgrades: the roles
 * permission manifest version 1 needs, and the roles that let the control plane upgrade a connection itself.
 */
export const V1_MANIFEST_ROLES = [
  'ActivityFeed.Read',
  'ActivityFeed.ReadDlp',
  'AuditLog.Read.All',
  'Directory.Read.All',
  'IdentityRiskyUser.Read.All',
  'IdentityRiskEvent.Read.All',
];
export const UPGRADE_ROLES = ['AppRoleAssignment.ReadWrite.All', 'Application.Read.All'];
/** Roles permission manifest version 3 adds (Defender XDR alerts and incidents). */
export const V3_NEW_ROLES = ['SecurityAlert.Read.All', 'SecurityIncident.Read.All'];
