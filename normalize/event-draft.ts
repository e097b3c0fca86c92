/**
 * Builds one SIEM event: the fields every source shares, identity and address handling, related.* collection and
 * the OCSF block derived in one place so every mapping classifies the same way.
 */
import type { RawEnvelope } from '../runtime/index.ts';
import type { SiemEvent, SiemEventGeo, SiemEventM365, SiemEventUser, SiemEventUserTarget } from '../schemas/index.ts';
import { parseAddress } from './ip.ts';
import { isGuid, parseIdentity } from './user.ts';

/** Bumped whenever a mapping changes what it produces for the same input. */
export const MAPPER_VERSION = '1.2.0';

export interface MapContext {
  readonly envelope: RawEnvelope;
  /** When this event is produced (µs since epoch); injectable for golden tests. */
  readonly ingestedMicros: number;
  /** The record as JSON text (event.original); the caller may pass the text it already has. */
  readonly original: string;
  /** envelope.fetchedAt in µs, or null. */
  readonly fetchedMicros: number | null;
  /** Whether to fill m365.fields (the record flattened to dotted paths; off by default, see docs/decisions/0035). */
  readonly vendorFields: boolean;
}

export interface Classification {
  readonly kind?: 'event' | 'alert' | 'state';
  readonly category: readonly string[] | null;
  readonly type: readonly string[];
  /** OCSF class_uid (0 = base event / unknown). */
  readonly classUid: number;
  /** OCSF activity_id (0 unknown, 99 other). */
  readonly activityId: number;
}

export class EventDraft {
  readonly ev: SiemEvent;
  private readonly ips: string[] = [];
  private readonly users: string[] = [];

  constructor(ctx: MapContext, init: { id: string; timestamp: number; dataset: string; action: string | null; provider: string | null; code: string | null }) {
    const env = ctx.envelope;
    // Every field of the root, `event` and `m365` records is present from the start, in the schema's order (null when
    // unset): all events then share one hidden class per record, so the mappings' stores and the encoder's loads stay
    // monomorphic instead of each mapping growing its own shape (measured: bench/normalize.bench.ts, decision 0205).
    this.ev = {
      timestamp: init.timestamp,
      event: {
        id: init.id,
        kind: 'event',
        category: null,
        type: null,
        action: init.action,
        outcome: null,
        reason: null,
        code: init.code,
        provider: init.provider,
        dataset: init.dataset,
        module: 'm365',
        severity: null,
        created: ctx.fetchedMicros,
        ingested: ctx.ingestedMicros,
        original: ctx.original,
      },
      message: null,
      error: null,
      organization: { id: env.orgId, name: null },
      cloud: { provider: 'azure', account: { id: env.tenantId } },
      user: null,
      group: null,
      source: null,
      user_agent: null,
      related: null,
      file: null,
      url: null,
      email: null,
      rule: null,
      ocsf: null,
      m365: {
        source: env.source,
        content_type: env.contentType ?? null,
        content_id: env.contentId ?? null,
        record_type: null,
        workload: null,
        result_status: null,
        object_id: null,
        user_type: null,
        user_key: null,
        correlation_id: null,
        session_id: null,
        client_app: null,
        conditional_access_status: null,
        mapper_version: MAPPER_VERSION,
        app: null,
        resource: null,
        auth: null,
        service_principal: null,
        device: null,
        risk: null,
        mailbox: null,
        sharing: null,
        alert: null,
        registration: null,
        parameters_text: null,
        modified_properties_text: null,
        parameters: null,
        fields: null,
        home_tenant_id: null,
        resource_tenant_id: null,
        network_location_types: null,
        target_resources: null,
        delivery_action: null,
        directionality: null,
        status_additional_details: null,
        activity_details: null,
      },
      host: null,
      threat: null,
    };
  }

  get m365(): SiemEventM365 {
    return this.ev.m365 as SiemEventM365;
  }

  user(): SiemEventUser {
    // Every field present in the schema's order, for the same reason as in the constructor.
    this.ev.user ??= { id: null, name: null, email: null, domain: null, full_name: null, target: null };
    return this.ev.user;
  }

  target(): SiemEventUserTarget {
    const user = this.user();
    user.target ??= { id: null, name: null, email: null, domain: null, full_name: null };
    return user.target;
  }

  /** Sets source.geo (Microsoft's own geolocation), with or without a client address. */
  sourceGeo(geo: SiemEventGeo): void {
    this.ev.source ??= { address: null, ip: null, port: null, geo: null };
    this.ev.source.geo = geo;
  }

  relatedIp(ip: string | null | undefined): void {
    if (ip && !this.ips.includes(ip)) this.ips.push(ip);
  }

  relatedUser(user: string | null | undefined): void {
    if (!user) return;
    const u = user.toLowerCase();
    if (!this.users.includes(u)) this.users.push(u);
  }

  /** Sets the acting user from a UPN or account name, an object id (kept only when it is a GUID) and a display name. */
  actor(upnOrName: unknown, objectId?: unknown, fullName?: unknown): void {
    const identity = parseIdentity(upnOrName);
    const id = isGuid(objectId) ? objectId.toLowerCase() : null;
    const full = typeof fullName === 'string' && fullName.trim().length > 0 ? fullName : null;
    if (!identity && !id && !full) return;
    const user = this.user();
    if (identity) {
      user.name = identity.name;
      if (identity.email) {
        user.email = identity.email;
        user.domain = identity.domain;
        this.relatedUser(identity.email);
      } else this.relatedUser(identity.name);
    }
    if (id) {
      user.id = id;
      this.relatedUser(id);
    }
    if (full) user.full_name = full;
  }

