import { Rng, uuidFor } from '../deterministic.ts';
import type { SimUser } from './directory-people.ts';
import { APPS, clientIpVariant, creationTime, ipv4 } from './directory-people.ts';

/**
 * Office 365 Management Activity API audit records (PascalCase schema), one generator per content type.
 * Each record is a pure function of (seed, tenant, content type, index, event time).
 * Records are single object literals in the service's usual field order (CreationTime, Id, Operation,
 * OrganizationId, RecordType, ResultStatus, UserKey, UserType, Version, Workload, ClientIP, ObjectId, UserId, …);
 * optional fields are `undefined`, which JSON leaves out. (Literals are also about twice as fast to build
 * and serialize as incrementally assembled objects — the benchmark generates on every fetch.)
 */

export type ManagementContentType = 'Audit.AzureActiveDirectory' | 'Audit.Exchange' | 'Audit.SharePoint' | 'Audit.General' | 'DLP.All';

export interface ManagementRecordContext {
  seed: string;
  tenantId: string;
  domain: string;
  users: readonly SimUser[];
}

type AuditRecord = Record<string, unknown>;

export function managementRecordId(ctx: ManagementRecordContext, contentType: string, index: number): string {
  return uuidFor(`${ctx.seed}|${ctx.tenantId}|${contentType}|${index}`);
}

const LOGON_FAILURES = [
  { code: '50126', error: 'InvalidUserNameOrPassword' },
  { code: '50053', error: 'IdsLocked' },
  { code: '50074', error: 'UserStrongAuthClientAuthNRequiredInterrupt' },
  { code: '530032', error: 'BlockedByConditionalAccessOnSecurityPolicy' },
];

const DIRECTORY_OPERATIONS = ['Add user.', 'Update user.', 'Add member to role.', 'Consent to application.', 'Reset user password.'];

