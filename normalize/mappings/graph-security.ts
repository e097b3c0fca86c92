/**
 * Defender XDR through Graph: alerts (`/security/alerts_v2`) and incidents (`/security/incidents`). Both change in
 * place; every change Microsoft serves (status, classification, determination, assignment) is its own event, with
 * event.id derived from the alert or incident id and its lastUpdateDateTime, and @timestamp the time of the change.
 * `m365.alert.id` stays the alert's own id across its events: the latest state is the newest event of that id
 * (docs/querying-updates.md). The alert's evidence goes to the ECS fields detection engineers join on: user.*,
 * host.*, source.ip, file.*, related.{user,ip,hosts,hash}; its MITRE techniques to threat.technique.id.
 */
import type { SiemEvent } from '../../schemas/index.ts';
import { severityNumber, type EventDraft, type MapContext } from '../event-draft.ts';
import { arr, isObject, str, type Json } from '../record-values.ts';
import { derivedEventId, graphDraft } from './graph-common.ts';
import { MappingError } from './management-common.ts';

/** The id of one version of an alert or incident: stable for the same change, new for every change. */
function versionId(source: string, record: Json): { id: string; objectId: string } {
  const objectId = str(record.id);
  if (objectId === null) throw new MappingError(`${source} record has no id`);
  const updated = str(record.lastUpdateDateTime) ?? str(record.createdDateTime) ?? '';
  return {
    objectId,
    id: derivedEventId(
      source,
      objectId,
      updated,
      str(record.status) ?? '',
      str(record.classification) ?? '',
      str(record.determination) ?? '',
      str(record.assignedTo) ?? '',
    ),
  };
}

function triageState(draft: EventDraft, record: Json, kind: 'alert' | 'incident', objectId: string): void {
  draft.m365.alert = {
    id: objectId,
    status: str(record.status),
    entity_type: kind,
    severity: str(record.severity),
    classification: str(record.classification),
    determination: str(record.determination),
    assigned_to: str(record.assignedTo),
    incident_id: kind === 'alert' ? str(record.incidentId) : objectId,
    service_source: str(record.serviceSource),
    detection_source: str(record.detectionSource),
    title: str(record.title) ?? str(record.displayName),
    updated: str(record.lastUpdateDateTime),
  };
  const severity = severityNumber(record.severity);
  if (severity !== null) draft.ev.event.severity = severity;
  const status = str(record.status);
  if (status) draft.ev.event.reason = status;
}

interface Evidence {
  hosts: string[];
  hashes: string[];
}

/** Evidence of one alert into ECS fields: the first of each kind fills the single-valued fields, all go to related.*. */
function applyEvidence(draft: EventDraft, record: Json): Evidence {
  const ev = draft.ev;
  const out: Evidence = { hosts: [], hashes: [] };
  const add = (list: string[], v: string | null) => {
    if (v && !list.includes(v)) list.push(v);
  };
  for (const item of arr(record.evidence)) {
    if (!isObject(item)) continue;
    const type = str(item['@odata.type'])?.replace('#microsoft.graph.security.', '');
    if (type === 'userEvidence' || type === 'mailboxEvidence') {
      const account = isObject(item.userAccount) ? item.userAccount : {};
      const upn = str(account.userPrincipalName) ?? str(item.primaryAddress);
      if (!ev.user) draft.actor(upn ?? account.accountName, account.azureAdUserId, account.displayName ?? item.displayName);
      else {
        draft.relatedUser(upn);
        draft.relatedUser(str(account.azureAdUserId));
      }
      if (type === 'mailboxEvidence') {
        const address = str(item.primaryAddress);
        draft.relatedUser(address);
        draft.m365.mailbox ??= { owner_upn: address };
      }
    } else if (type === 'deviceEvidence') {
      const name = str(item.deviceDnsName);
      const ips = arr(item.ipInterfaces)
        .map(str)
        .filter((x): x is string => x !== null);
      if (!ev.host)
        ev.host = { id: str(item.mdeDeviceId) ?? str(item.azureAdDeviceId), name, ip: ips.length > 0 ? ips : null, os: { platform: str(item.osPlatform) } };
      add(out.hosts, name);
      for (const ip of ips) draft.relatedIp(ip);
    } else if (type === 'ipEvidence') {
      // The remote address the alert names is the event's source; device interfaces only join through related.ip.
      draft.sourceFrom(item.ipAddress);
    } else if (type === 'fileEvidence' || type === 'processEvidence') {
      const file = isObject(item.fileDetails) ? item.fileDetails : isObject(item.imageFile) ? item.imageFile : null;
      if (!file) continue;
      const sha1 = str(file.sha1);
      const sha256 = str(file.sha256);
      if (!ev.file) {
        const name = str(file.fileName);
        const directory = str(file.filePath);
        const dot = name?.lastIndexOf('.') ?? -1;
        ev.file = {
          name,
          directory,
          path: name && directory ? `${directory.replace(/[\\/]+$/, '')}\\${name}` : name,
          extension: name && dot > 0 ? name.slice(dot + 1).toLowerCase() : null,
          hash: sha1 || sha256 ? { sha1, sha256 } : null,
        };
      }
      add(out.hashes, sha1);
      add(out.hashes, sha256);
    }
  }
  return out;
}