  /** Sets the affected user (user.target). */
  targetUser(upnOrName: unknown, objectId?: unknown, fullName?: unknown): void {
    const identity = parseIdentity(upnOrName);
    const id = isGuid(objectId) ? objectId.toLowerCase() : null;
    const full = typeof fullName === 'string' && fullName.trim().length > 0 ? fullName : null;
    if (!identity && !id && !full) return;
    const t = this.target();
    if (identity) {
      if (identity.email) {
        t.email = identity.email;
        t.name = identity.name;
        t.domain = identity.domain;
        this.relatedUser(identity.email);
      } else t.name ??= identity.name;
    }
    if (id) {
      t.id = id;
      this.relatedUser(id);
    }
    if (full) t.full_name = full;
  }

  /** Sets source.address/ip/port from the first candidate that is present; every parsed IP goes to related.ip. */
  sourceFrom(...candidates: unknown[]): void {
    for (const raw of candidates) {
      const parsed = parseAddress(raw);
      if (!parsed) continue;
      if (!this.ev.source) {
        this.ev.source = { address: (raw as string).trim(), ip: parsed.ip, port: parsed.port, geo: null };
      }
      this.relatedIp(parsed.ip);
    }
  }

  classify(c: Classification): void {
    if (c.kind) this.ev.event.kind = c.kind;
    // Classifications are built per call (never shared), so the arrays are used as they are.
    this.ev.event.category = c.category as string[] | null;
    this.ev.event.type = c.type as string[];
    this.ocsfClass = c.classUid;
    this.ocsfActivity = c.activityId;
  }

  private ocsfClass = 0;
  private ocsfActivity = 0;

  finish(): SiemEvent {
    const ev = this.ev;
    if (this.ips.length > 0 || this.users.length > 0) {
      ev.related = { ip: this.ips.length > 0 ? this.ips : null, user: this.users.length > 0 ? this.users : null };
    }
    const outcome = ev.event.outcome;
    const statusId = outcome === 'success' ? 1 : outcome === 'failure' ? 2 : 0;
    const severity = ev.event.severity;
    ev.ocsf = {
      class_uid: this.ocsfClass,
      category_uid: Math.floor(this.ocsfClass / 1000),
      activity_id: this.ocsfActivity,
      type_uid: this.ocsfClass * 100 + this.ocsfActivity,
      status_id: outcome === null || outcome === undefined ? null : statusId,
      severity_id: typeof severity === 'number' ? severity : 1,
    };
    return ev;
  }
}

/**
 * The one severity map: Microsoft's severity and risk-level words → ECS event.severity / OCSF severity_id
 * (1 informational … 4 high, 5 critical). Alerts, incidents, DLP rules, audit records and risk levels all use it;
 * a word it does not hold (risk levels `hidden`, `none`, `unknownFutureValue`) has no severity.
 */
const SEVERITY_IDS: ReadonlyMap<string, number> = new Map([
  ['informational', 1],
  ['info', 1],
  ['low', 2],
  ['medium', 3],
  ['high', 4],
  ['critical', 5],
]);

export function severityNumber(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  return SEVERITY_IDS.get(value.trim().toLowerCase()) ?? null;
}

/** Outcome from Microsoft's generic result words (never used for STS logons). */
export function outcomeFromResult(value: unknown): 'success' | 'failure' | 'unknown' {
  if (typeof value === 'boolean') return value ? 'success' : 'failure';
  if (typeof value !== 'string') return 'unknown';
  switch (value.trim().toLowerCase()) {
    case 'succeeded':
    case 'success':
    case 'partiallysucceeded':
    case 'true':
      return 'success';
    case 'failed':
    case 'failure':
    case 'false':
    case 'timeout':
      return 'failure';
    default:
      return 'unknown';
  }
}

/** Classifies an operation name by its verb (Add/New/Create…, Set/Update…, Remove/Delete…, Get/View…). */
export function verbOf(operation: string): 'creation' | 'change' | 'deletion' | 'access' | null {
  const op = operation.toLowerCase();
  if (/^(new|add|create|consent|register|install|upload|restore)/.test(op)) return 'creation';
  if (/^(remove|delete|hard ?delete|soft ?delete|uninstall)/.test(op)) return 'deletion';
  if (/^(set|update|change|reset|enable|disable|modify|edit|move|rename|assign|grant|revoke|apply|start|stop)/.test(op)) return 'change';
  if (/^(get|view|read|search|export|list|test|download|preview|open|access)/.test(op)) return 'access';
  return null;
}

/** CRUD activity ids shared by OCSF 3004 Entity Management and 6003 API Activity (Create 1, Read 2, Update 3, Delete 4). */
export function crudActivity(verb: ReturnType<typeof verbOf>): number {
  switch (verb) {
    case 'creation':
      return 1;
    case 'access':
      return 2;
    case 'change':
      return 3;
    case 'deletion':
      return 4;
    default:
      return 99;
  }
}