function entraRecord(ctx: ManagementRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): AuditRecord {
  const id = managementRecordId(ctx, 'Audit.AzureActiveDirectory', index);
  const time = creationTime(eventMs);
  const kind = rng.int(10);
  if (kind < 7) {
    const app = rng.pick(APPS);
    const failed = rng.chance(0.3);
    const failure = rng.pick(LOGON_FAILURES);
    const ip = ipv4(rng);
    return {
      CreationTime: time,
      Id: id,
      Operation: failed ? 'UserLoginFailed' : 'UserLoggedIn',
      OrganizationId: ctx.tenantId,
      RecordType: 15,
      // STS logon ResultStatus reflects the HTTP step, not the logon: failed logons say Succeeded too.
      ResultStatus: 'Succeeded',
      UserKey: user.id,
      UserType: 0,
      Version: 1,
      Workload: 'AzureActiveDirectory',
      ClientIP: ip,
      ObjectId: app.appId,
      UserId: user.userPrincipalName,
      AzureActiveDirectoryEventType: 1,
      ExtendedProperties: [
        { Name: 'ResultStatusDetail', Value: failed ? 'Redirect' : 'Success' },
        { Name: 'UserAgent', Value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0' },
        { Name: 'RequestType', Value: failed ? 'Login:login' : 'OAuth2:Authorize' },
      ],
      ModifiedProperties: [],
      Actor: [
        { ID: user.id, Type: 0 },
        { ID: user.userPrincipalName, Type: 5 },
      ],
      ActorContextId: ctx.tenantId,
      ActorIpAddress: ip,
      InterSystemsId: rng.uuid(),
      IntraSystemId: rng.uuid(),
      SupportTicketId: '',
      Target: [{ ID: app.appId, Type: 0 }],
      TargetContextId: ctx.tenantId,
      ApplicationId: app.appId,
      DeviceProperties: [
        { Name: 'OS', Value: rng.pick(['Windows10', 'MacOs', 'Ios', 'Android']) },
        { Name: 'BrowserType', Value: rng.pick(['Edge', 'Chrome', 'Safari']) },
        { Name: 'IsCompliant', Value: rng.chance(0.5) ? 'True' : 'False' },
        { Name: 'IsCompliantAndManaged', Value: 'False' },
        { Name: 'SessionId', Value: rng.uuid() },
      ],
      ErrorNumber: failed ? failure.code : '0',
      ErrorCode: failed ? failure.code : '0',
      LogonError: failed ? failure.error : undefined,
    };
  }
  const admin = ctx.users[0] ?? user;
  const op = rng.pick(DIRECTORY_OPERATIONS);
  return {
    CreationTime: time,
    Id: id,
    Operation: op,
    OrganizationId: ctx.tenantId,
    RecordType: 8,
    ResultStatus: 'Success',
    UserKey: `${admin.puid}@${ctx.domain}`,
    UserType: 0,
    Version: 1,
    Workload: 'AzureActiveDirectory',
    ClientIP: '',
    ObjectId: user.userPrincipalName,
    UserId: admin.userPrincipalName,
    AzureActiveDirectoryEventType: 1,
    ExtendedProperties: [
      { Name: 'additionalDetails', Value: '{"UserType":"Member"}' },
      { Name: 'extendedAuditEventCategory', Value: 'User' },
    ],
    ModifiedProperties:
      op === 'Add member to role.'
        ? [
            { Name: 'Role.DisplayName', NewValue: 'Global Administrator', OldValue: '' },
            { Name: 'Role.TemplateId', NewValue: '62e90394-69f5-4237-9190-012177145e10', OldValue: '' },
          ]
        : [
            { Name: 'AccountEnabled', NewValue: '[\r\n  true\r\n]', OldValue: '[]' },
            { Name: 'Included Updated Properties', NewValue: 'AccountEnabled', OldValue: '' },
          ],
    Actor: [
      { ID: admin.id, Type: 2 },
      { ID: admin.userPrincipalName, Type: 5 },
      { ID: admin.puid, Type: 3 },
    ],
    ActorContextId: ctx.tenantId,
    InterSystemsId: rng.uuid(),
    IntraSystemId: rng.uuid(),
    SupportTicketId: '',
    Target: [
      { ID: `User_${user.id}`, Type: 2 },
      { ID: user.id, Type: 2 },
      { ID: 'User', Type: 2 },
      { ID: user.userPrincipalName, Type: 5 },
      { ID: user.puid, Type: 3 },
    ],
    TargetContextId: ctx.tenantId,
  };
}

function exchangeRecord(ctx: ManagementRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): AuditRecord {
  const id = managementRecordId(ctx, 'Audit.Exchange', index);
  const time = creationTime(eventMs);
  const kind = rng.int(10);
  const organizationName = `${ctx.domain.split('.')[0] ?? 'contoso'}.onmicrosoft.com`;
  const server = `AM${rng.range(1, 9)}PR0${rng.range(1, 9)}MB${rng.range(1000, 9999)} (15.20.${rng.range(1000, 9999)}.000)`;
  if (kind < 3) {
    const forwardOutside = rng.chance(0.6);
    const parameters = [
      { Name: 'AlwaysDeleteOutlookRulesBlob', Value: 'False' },
      { Name: 'Force', Value: 'False' },
      { Name: 'Name', Value: forwardOutside ? '..' : 'Move newsletters' },
      forwardOutside ? { Name: 'ForwardTo', Value: `exfil${rng.int(100)}@protonmail.example` } : { Name: 'MoveToFolder', Value: 'Newsletters' },
      forwardOutside ? { Name: 'StopProcessingRules', Value: 'True' } : { Name: 'MarkAsRead', Value: 'True' },
      { Name: 'From', Value: 'ceo@partner.example' },
    ];
    return {
      CreationTime: time,
      Id: id,
      Operation: 'New-InboxRule',
      OrganizationId: ctx.tenantId,
      RecordType: 1,
      ResultStatus: 'True',
      UserKey: user.puid,
      UserType: 0,
      Version: 1,
      Workload: 'Exchange',
      ClientIP: clientIpVariant(rng),
      ObjectId: `${user.userPrincipalName}\\Forward all`,
      UserId: user.userPrincipalName,
      AppAccessContext: { AADSessionId: rng.uuid(), IssuedAtTime: creationTime(eventMs - 600_000), UniqueTokenId: rng.hex(22) },
      ExternalAccess: false,
      OrganizationName: organizationName,
      OriginatingServer: server,
      Parameters: parameters,
      ModifiedObjectResolvedName: forwardOutside ? '..' : 'Move newsletters',
      SessionId: rng.uuid(),
    };
  }
  if (kind < 6) {
    return {
      CreationTime: time,
      Id: id,
      Operation: 'MailItemsAccessed',
      OrganizationId: ctx.tenantId,
      RecordType: 50,
      ResultStatus: 'Succeeded',
      UserKey: user.puid,
      UserType: 0,
      Version: 1,
      Workload: 'Exchange',
      ClientIP: clientIpVariant(rng),
      UserId: user.userPrincipalName,
      AppId: undefined,
      ClientAppId: rng.pick(APPS).appId,
      ClientIPAddress: ipv4(rng),
      ClientInfoString: 'Client=REST;Client=RESTSystem;;',
      ExternalAccess: false,
      InternalLogonType: 0,
      LogonType: rng.pick([0, 1, 2]),
      LogonUserSid: user.sid,
      MailboxGuid: user.mailboxGuid,
      MailboxOwnerSid: user.sid,
      MailboxOwnerUPN: user.userPrincipalName,
      OperationProperties: [
        { Name: 'MailAccessType', Value: rng.pick(['Bind', 'Sync']) },
        { Name: 'IsThrottled', Value: 'False' },
      ],
      OrganizationName: organizationName,
      OriginatingServer: server,
      TokenTenantId: ctx.tenantId,
      Folders: [
        {
          FolderItems: [{ InternetMessageId: `<${rng.hex(20)}@${ctx.domain}>`, SizeInBytes: rng.range(2000, 90000) }],
          Id: `LgAAAAAW${rng.hex(24)}`,
          Path: '\\Inbox',
        },
      ],
      OperationCount: rng.range(1, 40),
    };
  }
  if (kind < 8) {
    return {
      CreationTime: time,
      Id: id,
      Operation: rng.pick(['Send', 'SendAs', 'HardDelete', 'Update']),
      OrganizationId: ctx.tenantId,
      RecordType: 2,
      ResultStatus: 'Succeeded',
      UserKey: user.puid,
      UserType: 0,
      Version: 1,
      Workload: 'Exchange',
      ClientIP: clientIpVariant(rng),
      UserId: user.userPrincipalName,
      ClientIPAddress: ipv4(rng),
      ClientInfoString: 'Client=OWA;Action=ViaProxy',
      ExternalAccess: false,
      InternalLogonType: 0,
      LogonType: 0,
      LogonUserSid: user.sid,
      MailboxGuid: user.mailboxGuid,
      MailboxOwnerSid: user.sid,
      MailboxOwnerUPN: user.userPrincipalName,
      OrganizationName: organizationName,
      OriginatingServer: server,
      SessionId: rng.uuid(),
      Item: {
        Id: `RgAAAAAW${rng.hex(30)}`,
        InternetMessageId: `<${rng.hex(20)}@${ctx.domain}>`,
        ParentFolder: { Id: `LgAAAAAW${rng.hex(24)}`, Path: '\\Sent Items' },
        SizeInBytes: rng.range(2000, 120000),
        Subject: rng.pick(['Quarterly numbers', 'Invoice', 'Re: lunch', 'Password reset']),
        Attachments: rng.chance(0.3) ? 'invoice.pdf (52311b)' : '',
      },
    };
  }
  return {
    CreationTime: time,
    Id: id,
    Operation: rng.pick(['MoveToDeletedItems', 'SoftDelete', 'Move']),
    OrganizationId: ctx.tenantId,
    RecordType: 3,
    ResultStatus: 'Succeeded',
    UserKey: user.puid,
    UserType: 0,
    Version: 1,
    Workload: 'Exchange',
    ClientIP: clientIpVariant(rng),
    UserId: user.userPrincipalName,
    ClientIPAddress: ipv4(rng),
    ClientInfoString: 'Client=MSExchangeRPC',
    ExternalAccess: false,
    InternalLogonType: 0,
    LogonType: 0,
    LogonUserSid: user.sid,
    MailboxGuid: user.mailboxGuid,
    MailboxOwnerSid: user.sid,
    MailboxOwnerUPN: user.userPrincipalName,
    OrganizationName: organizationName,
    OriginatingServer: server,
    AffectedItems: [{ Id: `RgAAAAAW${rng.hex(30)}`, Subject: 'Weekly update', ParentFolder: { Path: '\\Inbox' } }],
    CrossMailboxOperation: false,
    DestFolder: { Id: `LgAAAAAW${rng.hex(24)}`, Path: '\\Deleted Items' },
    Folder: { Id: `LgAAAAAW${rng.hex(24)}`, Path: '\\Inbox' },
  };
}

const SITES = ['Finance', 'HR', 'Engineering', 'Sales'];
const FILE_OPERATIONS = ['FileAccessed', 'FileDownloaded', 'FileUploaded', 'FileModified', 'FileDeleted', 'FileMoved', 'FileCopied'];
const SHARING_OPERATIONS = ['SharingSet', 'AnonymousLinkCreated', 'SharingInvitationCreated', 'CompanyLinkCreated'];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Microsoft Office Word 2014',
  'OneDriveMpc-Transform_Thumbnail/1.0',
];

