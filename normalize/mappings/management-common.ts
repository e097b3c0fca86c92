/**
 * Fields every Management Activity API record shares (the "common schema"), applied before the per-workload
 * mapping. Unknown RecordType values are still normalized with these.
 */
import type { SiemEvent, SiemEventTargetResource } from '../../schemas/index.ts';
import { EventDraft, outcomeFromResult, verbOf, crudActivity, type MapContext } from '../event-draft.ts';
import { boundDerived, DERIVED_TEXT_MAX_CHARS, firstStr, int, isObject, lookup, maybeJson, nameValues, str, type Json } from '../record-values.ts';
import { toMicros } from '../time.ts';
import { isGuid } from '../user.ts';

export const RECORD_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'ExchangeAdmin',
  2: 'ExchangeItem',
  3: 'ExchangeItemGroup',
  4: 'SharePoint',
  6: 'SharePointFileOperation',
  7: 'OneDrive',
  8: 'AzureActiveDirectory',
  9: 'AzureActiveDirectoryAccountLogon',
  10: 'DataCenterSecurityCmdlet',
  11: 'ComplianceDLPSharePoint',
  13: 'ComplianceDLPExchange',
  14: 'SharePointSharingOperation',
  15: 'AzureActiveDirectoryStsLogon',
  16: 'SkypeForBusinessPSTNUsage',
  17: 'SkypeForBusinessUsersBlocked',
  18: 'SecurityComplianceCenterEOPCmdlet',
  19: 'ExchangeAggregatedOperation',
  20: 'PowerBIAudit',
  21: 'CRM',
  22: 'Yammer',
  23: 'SkypeForBusinessCmdlets',
  24: 'Discovery',
  25: 'MicrosoftTeams',
  28: 'ThreatIntelligence',
  29: 'MailSubmission',
  30: 'MicrosoftFlow',
  31: 'AeD',
  32: 'MicrosoftStream',
  33: 'ComplianceDLPSharePointClassification',
  34: 'ThreatFinder',
  35: 'Project',
  36: 'SharePointListOperation',
  37: 'SharePointCommentOperation',
  38: 'DataGovernance',
  39: 'Kaizala',
  40: 'SecurityComplianceAlerts',
  41: 'ThreatIntelligenceUrl',
  42: 'SecurityComplianceInsights',
  43: 'MIPLabel',
  44: 'WorkplaceAnalytics',
  45: 'PowerAppsApp',
  46: 'PowerAppsPlan',
  47: 'ThreatIntelligenceAtpContent',
  48: 'LabelContentExplorer',
  49: 'TeamsHealthcare',
  50: 'ExchangeItemAggregated',
  51: 'HygieneEvent',
  52: 'DataInsightsRestApiAudit',
  53: 'InformationBarrierPolicyApplication',
  54: 'SharePointListItemOperation',
  55: 'SharePointContentTypeOperation',
  56: 'SharePointFieldOperation',
  57: 'MicrosoftTeamsAdmin',
  58: 'HRSignal',
  59: 'MicrosoftTeamsDevice',
  60: 'MicrosoftTeamsAnalytics',
  61: 'InformationWorkerProtection',
  62: 'Campaign',
  63: 'DLPEndpoint',
  64: 'AirInvestigation',
  65: 'Quarantine',
  66: 'MicrosoftForms',
  67: 'ApplicationAudit',
  68: 'ComplianceSupervisionExchange',
  69: 'CustomerKeyServiceEncryption',
  70: 'OfficeNative',
  71: 'MipAutoLabelSharePointItem',
  72: 'MipAutoLabelSharePointPolicyLocation',
  73: 'MicrosoftTeamsShifts',
  75: 'MipAutoLabelExchangeItem',
  76: 'CortanaBriefing',
  78: 'WDATPAlerts',
  82: 'SensitivityLabelPolicyMatch',
  83: 'SensitivityLabelAction',
  84: 'SensitivityLabeledFileAction',
  85: 'AttackSim',
  86: 'AirManualInvestigation',
  87: 'SecurityComplianceRBAC',
  88: 'UserTraining',
  89: 'AirAdminActionInvestigation',
  90: 'MSTIC',
  93: 'AipDiscover',
  94: 'AipSensitivityLabelAction',
  95: 'AipProtectionAction',
  96: 'AipFileDeleted',
  97: 'AipHeartBeat',
  98: 'MCASAlerts',
  101: 'ExchangeSearch',
  102: 'SharePointSearch',
  106: 'SecurityComplianceUserChange',
  107: 'ComplianceDLPExchangeClassification',
};

const USER_TYPES = [
  'Regular',
  'Reserved',
  'Admin',
  'DcAdmin',
  'System',
  'Application',
  'ServicePrincipal',
  'CustomPolicy',
  'SystemPolicy',
  'PartnerTechnician',
  'Guest',
];

export function userTypeName(value: unknown): string | null {
  const n = int(value);
  if (n === null) return str(value);
  return USER_TYPES[n] ?? String(n);
}

export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

/**
 * The common part: ids, time, workload, operation, actor, client address, user agent, generic outcome, vendor
 * fields. Per-workload mappings refine the draft afterwards.
 */
