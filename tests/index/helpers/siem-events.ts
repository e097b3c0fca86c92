import { randomUUID } from 'node:crypto';
import { encodeSiemEvent, type SiemEvent } from '../../../schemas/index.ts';

/**
 * Simulator-like SIEM events, shaped as the normalizer writes them (ECS names, Microsoft's fields under
 * m365.fields), for the indexer tests. Times are microseconds since the epoch.
 */
export const micros = (ms: number): number => ms * 1000;

export interface EventOptions {
  orgId: string;
  atMs?: number;
  id?: string;
}

const base = (o: EventOptions, dataset: string): SiemEvent => ({
  timestamp: micros(o.atMs ?? Date.now()),
  event: { id: o.id ?? randomUUID(), dataset, kind: 'event', module: 'm365', ingested: micros(Date.now()) },
  organization: { id: o.orgId, name: `Org ${o.orgId}` },
  cloud: { provider: 'azure', account: { id: `tenant-${o.orgId}` } },
});

export function signIn(o: EventOptions & { user: string; outcome: 'success' | 'failure'; country: string; ip: string; errorCode?: string }): SiemEvent {
  const e = base(o, 'azure.signinlogs');
  const [name, domain] = o.user.split('@');
  return {
    ...e,
    event: {
      ...e.event,
      category: ['authentication'],
      type: ['start'],
      action: 'Sign-in activity',
      outcome: o.outcome,
      provider: 'AzureActiveDirectory',
      code: 'SignInLogs',
      reason: o.outcome === 'failure' ? 'Invalid username or password.' : null,
    },
    error: o.outcome === 'failure' ? { code: o.errorCode ?? '50126', message: 'Invalid username or password.' } : null,
    user: { id: randomUUID(), email: o.user, name: name ?? null, domain: domain ?? null, full_name: name ?? null },
    source: { address: o.ip, ip: o.ip, geo: { country_iso_code: o.country, city_name: 'Somewhere', location: { lat: 47.6, lon: -122.3 } } },
    related: { ip: [o.ip], user: [o.user] },
    user_agent: { original: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' },
    ocsf: { class_uid: 3002, category_uid: 3, activity_id: 1, type_uid: 300201, status_id: o.outcome === 'success' ? 1 : 2 },
    m365: {
      source: 'graph:signIns',
      app: { id: '00000002-0000-0ff1-ce00-000000000000', name: 'Office 365 Exchange Online' },
      fields: { 'status.errorCode': o.outcome === 'success' ? '0' : (o.errorCode ?? '50126') },
    },
  };
}

export function inboxRule(o: EventOptions & { user: string; ruleName: string; forwardTo?: string; redirectTo?: string }): SiemEvent {
  const e = base(o, 'o365.audit');
  const parameters: Record<string, string> = { Name: o.ruleName, Mailbox: o.user };
  if (o.forwardTo) parameters.ForwardTo = o.forwardTo;
  if (o.redirectTo) parameters.RedirectTo = o.redirectTo;
  const fields: Record<string, string> = { Operation: 'New-InboxRule', Workload: 'Exchange', RecordType: '1' };
  for (const [k, v] of Object.entries(parameters)) fields[`Parameters.${k}`] = v;
  return {
    ...e,
    event: {
      ...e.event,
      category: ['email', 'configuration'],
      type: ['creation'],
      action: 'New-InboxRule',
      outcome: 'success',
      provider: 'Exchange',
      code: 'ExchangeAdmin',
    },
    user: { email: o.user, name: o.user.split('@')[0] ?? null, domain: o.user.split('@')[1] ?? null },
    source: { ip: '203.0.113.7', address: '203.0.113.7:51234', port: 51234 },
    related: { user: [o.user], ip: ['203.0.113.7'] },
    m365: {
      source: 'management:Audit.Exchange',
      content_type: 'Audit.Exchange',
      workload: 'Exchange',
      record_type: 1,
      parameters,
      parameters_text: Object.entries(parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join('; '),
      fields,
    },
  };
}

export function fileDownload(o: EventOptions & { user: string; file: string }): SiemEvent {
  const e = base(o, 'o365.audit');
  return {
    ...e,
    event: {
      ...e.event,
      category: ['file'],
      type: ['access'],
      action: 'FileDownloaded',
      outcome: 'success',
      provider: 'SharePoint',
      code: 'SharePointFileOperation',
    },
    user: { email: o.user, name: o.user.split('@')[0] ?? null, domain: o.user.split('@')[1] ?? null },
    source: { ip: '198.51.100.23', address: '198.51.100.23' },
    file: { name: o.file, extension: o.file.split('.').pop() ?? null, directory: 'Shared Documents/Finance' },
    url: { original: `https://contoso.sharepoint.com/sites/finance/Shared Documents/Finance/${o.file}`, domain: 'contoso.sharepoint.com' },
    m365: {
      source: 'management:Audit.SharePoint',
      content_type: 'Audit.SharePoint',
      workload: 'SharePoint',
      record_type: 6,
      fields: { Operation: 'FileDownloaded', SourceFileName: o.file },
    },
  };
}

/** A generic sign-in used for volume tests; its event id is `evt-<i>` (deterministic). */
export function anyEvent(orgId: string, i: number, atMs = Date.now()): SiemEvent {
  return signIn({
    orgId,
    atMs,
    id: `evt-${i}`,
    user: `user${i % 50}@${orgId}.example`,
    outcome: i % 7 === 0 ? 'failure' : 'success',
    country: ['US', 'DE', 'FR'][i % 3]!,
    ip: `10.0.${Math.floor(i / 250) % 250}.${i % 250}`,
  });
}

export const encode = (e: SiemEvent): Buffer => encodeSiemEvent(e);
