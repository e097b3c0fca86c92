/**
 * Picks the mapping for an envelope: Management Activity records by RecordType (a record maps the same whichever
 * content type delivered it), Graph records by source.
 */
import { flattenVendorRecord, type SiemEvent } from '../../schemas/index.ts';
import type { MapContext } from '../event-draft.ts';
import { int, str, type Json } from '../record-values.ts';
import { managementBase, apiClassification, type ManagementMapper } from './management-common.ts';
import { mapEntraAccountLogon, mapEntraDirectory, mapEntraStsLogon } from './management-entra.ts';
import { mapExchangeAdmin, mapExchangeMailbox } from './management-exchange.ts';
import { mapSharePoint } from './management-sharepoint.ts';
import { mapPowerBi, mapSecurityAlert, mapTeams } from './management-general.ts';
import { mapDlp } from './management-dlp.ts';
import { mapGraphSignIn } from './graph-sign-ins.ts';
import { mapGraphDirectoryAudit } from './graph-directory-audits.ts';
import { mapGraphRiskDetection, mapGraphRiskyUser, mapGraphServicePrincipalRiskDetection } from './graph-risk.ts';
import { mapGraphSecurityAlert, mapGraphSecurityIncident } from './graph-security.ts';
import { mapGraphProvisioning } from './graph-provisioning.ts';
import { mapGraphRegistrationDetails } from './graph-registration.ts';

export { MappingError } from './management-common.ts';

const BY_RECORD_TYPE: Readonly<Record<number, ManagementMapper>> = {
  15: mapEntraStsLogon,
  9: mapEntraAccountLogon,
  8: mapEntraDirectory,
  1: mapExchangeAdmin,
  10: mapExchangeAdmin,
  18: mapExchangeAdmin,
  23: mapExchangeAdmin,
  2: mapExchangeMailbox,
  3: mapExchangeMailbox,
  19: mapExchangeMailbox,
  50: mapExchangeMailbox,
  4: mapSharePoint,
  6: mapSharePoint,
  7: mapSharePoint,
  14: mapSharePoint,
  36: mapSharePoint,
  37: mapSharePoint,
  54: mapSharePoint,
  55: mapSharePoint,
  56: mapSharePoint,
  25: mapTeams,
  57: mapTeams,
  40: mapSecurityAlert,
  20: mapPowerBi,
  11: mapDlp,
  13: mapDlp,
  33: mapDlp,
  63: mapDlp,
  107: mapDlp,
};

const CMDLET = /^[A-Z][a-z]+-[A-Za-z]+$/;

function managementMapperFor(record: Json): ManagementMapper | null {
  const recordType = int(record.RecordType);
  const byType = recordType === null ? undefined : BY_RECORD_TYPE[recordType];
  if (byType) return byType;
  const operation = str(record.Operation) ?? '';
  if (operation === 'UserLoggedIn' || operation === 'UserLoginFailed') return mapEntraStsLogon;
  switch (str(record.Workload)) {
    case 'SharePoint':
    case 'OneDrive':
      return mapSharePoint;
    case 'MicrosoftTeams':
      return mapTeams;
  }
  if (CMDLET.test(operation)) return (_r, draft) => draft.classify(apiClassification(operation, ['api']));
  // Unknown record type: the common fields and the neutral classification stay.
  return null;
}

export function mapRecord(record: Json, ctx: MapContext): SiemEvent {
  const event = mapBySource(record, ctx);
  if (ctx.vendorFields && event.m365) event.m365.fields = flattenVendorRecord(record);
  return event;
}

function mapBySource(record: Json, ctx: MapContext): SiemEvent {
  switch (ctx.envelope.source) {
    case 'graph:signIns':
    case 'graph:nonInteractiveSignIns':
    case 'graph:servicePrincipalSignIns':
    case 'graph:managedIdentitySignIns':
      return mapGraphSignIn(record, ctx);
    case 'graph:directoryAudits':
      return mapGraphDirectoryAudit(record, ctx);
    case 'graph:riskDetections':
      return mapGraphRiskDetection(record, ctx);
    case 'graph:riskyUsers':
      return mapGraphRiskyUser(record, ctx);
    case 'graph:userRegistrationDetails':
      return mapGraphRegistrationDetails(record, ctx);
    case 'graph:servicePrincipalRiskDetections':
      return mapGraphServicePrincipalRiskDetection(record, ctx);
    case 'graph:provisioning':
      return mapGraphProvisioning(record, ctx);
    case 'graph:securityAlerts':
      return mapGraphSecurityAlert(record, ctx);
    case 'graph:securityIncidents':
      return mapGraphSecurityIncident(record, ctx);
    default: {
      const draft = managementBase(record, ctx);
      managementMapperFor(record)?.(record, draft, ctx);
      return draft.finish();
    }
  }
}
