/**
 * Realistic m365.raw envelopes built from the simulator's record generators (tests and benches may import the
 * simulator; services may not).
 */
import type { RawEnvelope, SourceName } from '../../runtime/index.ts';
import { buildUsers } from '../../simulator/records/directory-people.ts';
import { generateManagementRecord, type ManagementContentType } from '../../simulator/records/management-records.ts';
import { generateGraphRecord, type GraphSourceKey } from '../../simulator/records/graph-records.ts';

export const SIM_TENANT = '6f1c3c1e-8a51-4f5b-9d2e-1f0c2b7a9e10';
export const SIM_DOMAIN = 'contoso.example';

const MANAGEMENT: ManagementContentType[] = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All'];
const GRAPH: GraphSourceKey[] = ['signIns', 'directoryAudits', 'riskyUsers', 'riskDetections', 'userRegistrationDetails'];

/** `count` envelopes cycling over all ten sources (management-heavy like real traffic when `weighted`). */
export function simulatedEnvelopes(count: number, orgId = 'org-sim', seed = 'normalize-bench'): RawEnvelope[] {
  const users = buildUsers(seed, SIM_TENANT, SIM_DOMAIN, 25);
  const mctx = { seed, tenantId: SIM_TENANT, domain: SIM_DOMAIN, users };
  const gctx = { ...mctx, entraP1: true, entraP2: true };
  const base = Date.UTC(2026, 10, 20, 8, 0, 0);
  const out: RawEnvelope[] = [];
  for (let i = 0; i < count; i++) {
    const slot = i % 10;
    const eventMs = base + i * 1000;
    const fetchedAt = new Date(eventMs + 600_000).toISOString();
    if (slot < 5) {
      const contentType = MANAGEMENT[slot] as ManagementContentType;
      out.push({
        orgId,
        tenantId: SIM_TENANT,
        source: `management:${contentType}` as SourceName,
        contentType,
        contentId: `20261120080000000000000${slot}$20261120090000000000000${slot}$audit_${slot}$Audit_${slot}$na0034`,
        fetchedAt,
        record: generateManagementRecord(mctx, contentType, i, eventMs),
      });
    } else {
      const key = GRAPH[slot - 5] as GraphSourceKey;
      out.push({ orgId, tenantId: SIM_TENANT, source: `graph:${key}` as SourceName, fetchedAt, record: generateGraphRecord(gctx, key, i, eventMs) });
    }
  }
  return out;
}
