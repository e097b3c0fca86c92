import type { SourceName, TenantConnection } from '../../runtime/index.ts';

type Polling = NonNullable<TenantConnection['connection']>['polling'];

/**
 * An active connection as the control plane writes it to m365.tenants after a verified consent: for tests and
 * benchmarks that give ingest tenants without running the consent flow for each.
 */
export function activeConnection(o: {
  orgId: string;
  tenantId: string;
  sources: readonly SourceName[];
  orgName?: string;
  revision?: number;
  cloud?: NonNullable<TenantConnection['connection']>['cloud'];
  polling?: Partial<Polling>;
}): TenantConnection {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    orgId: o.orgId,
    orgName: o.orgName ?? `Org ${o.orgId}`,
    revision: o.revision ?? 1,
    updatedAt: now,
    connection: {
      cloud: o.cloud ?? 'commercial',
      tenantId: o.tenantId,
      status: 'active',
      autoUpgrade: true,
      manifestVersion: 1,
      requiredRoles: [],
      grantedRoles: [],
      polling: { enabled: true, sources: [...o.sources], paused: [], refetchGeneration: 0, refetchFrom: null, ...o.polling },
      connectedAt: now,
    },
  };
}
