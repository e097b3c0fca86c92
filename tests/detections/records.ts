/**
 * Raw Microsoft records for the detection tests, written from Microsoft's documented schemas (Office 365 Management
 * Activity API schema: common, Exchange admin, SharePoint file operations, Security & Compliance Center cmdlets,
 * Security & Compliance alerts, Defender for Office 365 email events; Graph v1.0 signIn, directoryAudit and
 * riskDetection resources), several taken from the normalizer's golden corpus. Each says which of our Sigma rules
 * (detections/rules/<name>.yml) it must fire; every other rule must stay silent.
 */
import { readFileSync } from 'node:fs';
import type { RawEnvelope, SourceName } from '../../runtime/index.ts';

type Json = Record<string, unknown>;

export interface DetectionCase {
  /** Unique per case: becomes the record's id, so a hit names its case. */
  readonly name: string;
  readonly fires: readonly string[];
  readonly envelope: RawEnvelope;
}

const TENANT = '4f2b8c1a-0d3e-4a5b-9c6d-7e8f9a0b1c2d';
const FETCHED_AT = '2026-11-20T10:30:00.000Z';

function golden(path: string): Json {
  const envelope = JSON.parse(readFileSync(new URL(`../normalize/golden/${path}.input.json`, import.meta.url), 'utf8')) as { record: Json };
  return envelope.record;
}