export function managementBase(record: Json, ctx: MapContext): EventDraft {
  const id = str(record.Id);
  if (id === null) throw new MappingError('audit record has no Id');
  const timestamp = toMicros(record.CreationTime) ?? ctx.fetchedMicros;
  if (timestamp === null) throw new MappingError('audit record has no parseable CreationTime and the envelope no fetchedAt');
  const recordType = int(record.RecordType);
  const operation = str(record.Operation);
  const workload = str(record.Workload);
  const draft = new EventDraft(ctx, {
    id,
    timestamp,
    dataset: 'o365.audit',
    action: operation,
    provider: workload,
    code: recordType === null ? null : (RECORD_TYPE_NAMES[recordType] ?? String(recordType)),
  });
  const ev = draft.ev;
  const m = draft.m365;
  m.record_type = recordType;
  m.workload = workload;
  m.result_status = str(record.ResultStatus);
  m.object_id = str(record.ObjectId);
  m.user_type = userTypeName(record.UserType);
  m.user_key = str(record.UserKey);
  const orgName = str(record.OrganizationName);
  if (orgName) ev.organization.name = orgName;

  const actorGuid = arrayGuid(record.Actor);
  draft.actor(record.UserId, actorGuid);
  draft.sourceFrom(record.ClientIPAddress, record.ClientIP, record.ActorIpAddress);

  const extended = nameValues(record.ExtendedProperties);
  const agent = str(record.UserAgent) ?? lookup(extended, 'UserAgent');
  if (agent) ev.user_agent = { original: agent };

  const access = isObject(record.AppAccessContext) ? record.AppAccessContext : null;
  const appId = firstStr(record, 'ApplicationId', 'AppId', 'ClientAppId') ?? (access ? (str(access.ClientAppId) ?? str(access.APIId)) : null);
  const appName = firstStr(record, 'ApplicationDisplayName') ?? (access ? str(access.ClientAppName) : null);
  if (appId || appName) m.app = { id: appId, name: appName };
  m.correlation_id = firstStr(record, 'CorrelationId') ?? (access ? str(access.CorrelationId) : null);
  m.session_id = firstStr(record, 'SessionId') ?? (access ? str(access.AADSessionId) : null);

  ev.event.outcome = outcomeFromResult(record.ResultStatus);
  const textParts: string[] = [];
  for (const [k, v] of nameValues(record.Parameters)) textParts.push(`${k}=${v}`);
  for (const [k, v] of extended) textParts.push(`${k}=${v}`);
  for (const [k, v] of nameValues(record.OperationProperties)) textParts.push(`${k}=${v}`);
  // Security & Compliance cmdlets (RecordType 18) write Parameters as the command line's text, not a Name/Value list.
  const parametersText = typeof record.Parameters === 'string' && !Array.isArray(maybeJson(record.Parameters)) ? record.Parameters.trim() : '';
  if (parametersText.length > 0) textParts.unshift(parametersText);
  if (textParts.length > 0) m.parameters_text = boundDerived(textParts.join('; '), DERIVED_TEXT_MAX_CHARS);
  const modified = modifiedPropertiesText(record.ModifiedProperties);
  if (modified) m.modified_properties_text = modified;
  // Email events (Defender for Office 365 / Exchange Online Protection) say where a message went and which way.
  m.delivery_action = firstStr(record, 'DeliveryAction', 'Delivery Action');
  m.directionality = str(record.Directionality);
  m.target_resources = managementTargets(record.Target);

  // A neutral classification; workload mappings override it.
  draft.classify({ category: categoryOfWorkload(workload), type: ['info'], classUid: 0, activityId: 0 });
  return draft;
}

export function categoryOfWorkload(workload: string | null): string[] | null {
  switch (workload) {
    case 'Exchange':
      return ['email'];
    case 'SharePoint':
    case 'OneDrive':
      return ['file'];
    case 'AzureActiveDirectory':
      return ['iam'];
    default:
      return null;
  }
}

/** The first entry of an Actor/Target list whose ID is an object GUID. */
export function arrayGuid(list: unknown): string | null {
  if (!Array.isArray(list)) return null;
  for (const item of list) if (isObject(item) && isGuid(item.ID)) return item.ID as string;
  return null;
}

/** The first Actor/Target ID that is a UPN (Type 5) or contains @. */
export function arrayUpn(list: unknown): string | null {
  if (!Array.isArray(list)) return null;
  for (const item of list) {
    if (!isObject(item)) continue;
    const id = str(item.ID);
    if (id && (item.Type === 5 || (id.includes('@') && !id.includes(' ')))) return id;
  }
  return null;
}

function shown(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

export function modifiedPropertiesText(value: unknown): string | null {
  const list = Array.isArray(value) ? value : [];
  const parts: string[] = [];
  for (const item of list) {
    if (!isObject(item)) continue;
    const name = str(item.Name) ?? str(item.displayName);
    if (!name) continue;
    parts.push(`${name}: ${shown(item.OldValue ?? item.oldValue)} -> ${shown(item.NewValue ?? item.newValue)}`);
  }
  return parts.length > 0 ? boundDerived(parts.join('; '), DERIVED_TEXT_MAX_CHARS) : null;
}

/** Generic verb-based classification for API-like operations (OCSF 6003 API Activity). */
export function apiClassification(operation: string | null, category: string[]) {
  const verb = operation ? verbOf(operation) : null;
  return { category, type: [verb ?? 'info'], classUid: 6003, activityId: crudActivity(verb) };
}

export type ManagementMapper = (record: Json, draft: EventDraft, ctx: MapContext) => void;

export function finishDraft(draft: EventDraft): SiemEvent {
  return draft.finish();
}

/** Target[] of a Management API record ({ID, Type} per identifier of the object acted on), every entry. */
export function managementTargets(list: unknown): SiemEventTargetResource[] | null {
  if (!Array.isArray(list)) return null;
  const out: SiemEventTargetResource[] = [];
  for (const item of list) {
    if (!isObject(item)) continue;
    const id = str(item.ID);
    if (id === null) continue;
    const type = item.Type === null || item.Type === undefined ? null : String(item.Type);
    out.push({ type, id, name: null, user_principal_name: item.Type === 5 ? id : null });
  }
  return out.length > 0 ? out : null;
}
