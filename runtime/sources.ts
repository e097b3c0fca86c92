/** Source names, the same in the simulator, the pollers, envelopes and status (ARCHITECTURE.md). */
export const MANAGEMENT_SOURCES = [
  'management:Audit.AzureActiveDirectory',
  'management:Audit.Exchange',
  'management:Audit.SharePoint',
  'management:Audit.General',
  'management:DLP.All',
] as const;

export const GRAPH_SOURCES = [
  'graph:signIns',
  'graph:directoryAudits',
  'graph:riskyUsers',
  'graph:riskDetections',
  'graph:userRegistrationDetails',
] as const;

export const SOURCES = [...MANAGEMENT_SOURCES, ...GRAPH_SOURCES] as const;

export type ManagementSource = (typeof MANAGEMENT_SOURCES)[number];
export type GraphSource = (typeof GRAPH_SOURCES)[number];
export type SourceName = (typeof SOURCES)[number];

export function isSourceName(value: string): value is SourceName {
  return (SOURCES as readonly string[]).includes(value);
}

/** `management:Audit.Exchange` → `Audit.Exchange`, the Management Activity API content type. */
export function managementContentType(source: ManagementSource): string {
  return source.slice('management:'.length);
}