function sharePointRecord(ctx: ManagementRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): AuditRecord {
  const oneDrive = rng.chance(0.3);
  const tenantName = ctx.domain.split('.')[0] ?? 'contoso';
  const siteUrl = oneDrive
    ? `https://${tenantName}-my.sharepoint.com/personal/${user.userPrincipalName.replace(/[@.]/g, '_')}/`
    : `https://${tenantName}.sharepoint.com/sites/${rng.pick(SITES)}/`;
  const ext = rng.pick(['docx', 'xlsx', 'pdf', 'pptx', 'txt']);
  const fileName = `${rng.pick(['Budget', 'Roadmap', 'Payroll', 'Contract', 'Notes'])}-${rng.int(1000)}.${ext}`;
  const relative = rng.pick(['Shared Documents', 'Documents', 'Shared Documents/Board']);
  const sharing = rng.chance(0.2);
  return {
    CreationTime: creationTime(eventMs),
    Id: managementRecordId(ctx, 'Audit.SharePoint', index),
    Operation: sharing ? rng.pick(SHARING_OPERATIONS) : rng.pick(FILE_OPERATIONS),
    OrganizationId: ctx.tenantId,
    RecordType: sharing ? 14 : 6,
    UserKey: `i:0h.f|membership|${user.puid.toLowerCase()}@live.com`,
    UserType: 0,
    Version: 1,
    Workload: oneDrive ? 'OneDrive' : 'SharePoint',
    ClientIP: clientIpVariant(rng),
    ObjectId: `${siteUrl}${relative}/${fileName}`,
    UserId: user.userPrincipalName,
    ApplicationDisplayName: rng.pick(['Microsoft Office', 'OneDrive SyncEngine', 'SharePoint Online Web Client Extensibility']),
    EventSource: 'SharePoint',
    ItemType: 'File',
    ListId: rng.uuid(),
    ListItemUniqueId: rng.uuid(),
    Site: rng.uuid(),
    UserAgent: rng.pick(USER_AGENTS),
    WebId: rng.uuid(),
    SourceName: null,
    IsWorkflow: false,
    SourceFileExtension: ext,
    SiteUrl: siteUrl,
    SourceFileName: fileName,
    SourceRelativeUrl: relative,
    TargetUserOrGroupName: sharing ? (rng.chance(0.5) ? `guest${rng.int(99)}@gmail.example` : 'Limited Access System Group') : undefined,
    TargetUserOrGroupType: sharing ? rng.pick(['Guest', 'Member', 'SharePointGroup']) : undefined,
    EventData: sharing ? '<PermissionsGranted>Read</PermissionsGranted>' : undefined,
    UniqueSharingId: sharing ? rng.uuid() : undefined,
  };
}