/** A deterministic GUID-shaped id per case name (audit records' Id is a GUID). */
function guidOf(name: string): string {
  let h = 2166136261;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const c of `${name}#${round}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

function management(orgId: string, contentType: 'Audit.Exchange' | 'Audit.SharePoint' | 'Audit.General', name: string, record: Json): RawEnvelope {
  return {
    orgId,
    tenantId: TENANT,
    source: `management:${contentType}` as const,
    contentType,
    contentId: `20261120100000123456789$20261120110000123456789$${contentType.toLowerCase().replace('.', '_')}$emea0034`,
    fetchedAt: FETCHED_AT,
    record: { ...record, Id: guidOf(name) },
  };
}

function graph(orgId: string, source: SourceName, name: string, record: Json): RawEnvelope {
  return { orgId, tenantId: TENANT, source, fetchedAt: FETCHED_AT, record: { ...record, id: guidOf(name) } };
}

/** The id a case's record gets (event.id of its document). */
export const caseEventId = guidOf;

const signIn = golden('graph-sign-ins/success');
const inboxRule = golden('exchange/new-inboxrule-forward-outside-bare-ipv6');
const setMailbox = golden('exchange/set-mailbox-stringified-parameters');
const roleAssignment = golden('graph-directory-audits/add-member-to-role-by-user');
const consent = golden('graph-directory-audits/consent-by-app-failure');
const download = golden('sharepoint/file-downloaded-onedrive-bare-ipv6');
const alert = golden('general/security-alert-stringified-data');

const exchangeCmdlet = (operation: string, parameters: Array<{ Name: string; Value: string }>): Json => ({
  ...inboxRule,
  Operation: operation,
  ObjectId: 'Lidia Holloway',
  Parameters: parameters,
});

const targetUser = (roleName: string, templateId: string): Json[] => [
  {
    id: '7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910',
    displayName: null,
    type: 'User',
    userPrincipalName: 'Patti.Fernandez@contoso.com',
    groupType: null,
    modifiedProperties: [
      { displayName: 'Role.DisplayName', oldValue: null, newValue: `"${roleName}"` },
      { displayName: 'Role.TemplateId', oldValue: null, newValue: `"${templateId}"` },
    ],
  },
];

export function detectionCases(orgId: string): DetectionCase[] {
  const c = (name: string, fires: string[], envelope: RawEnvelope): DetectionCase => ({ name, fires, envelope });
  return [
    // --- Exchange (Audit.Exchange, RecordType 1 ExchangeAdmin) ---
    c('inbox-rule-forwarding', ['m365-inbox-rule-forwarding'], management(orgId, 'Audit.Exchange', 'inbox-rule-forwarding', inboxRule)),
    c(
      'inbox-rule-move-only',
      [],
      management(
        orgId,
        'Audit.Exchange',
        'inbox-rule-move-only',
        exchangeCmdlet('New-InboxRule', [
          { Name: 'Name', Value: 'Newsletters' },
          { Name: 'From', Value: 'news@fabrikam.example' },
          { Name: 'MoveToFolder', Value: 'Newsletters' },
        ]),
      ),
    ),
    c('set-mailbox-forwarding', ['m365-mailbox-forwarding-set-mailbox'], management(orgId, 'Audit.Exchange', 'set-mailbox-forwarding', setMailbox)),
    c(
      'set-mailbox-quota',
      [],
      management(
        orgId,
        'Audit.Exchange',
        'set-mailbox-quota',
        exchangeCmdlet('Set-Mailbox', [
          { Name: 'Identity', Value: 'lidia.holloway@contoso.com' },
          { Name: 'ProhibitSendQuota', Value: '49 GB (52,613,349,376 bytes)' },
        ]),
      ),
    ),
    c(
      'mailbox-full-access',
      ['m365-mailbox-permission-added'],
      management(
        orgId,
        'Audit.Exchange',
        'mailbox-full-access',
        exchangeCmdlet('Add-MailboxPermission', [
          { Name: 'Identity', Value: 'lidia.holloway@contoso.com' },
          { Name: 'User', Value: 'adele.vance@contoso.com' },
          { Name: 'AccessRights', Value: 'FullAccess' },
          { Name: 'InheritanceType', Value: 'All' },
        ]),
      ),
    ),

    // --- Entra directory audits (Graph /auditLogs/directoryAudits) ---
    c('role-global-admin', ['azure-user-added-to-privileged-role'], graph(orgId, 'graph:directoryAudits', 'role-global-admin', roleAssignment)),
    c(
      'role-reports-reader',
      [],
      graph(orgId, 'graph:directoryAudits', 'role-reports-reader', {
        ...roleAssignment,
        targetResources: targetUser('Reports Reader', '4a5d8f65-41da-4de4-8968-e035b65339cf'),
      }),
    ),
    c(
      'mfa-method-deleted',
      ['azure-mfa-disabled-or-method-removed'],
      graph(orgId, 'graph:directoryAudits', 'mfa-method-deleted', {
        ...roleAssignment,
        category: 'UserManagement',
        activityDisplayName: 'Admin deleted security info',
        loggedByService: 'Authentication Methods',
        operationType: 'Delete',
        targetResources: [
          {
            id: '7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910',
            displayName: 'Patti Fernandez',
            type: 'User',
            userPrincipalName: 'Patti.Fernandez@contoso.com',
            modifiedProperties: [],
          },
        ],
        additionalDetails: [{ key: 'Method', value: 'PhoneAppNotification' }],
      }),
    ),
    c('consent-to-application', ['azure-oauth-consent'], graph(orgId, 'graph:directoryAudits', 'consent-to-application', consent)),
    c(
      'app-secret-added',
      ['azure-app-credential-added'],
      graph(orgId, 'graph:directoryAudits', 'app-secret-added', {
        ...consent,
        result: 'success',
        resultReason: '',
        // Microsoft writes "application" lower-case; the rule writes "Application" as SigmaHQ does.
        activityDisplayName: 'Update application – Certificates and secrets management',
        operationType: 'Update',
        targetResources: [
          {
            id: '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d',
            displayName: 'Payroll Sync',
            type: 'Application',
            modifiedProperties: [
              {
                displayName: 'KeyDescription',
                oldValue: '[]',
                newValue: '["[KeyIdentifier=0c3f4e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6,KeyType=Password,KeyUsage=Verify,DisplayName=ops]"]',
              },
            ],
          },
        ],
      }),
    ),

    // --- Sign-ins (Graph /auditLogs/signIns) ---
    c('signin-benign', [], graph(orgId, 'graph:signIns', 'signin-benign', signIn)),
    c(
      'signin-high-risk',
      ['azure-risky-signin'],
      graph(orgId, 'graph:signIns', 'signin-high-risk', {
        ...signIn,
        riskLevelDuringSignIn: 'high',
        riskLevelAggregated: 'high',
        riskState: 'atRisk',
        riskEventTypes_v2: ['unfamiliarFeatures'],
      }),
    ),
    c(
      'signin-imap-legacy',
      ['azure-legacy-authentication'],
      graph(orgId, 'graph:signIns', 'signin-imap-legacy', {
        ...signIn,
        clientAppUsed: 'IMAP4',
        appDisplayName: 'Office 365 Exchange Online',
        authenticationRequirement: 'singleFactorAuthentication',
      }),
    ),
    c(
      'signin-device-code',
      ['azure-device-code-signin'],
      graph(orgId, 'graph:signIns', 'signin-device-code', {
        ...signIn,
        clientAppUsed: 'Mobile Apps and Desktop clients',
        authenticationProtocol: 'deviceCode',
        originalTransferMethod: 'deviceCodeFlow',
      }),
    ),
    c(
      'signin-blocked-by-ca',
      ['azure-conditional-access-failure'],
      graph(orgId, 'graph:signIns', 'signin-blocked-by-ca', {
        ...signIn,
        conditionalAccessStatus: 'failure',
        status: {
          errorCode: 53003,
          failureReason: 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.',
          additionalDetails: null,
        },
      }),
    ),

    // --- Identity Protection (Graph /identityProtection/riskDetections) ---
    c(
      'risk-anonymous-ip',
      ['azure-anonymous-ip-risk-detection'],
      graph(orgId, 'graph:riskDetections', 'risk-anonymous-ip', golden('graph-risk-detections/anonymized-ip-stringified-additional-info')),
    ),

    // --- SharePoint / OneDrive (Audit.SharePoint, RecordType 6 SharePointFileOperation) ---
    c(
      'sync-full-download',
      ['m365-mass-file-download'],
      management(orgId, 'Audit.SharePoint', 'sync-full-download', {
        ...download,
        Operation: 'FileSyncDownloadedFull',
        ObjectId: 'https://contoso-my.sharepoint.com/personal/diego_contoso_com/Documents/Finance',
        SourceFileName: 'Finance',
        UserAgent: 'Microsoft SkyDriveSync 24.201.1006.0003 ship; Windows NT 10.0 (19045)',
      }),
    ),
    c('single-file-download', [], management(orgId, 'Audit.SharePoint', 'single-file-download', download)),

    // --- Security & Compliance (Audit.General): eDiscovery export, alerts, email events ---
    c(
      'ediscovery-export',
      ['m365-ediscovery-export'],
      management(orgId, 'Audit.General', 'ediscovery-export', golden('general/scc-cmdlet-compliance-search-export')),
    ),
    c(
      'alert-malicious-url-zap',
      ['m365-defender-alert'],
      management(orgId, 'Audit.General', 'alert-malicious-url-zap', {
        ...alert,
        Name: 'Email messages containing malicious URL removed after delivery',
        Category: 'ThreatManagement',
        Severity: 'Informational',
        Data: '{"f3u":"megan.bowen@contoso.com","op":"ZAP","wl":"Exchange"}',
        AlertEntityId: 'megan.bowen@contoso.com',
      }),
    ),
    c('alert-forwarding', ['m365-defender-alert'], management(orgId, 'Audit.General', 'alert-forwarding', alert)),
    c(
      'alert-other-policy',
      [],
      management(orgId, 'Audit.General', 'alert-other-policy', {
        ...alert,
        Name: 'Creation of forwarding/redirect rule',
        Category: 'ThreatManagement',
        Severity: 'Informational',
      }),
    ),
    c('ti-mail-delivered', [], management(orgId, 'Audit.General', 'ti-mail-delivered', golden('general/threat-intelligence-mail-data-delivered-inbound'))),
  ];
}
