import { describe, expect, it } from 'vitest';
import { Feed } from '../../simulator/feeds.ts';
import { parseFilter } from '../../simulator/graph/graph-api.ts';
import { parseApiTime } from '../../simulator/management-api/management-api.ts';
import { buildUsers } from '../../simulator/records/directory-people.ts';
import { generateGraphRecord } from '../../simulator/records/graph-records.ts';
import type { ManagementContentType } from '../../simulator/records/management-records.ts';
import { generateManagementRecord } from '../../simulator/records/management-records.ts';

const TENANT = '11111111-2222-4333-8444-555555555555';
const users = buildUsers('seed', TENANT, 'contoso.example', 10);
const mctx = { seed: 'seed', tenantId: TENANT, domain: 'contoso.example', users };
const gctx = { ...mctx, entraP1: true, entraP2: true };
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function many(contentType: ManagementContentType, n = 400): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => generateManagementRecord(mctx, contentType, i, T0 + i * 1000));
}

describe('management record generators', () => {
  it('are deterministic for (seed, tenant, content type, index)', () => {
    expect(generateManagementRecord(mctx, 'Audit.Exchange', 7, T0)).toEqual(generateManagementRecord(mctx, 'Audit.Exchange', 7, T0));
    expect(generateManagementRecord(mctx, 'Audit.Exchange', 7, T0).Id).not.toBe(
      generateManagementRecord({ ...mctx, seed: 'other' }, 'Audit.Exchange', 7, T0).Id,
    );
  });

  it('give every record the common schema: Id, RecordType int, zone-less CreationTime, OrganizationId', () => {
    for (const ct of ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All'] as const) {
      for (const r of many(ct, 50)) {
        expect(r.OrganizationId).toBe(TENANT);
        expect(r.CreationTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
        expect(Number.isInteger(r.RecordType)).toBe(true);
        expect(typeof r.Operation).toBe('string');
        expect(typeof r.Workload).toBe('string');
      }
    }
  });

  it('produce UserLoginFailed with ResultStatus Succeeded and the outcome in ErrorCode/LogonError', () => {
    const failed = many('Audit.AzureActiveDirectory').filter((r) => r.Operation === 'UserLoginFailed');
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) {
      expect(r.RecordType).toBe(15);
      expect(r.ResultStatus).toBe('Succeeded');
      expect(r.ErrorCode).not.toBe('0');
      expect(typeof r.LogonError).toBe('string');
      expect((r.ExtendedProperties as Array<{ Name: string; Value: string }>).map((p) => p.Name)).toContain('UserAgent');
    }
  });

  it('produce directory changes with Actor, Target and ModifiedProperties', () => {
    const changes = many('Audit.AzureActiveDirectory').filter((r) => r.RecordType === 8);
    expect(changes.length).toBeGreaterThan(0);
    for (const r of changes) {
      expect((r.Actor as unknown[]).length).toBeGreaterThan(0);
      expect((r.Target as unknown[]).length).toBeGreaterThan(0);
      expect((r.ModifiedProperties as Array<{ Name: string; NewValue: string; OldValue: string }>)[0]).toHaveProperty('NewValue');
    }
  });

  it('produce ClientIP as ip, ip:port, [ipv6]:port and bare IPv6', () => {
    const ips = many('Audit.SharePoint').map((r) => r.ClientIP as string);
    expect(ips.some((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^\[[0-9a-f:]+\]:\d+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^[0-9a-f]+:[0-9a-f:]+$/.test(ip))).toBe(true);
  });

  it('produce New-InboxRule with Parameters forwarding outside, and MailItemsAccessed', () => {
    const exo = many('Audit.Exchange');
    const rules = exo.filter((r) => r.Operation === 'New-InboxRule');
    expect(
      rules.some((r) => (r.Parameters as Array<{ Name: string; Value: string }>).some((p) => p.Name === 'ForwardTo' && !p.Value.endsWith('contoso.example'))),
    ).toBe(true);
    expect(rules.every((r) => r.RecordType === 1 && (r.ResultStatus === 'True' || r.ResultStatus === 'False'))).toBe(true);
    const mia = exo.filter((r) => r.Operation === 'MailItemsAccessed');
    expect(mia.length).toBeGreaterThan(0);
    expect(mia.every((r) => r.RecordType === 50 && typeof r.MailboxOwnerUPN === 'string')).toBe(true);
  });

  it('produce SharePoint/OneDrive file operations and sharing operations whose ObjectId is SiteUrl + path + file', () => {
    const spo = many('Audit.SharePoint');
    expect(spo.some((r) => r.RecordType === 6 && r.Operation === 'FileDownloaded')).toBe(true);
    expect(spo.some((r) => r.RecordType === 14)).toBe(true);
    expect(spo.some((r) => r.Workload === 'OneDrive')).toBe(true);
    for (const r of spo) expect(r.ObjectId).toBe(`${r.SiteUrl as string}${r.SourceRelativeUrl as string}/${r.SourceFileName as string}`);
  });

  it('produce Teams, security alerts with stringified JSON, and unknown RecordType values in Audit.General', () => {
    const gen = many('Audit.General');
    expect(gen.some((r) => r.RecordType === 25 && r.Workload === 'MicrosoftTeams')).toBe(true);
    const alert = gen.find((r) => r.RecordType === 40);
    expect(typeof alert?.Data).toBe('string');
    expect(() => JSON.parse(alert?.Data as string) as unknown).not.toThrow();
    expect(gen.some((r) => ![1, 2, 3, 4, 6, 8, 14, 15, 20, 25, 40, 50].includes(r.RecordType as number))).toBe(true);
  });

  it('produce DLP rule matches for SharePoint and Exchange', () => {
    const dlp = many('DLP.All', 100);
    expect(new Set(dlp.map((r) => r.RecordType))).toEqual(new Set([11, 13]));
    expect(dlp.some((r) => r.Operation === 'DlpRuleMatch')).toBe(true);
  });
});

describe('graph record generators', () => {
  it('produce sign-ins with status, device, location, conditional access and risk fields', () => {
    const r = generateGraphRecord(gctx, 'signIns', 3, T0);
    for (const k of [
      'id',
      'createdDateTime',
      'userPrincipalName',
      'status',
      'deviceDetail',
      'location',
      'appliedConditionalAccessPolicies',
      'riskLevelDuringSignIn',
      'conditionalAccessStatus',
    ])
      expect(r).toHaveProperty(k);
    expect(r.createdDateTime).toBe('2026-01-02T03:04:05.6780000Z');
    expect(generateGraphRecord(gctx, 'signIns', 3, T0)).toEqual(r);
  });

  it('hide risk fields without P2', () => {
    const r = generateGraphRecord({ ...gctx, entraP2: false }, 'signIns', 3, T0);
    expect([r.riskDetail, r.riskLevelAggregated, r.riskLevelDuringSignIn, r.riskState]).toEqual(['hidden', 'hidden', 'hidden', 'hidden']);
  });

  it('give risk detections additionalInfo as a JSON string and risky users the user id', () => {
    expect(typeof generateGraphRecord(gctx, 'riskDetections', 1, T0).additionalInfo).toBe('string');
    expect(generateGraphRecord(gctx, 'riskyUsers', 12, T0).id).toBe(users[2]?.id);
  });
});

describe('feeds', () => {
  it('serve every first-hand record of a blob plus duplicates at the duplicate rate, deterministically', () => {
    const feed = new Feed('k', (ms, seq) => `${ms}-${seq}`, T0);
    feed.addBatch(100, T0 - 1000, T0, T0 + 1000, false, { recordsPerBlob: 50, duplicateRate: 0.2, reserveRate: 0, outOfOrder: false });
    expect(feed.blobs).toHaveLength(2);
    const second = feed.blobs[1];
    if (!second) throw new Error('no blob');
    const indices = feed.blobIndices(second);
    expect(indices.length).toBeGreaterThan(50);
    for (let i = 50; i < 100; i++) expect(indices).toContain(i);
    expect(indices.some((i) => i < 50)).toBe(true);
    expect(feed.blobIndices(second)).toEqual(indices);
  });
});

describe('query parsing', () => {
  it('accepts the documented Management API time formats as UTC', () => {
    expect(parseApiTime('2026-01-02')).toBe(Date.UTC(2026, 0, 2));
    expect(parseApiTime('2026-01-02T03:04')).toBe(Date.UTC(2026, 0, 2, 3, 4));
    expect(parseApiTime('2026-01-02T03:04:05')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseApiTime('yesterday')).toBeUndefined();
  });

  it('parses Graph date filters and rejects unsupported clauses', () => {
    expect(parseFilter('createdDateTime ge 2026-01-02T03:04:05Z and createdDateTime le 2026-01-03T00:00:00Z', 'createdDateTime', [])).toHaveLength(2);
    expect(() => parseFilter("ipAddress eq '1.1.1.1'", 'createdDateTime', [])).toThrow();
    expect(parseFilter("userId eq 'abc'", 'createdDateTime', ['userId'])[0]).toMatchObject({ field: 'userId', value: 'abc' });
  });
});
