/**
 * The resource applications the simulated tenants know and the application roles they expose, with the
 * role ids Microsoft's public manifests use (see reference/microsoft-apis.md §1.1, §2.3).
 */

export type Cloud = 'commercial' | 'gcc' | 'gcc-high' | 'dod';
export const CLOUDS: readonly Cloud[] = ['commercial', 'gcc', 'gcc-high', 'dod'];

/**
 * The Entra ID instance a tenant's directory lives in. Microsoft's "National clouds" page: each cloud instance is
 * separate, with its own endpoints, and an application must be registered separately in each; the MSAL national
 * cloud guide puts GCC High and DoD tenants in Entra ID Government (login.microsoftonline.us) and GCC in the global
 * service (login.microsoftonline.com).
 */
export type EntraInstance = 'global' | 'usgov';
export const ENTRA_INSTANCES: readonly EntraInstance[] = ['global', 'usgov'];
export const ENTRA_INSTANCE_OF: Readonly<Record<Cloud, EntraInstance>> = { commercial: 'global', gcc: 'global', 'gcc-high': 'usgov', dod: 'usgov' };

export type ResourceKind = 'management' | 'graph';

export interface AppRole {
  id: string;
  value: string;
  displayName: string;
}

export interface ResourceApp {
  kind: ResourceKind;
  appId: string;
  displayName: string;
  roles: readonly AppRole[];
}

export const MANAGEMENT_RESOURCE: ResourceApp = {
  kind: 'management',
  appId: 'c5393580-f805-4401-95e8-94b7a6ef2fc2',
  displayName: 'Office 365 Management APIs',
  roles: [
    { id: '594c1fb6-4f81-4475-ae41-0c394909246c', value: 'ActivityFeed.Read', displayName: 'Read activity data for your organization' },
    { id: '4807a72c-ad38-4250-94c9-4eabfe26cd55', value: 'ActivityFeed.ReadDlp', displayName: 'Read DLP policy events including detected sensitive data' },
    { id: 'e2cea78f-e743-4d8f-a16a-75b629a038ae', value: 'ServiceHealth.Read', displayName: 'Read service health information for your organization' },
  ],
};

export const GRAPH_RESOURCE: ResourceApp = {
  kind: 'graph',
  appId: '00000003-0000-0000-c000-000000000000',
  displayName: 'Microsoft Graph',
  roles: [
    { id: 'b0afded3-3588-46d8-8b3d-9842eff778da', value: 'AuditLog.Read.All', displayName: 'Read all audit log data' },
    { id: '7ab1d382-f21e-4acd-a863-ba3e13f7da61', value: 'Directory.Read.All', displayName: 'Read directory data' },
    { id: 'dc5007c0-2d7d-4c42-879c-2dab87571379', value: 'IdentityRiskyUser.Read.All', displayName: 'Read all identity risky user information' },
    { id: '6e472fd1-ad78-48da-a0f0-97ab2c6b769e', value: 'IdentityRiskEvent.Read.All', displayName: 'Read all identity risk event information' },
    { id: '38d9df27-64da-44fd-b7c5-a6fbac20248f', value: 'UserAuthenticationMethod.Read.All', displayName: "Read all users' authentication methods" },
    { id: '230c1aed-a721-4c5d-9cb4-a90514e508ef', value: 'Reports.Read.All', displayName: 'Read all usage reports' },
    {
      id: '06b708a9-e830-4db3-a914-8e69da51d44f',
      value: 'AppRoleAssignment.ReadWrite.All',
      displayName: 'Manage app permission grants and app role assignments',
    },
    { id: '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30', value: 'Application.Read.All', displayName: 'Read all applications' },
    { id: 'df021288-bdef-4463-88db-98f22de89214', value: 'User.Read.All', displayName: "Read all users' full profiles" },
    { id: '498476ce-e0fe-48b0-b801-37ba7e2685c6', value: 'Organization.Read.All', displayName: 'Read organization information' },
    { id: '472e4a4d-bb4a-4026-98d1-0b0d74cb74a5', value: 'SecurityAlert.Read.All', displayName: 'Read all security alerts' },
    { id: 'ed4fca05-be46-441f-9803-1873825f8fdb', value: 'SecurityAlert.ReadWrite.All', displayName: 'Read and write to all security alerts' },
    { id: '45cc0394-e837-488b-a098-1918f48d186c', value: 'SecurityIncident.Read.All', displayName: 'Read all security incidents' },
    { id: '5e1e9171-754d-478c-812c-f1755a9a4c2d', value: 'AuditLogsQuery.Read.All', displayName: 'Read audit logs data from all services' },
  ],
};

export const RESOURCES: readonly ResourceApp[] = [MANAGEMENT_RESOURCE, GRAPH_RESOURCE];

export function resourceByKind(kind: ResourceKind): ResourceApp {
  return kind === 'management' ? MANAGEMENT_RESOURCE : GRAPH_RESOURCE;
}

export function resourceByAppId(appId: string): ResourceApp | undefined {
  return RESOURCES.find((r) => r.appId === appId);
}

/** Which resource declares a role value (role names are unique across the two resources). */
export function resourceOfRole(value: string): ResourceApp | undefined {
  return RESOURCES.find((r) => r.roles.some((role) => role.value === value));
}

export const ALL_ROLE_VALUES: readonly string[] = RESOURCES.flatMap((r) => r.roles.map((role) => role.value));

/** Token audiences (v1 `resource` / v2 scope without `/.default`) per cloud. */
export const AUDIENCES: Record<Cloud, Record<ResourceKind, string>> = {
  commercial: { management: 'https://manage.office.com', graph: 'https://graph.microsoft.com' },
  gcc: { management: 'https://manage-gcc.office.com', graph: 'https://graph.microsoft.com' },
  'gcc-high': { management: 'https://manage.office365.us', graph: 'https://graph.microsoft.us' },
  dod: { management: 'https://manage.protection.apps.mil', graph: 'https://dod-graph.microsoft.us' },
};

/** Resolves a requested resource identifier to its kind, or undefined when the tenant's cloud does not know it. */
export function audienceKind(cloud: Cloud, resource: string): ResourceKind | undefined {
  const normalized = resource.replace(/\/+$/, '').toLowerCase();
  const table = AUDIENCES[cloud];
  if (table.management === normalized) return 'management';
  if (table.graph === normalized) return 'graph';
  // The resource app ids are accepted as identifiers too.
  if (normalized === MANAGEMENT_RESOURCE.appId) return 'management';
  if (normalized === GRAPH_RESOURCE.appId) return 'graph';
  return undefined;
}

/** The default roles the application registration declares as required (its `.default` set). */
export const DEFAULT_REQUIRED_ROLES: readonly string[] = [
  'ActivityFeed.Read',
  'ActivityFeed.ReadDlp',
  'ServiceHealth.Read',
  'AuditLog.Read.All',
  'Directory.Read.All',
  'IdentityRiskyUser.Read.All',
  'IdentityRiskEvent.Read.All',
  'UserAuthenticationMethod.Read.All',
  'SecurityAlert.Read.All',
  'SecurityIncident.Read.All',
  'AuditLogsQuery.Read.All',
  'AppRoleAssignment.ReadWrite.All',
  'Application.Read.All',
];