/** RecordType values outside anything a mapper is likely to know yet (the enum grows). */
const UNKNOWN_RECORD_TYPES = [402, 461, 488, 512];
const TEAMS_OPERATIONS = ['MemberAdded', 'TeamCreated', 'ChannelAdded', 'MessageDeleted', 'AppInstalled'];
const ALERT_NAMES = ['Suspicious email forwarding activity', 'Creation of forwarding/redirect rule', 'Elevation of Exchange admin privilege'];

function generalRecord(ctx: ManagementRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): AuditRecord {
  const id = managementRecordId(ctx, 'Audit.General', index);
  const time = creationTime(eventMs);
  const kind = rng.int(10);
  if (kind < 5) {
    return {
      CreationTime: time,
      Id: id,
      Operation: rng.pick(TEAMS_OPERATIONS),
      OrganizationId: ctx.tenantId,
      RecordType: 25,
      UserKey: user.id,
      UserType: 0,
      Version: 1,
      Workload: 'MicrosoftTeams',
      ClientIP: clientIpVariant(rng),
      ObjectId: rng.pick(['General', 'Project X', 'Board']),
      UserId: user.userPrincipalName,
      AADGroupId: rng.uuid(),
      CommunicationType: 'Team',
      ItemName: 'General',
      Members: [{ DisplayName: user.displayName, Role: 1, UPN: user.userPrincipalName }],
      TeamGuid: `19:${rng.hex(32)}@thread.tacv2`,
      TeamName: rng.pick(['Finance', 'Mark 8 Project Team', 'Retail']),
    };
  }
  if (kind < 7) {
    const alertId = rng.uuid();
    return {
      CreationTime: time,
      Id: id,
      Operation: 'AlertTriggered',
      OrganizationId: ctx.tenantId,
      RecordType: 40,
      ResultStatus: 'Succeeded',
      UserKey: 'SecurityComplianceAlerts',
      UserType: 4,
      Version: 1,
      Workload: 'SecurityComplianceCenter',
      ObjectId: alertId,
      UserId: 'SecurityComplianceAlerts',
      AlertEntityId: user.userPrincipalName,
      AlertId: alertId,
      AlertLinks: [],
      AlertType: 'System',
      Category: 'ThreatManagement',
      // stringified JSON, as the service emits it
      Data: JSON.stringify({ f3u: user.userPrincipalName, op: 'New-InboxRule', tdc: '1', ts: creationTime(eventMs), wl: 'Exchange' }),
      EntityType: 'User',
      Name: rng.pick(ALERT_NAMES),
      PolicyId: rng.uuid(),
      Severity: rng.pick(['Low', 'Medium', 'High']),
      Source: 'Office 365 Security & Compliance',
      Status: 'Active',
    };
  }
  if (kind < 9) {
    return {
      CreationTime: time,
      Id: id,
      Operation: rng.pick(['ViewReport', 'ExportReport', 'ViewDashboard']),
      OrganizationId: ctx.tenantId,
      RecordType: 20,
      UserKey: user.puid,
      UserType: 0,
      Version: 1,
      Workload: 'PowerBI',
      ClientIP: clientIpVariant(rng),
      ObjectId: rng.pick(['Sales Overview', 'Pipeline']),
      UserId: user.userPrincipalName,
      Activity: 'ViewReport',
      ActivityId: rng.uuid(),
      DatasetName: 'Sales',
      IsSuccess: true,
      ItemName: 'Sales Overview',
      ReportName: 'Sales Overview',
      RequestId: rng.uuid(),
      WorkSpaceName: 'My Workspace',
    };
  }
  return {
    CreationTime: time,
    Id: id,
    Operation: rng.pick(['CopilotInteraction', 'NewFutureOperation', 'PlannerTaskCreated']),
    OrganizationId: ctx.tenantId,
    RecordType: rng.pick(UNKNOWN_RECORD_TYPES),
    ResultStatus: 'Success',
    UserKey: user.id,
    UserType: 0,
    Version: 1,
    Workload: rng.pick(['Copilot', 'PlannerFuture', 'Unknown']),
    ClientIP: clientIpVariant(rng),
    ObjectId: rng.uuid(),
    UserId: user.userPrincipalName,
    ExtraData: JSON.stringify({ nested: { a: rng.int(10) } }),
  };
}

