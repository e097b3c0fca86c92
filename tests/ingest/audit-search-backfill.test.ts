import { describe, expect, it } from 'vitest';
import { AUDIT_RETENTION_MS, AUDIT_SEARCH_CLOUDS, auditDataOf, backfillPeriod, managementSourceOf } from '../../ingest/audit-search-backfill.ts';

const DAY = 24 * 3_600_000;
const NOW = Date.parse('2026-12-02T12:00:00Z');

describe('Audit Search back-fill: pure parts', () => {
  it('files each record under the Management content type that serves it, so both APIs share one ledger', () => {
    expect(managementSourceOf({ Workload: 'AzureActiveDirectory', RecordType: 15 })).toBe('management:Audit.AzureActiveDirectory');
    expect(managementSourceOf({ Workload: 'Exchange', RecordType: 2 })).toBe('management:Audit.Exchange');
    expect(managementSourceOf({ Workload: 'OneDrive', RecordType: 6 })).toBe('management:Audit.SharePoint');
    expect(managementSourceOf({ Workload: 'SharePoint', RecordType: 14 })).toBe('management:Audit.SharePoint');
    // DLP records name the workload they were found in, but the Management API serves them under DLP.All.
    expect(managementSourceOf({ Workload: 'Exchange', RecordType: 13 })).toBe('management:DLP.All');
    expect(managementSourceOf({ Workload: 'MicrosoftTeams', RecordType: 25 })).toBe('management:Audit.General');
    expect(managementSourceOf({})).toBe('management:Audit.General');
  });

  it("back-fills the setting's days by default, an asked start when given, never past Audit Standard's 180 days", () => {
    expect(backfillPeriod(NOW, null, 30)).toEqual({ fromMs: NOW - 30 * DAY, toMs: NOW });
    expect(backfillPeriod(NOW, NOW - 2 * DAY, 30)).toEqual({ fromMs: NOW - 2 * DAY, toMs: NOW });
    expect(backfillPeriod(NOW, NOW - 400 * DAY, 30).fromMs).toBe(NOW - AUDIT_RETENTION_MS + 60_000);
    expect(backfillPeriod(NOW, NOW + DAY, 30).fromMs).toBe(NOW);
  });

  it('unwraps auditData into the record the Management API serves (no Graph type annotation)', () => {
    const record = { Id: 'a', CreationTime: '2026-12-01T10:00:00', Workload: 'Exchange' };
    expect(auditDataOf({ id: 'a', auditData: { '@odata.type': '#microsoft.graph.security.auditData', ...record } })).toEqual(record);
    expect(auditDataOf({ id: 'a' })).toBeNull();
    expect(auditDataOf({ id: 'a', auditData: [1] })).toBeNull();
    expect(auditDataOf(null)).toBeNull();
  });

  it('is offered in the global service only (GCC is part of it; GCC High and DoD are not)', () => {
    expect(AUDIT_SEARCH_CLOUDS).toEqual({ commercial: true, gcc: true, 'gcc-high': false, dod: false });
  });
});