export function mapGraphSecurityAlert(record: Json, ctx: MapContext): SiemEvent {
  const { id, objectId } = versionId('graph:securityAlerts', record);
  const draft = graphDraft(record, ctx, {
    timeFields: ['lastUpdateDateTime', 'createdDateTime'],
    dataset: 'm365_defender.alert',
    action: str(record.status),
    provider: str(record.serviceSource),
    code: 'alert',
    id,
  });
  draft.classify({
    kind: 'alert',
    category: ['intrusion_detection', 'threat'],
    type: ['info', 'indicator'],
    classUid: 2004,
    activityId: record.resolvedDateTime ? 3 : record.assignedTo ? 2 : 1,
  });
  triageState(draft, record, 'alert', objectId);
  const ev = draft.ev;
  ev.message = str(record.title);
  const title = str(record.title);
  ev.rule = {
    id: str(record.detectorId) ? [str(record.detectorId) as string] : null,
    name: title ? [title] : null,
    category: str(record.category),
    description: str(record.description),
  };
  const techniques = arr(record.mitreTechniques)
    .map(str)
    .filter((x): x is string => x !== null);
  if (techniques.length > 0) ev.threat = { technique: { id: techniques } };
  const evidence = applyEvidence(draft, record);
  const out = draft.finish();
  if (evidence.hosts.length > 0 || evidence.hashes.length > 0) {
    out.related = {
      ...(out.related ?? {}),
      hosts: evidence.hosts.length > 0 ? evidence.hosts : null,
      hash: evidence.hashes.length > 0 ? evidence.hashes : null,
    };
  }
  return out;
}

export function mapGraphSecurityIncident(record: Json, ctx: MapContext): SiemEvent {
  const { id, objectId } = versionId('graph:securityIncidents', record);
  const draft = graphDraft(record, ctx, {
    timeFields: ['lastUpdateDateTime', 'createdDateTime'],
    dataset: 'm365_defender.incident',
    action: str(record.status),
    provider: 'microsoft365Defender',
    code: 'incident',
    id,
  });
  draft.classify({
    kind: 'alert',
    category: ['intrusion_detection', 'threat'],
    type: ['info'],
    classUid: 2005,
    activityId: str(record.status) === 'resolved' ? 3 : record.assignedTo ? 2 : 1,
  });
  triageState(draft, record, 'incident', objectId);
  draft.ev.message = str(record.displayName);
  draft.ev.url = { original: str(record.incidentWebUrl), domain: 'security.microsoft.com' };
  const assignee = str(record.assignedTo);
  if (assignee) draft.relatedUser(assignee);
  return draft.finish();
}