function dlpRecord(ctx: ManagementRecordContext, index: number, eventMs: number, rng: Rng, user: SimUser): AuditRecord {
  const exchange = rng.chance(0.5);
  const tenantName = ctx.domain.split('.')[0] ?? 'contoso';
  return {
    CreationTime: creationTime(eventMs),
    Id: managementRecordId(ctx, 'DLP.All', index),
    Operation: rng.pick(['DlpRuleMatch', 'DlpRuleMatch', 'DlpRuleUndo', 'DlpInfo']),
    OrganizationId: ctx.tenantId,
    RecordType: exchange ? 13 : 11,
    UserKey: user.puid,
    UserType: 0,
    Version: 1,
    Workload: exchange ? 'Exchange' : 'SharePoint',
    ObjectId: exchange ? `<${rng.hex(20)}@${ctx.domain}>` : `https://${tenantName}.sharepoint.com/sites/Finance/Shared Documents/cards-${rng.int(99)}.xlsx`,
    UserId: user.userPrincipalName,
    IncidentId: rng.uuid(),
    PolicyDetails: [
      {
        PolicyId: rng.uuid(),
        PolicyName: 'U.S. Financial Data',
        Rules: [
          {
            Actions: ['NotifyUser'],
            ConditionsMatched: {
              SensitiveInformation: [
                {
                  Confidence: 85,
                  Count: rng.range(1, 20),
                  SensitiveType: '50842eb7-edc8-4019-85dd-5a5c1f2bb085',
                  SensitiveInformationTypeName: 'Credit Card Number',
                },
              ],
            },
            RuleId: rng.uuid(),
            RuleName: 'Low volume of content detected U.S. Financial Data',
            Severity: rng.pick(['Low', 'Medium', 'High']),
          },
        ],
      },
    ],
    SensitiveInfoDetectionIsIncluded: rng.chance(0.5),
    ExchangeMetaData: exchange
      ? {
          From: user.userPrincipalName,
          To: ['someone@external.example'],
          Subject: 'numbers',
          Sent: creationTime(eventMs),
          MessageID: `<${rng.hex(20)}@${ctx.domain}>`,
          UniqueID: rng.uuid(),
        }
      : undefined,
    SharePointMetaData: exchange
      ? undefined
      : {
          From: user.userPrincipalName,
          FileName: 'cards.xlsx',
          FilePathUrl: `https://${tenantName}.sharepoint.com/sites/Finance/Shared Documents/cards.xlsx`,
          SiteCollectionUrl: `https://${tenantName}.sharepoint.com/sites/Finance`,
          UniqueID: rng.uuid(),
        },
  };
}

const GENERATORS: Record<ManagementContentType, typeof entraRecord> = {
  'Audit.AzureActiveDirectory': entraRecord,
  'Audit.Exchange': exchangeRecord,
  'Audit.SharePoint': sharePointRecord,
  'Audit.General': generalRecord,
  'DLP.All': dlpRecord,
};

export function generateManagementRecord(ctx: ManagementRecordContext, contentType: ManagementContentType, index: number, eventMs: number): AuditRecord {
  const rng = new Rng(`${ctx.seed}|${ctx.tenantId}|${contentType}|rec|${index}`);
  const user = ctx.users[rng.int(ctx.users.length)] ?? ctx.users[0];
  if (!user) throw new Error('tenant has no users');
  return GENERATORS[contentType](ctx, index, eventMs, rng, user);
}
