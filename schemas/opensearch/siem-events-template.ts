/**
 * The OpenSearch layout of SIEM events: one composable index template for the daily indices
 * `<prefix>-YYYY.MM.DD`, explicit ECS mappings that agree with the Avro schema (tests/index/template-coverage.test.ts
 * walks every Avro field), and the vendor namespaces stored as `flat_object` so Microsoft's open-ended records never
 * explode the mapping. Works on a bare OpenSearch 2.19 node: only core field types (no analysis-common, no
 * painless, no mapper-extras), see docs/decisions/0041-index-template-and-mappings.md.
 */
import { SECURITY_ANALYTICS_ALIASES } from './security-analytics.ts';

/** A field mapping as OpenSearch accepts it (a leaf type or an object with `properties`). */
export interface FieldMapping {
  type?: string;
  properties?: Record<string, FieldMapping>;
  [option: string]: unknown;
}

/** Bumped whenever the mappings or settings change; stored in the template's `_meta`. */
export const SIEM_EVENTS_TEMPLATE_VERSION = 5;

/** Keywords longer than this are kept in `_source` but not indexed (a huge value must not fail the document). */
const KEYWORD_IGNORE_ABOVE = 1024;

const keyword = (): FieldMapping => ({ type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE });
/**
 * The case-insensitive twin of a keyword: `<field>.ci`, lower-cased by OpenSearch's built-in `lowercase` normalizer
 * (core, no analysis-common needed), which query_string applies to terms and wildcard patterns alike. Microsoft writes
 * "Update application" where rules say "Update Application"; Sigma's values are case-insensitive (decision 0121).
 */
const CASE_INSENSITIVE = { ci: { type: 'keyword', normalizer: 'lowercase', ignore_above: KEYWORD_IGNORE_ABOVE } };
const keywordCi = (): FieldMapping => ({ type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE, fields: CASE_INSENSITIVE });
/** Free text that detection engineers search by words and also aggregate/match exactly (and case-insensitively). */
const textWithKeyword = (): FieldMapping => ({
  type: 'text',
  fields: { keyword: { type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE }, ...CASE_INSENSITIVE },
});
const long = (): FieldMapping => ({ type: 'long' });
const integer = (): FieldMapping => ({ type: 'integer' });
const ip = (): FieldMapping => ({ type: 'ip' });
const bool = (): FieldMapping => ({ type: 'boolean' });
const date = (): FieldMapping => ({ type: 'date', format: 'strict_date_optional_time||epoch_millis' });
const geoPoint = (): FieldMapping => ({ type: 'geo_point' });
/** Kept verbatim in `_source` for investigation; not searchable, costs no index space. */
const storedOnly = (): FieldMapping => ({ type: 'keyword', index: false, doc_values: false });
/** Open-ended vendor data: every leaf searchable as keyword under one field, no per-key mapping. */
const flatObject = (): FieldMapping => ({ type: 'flat_object' });
const object = (properties: Record<string, FieldMapping>): FieldMapping => ({ properties });

/** Substring-searchable text (Sigma `contains` rules): the wildcard field type is core in OpenSearch 2.15+. */
const wildcard = (): FieldMapping => ({ type: 'wildcard' });
/**
 * Joined Name=Value text, substring-searchable case-sensitively (`wildcard`, any length) and case-insensitively through
 * `.ci` (the wildcard type takes no normalizer that query_string applies to patterns; measured on 2.19.3). Texts beyond
 * 8,191 characters are only in the case-sensitive field.
 */
const wildcardCi = (): FieldMapping => ({ ...wildcard(), fields: { ci: { type: 'keyword', normalizer: 'lowercase', ignore_above: 8191 } } });

const userFields = (): Record<string, FieldMapping> => ({
  id: keyword(),
  name: keyword(),
  email: keyword(),
  domain: keyword(),
  full_name: textWithKeyword(),
});

/**
 * The document properties, field for field the newest Avro schema `schemas/avro/siem-event.v*.avsc` (Avro `timestamp` is
 * written as `@timestamp`); tests/index/template-coverage.test.ts checks both directions and the types. Dotted names
 * in queries (`source.geo.location`) are this nesting. Multi-valued fields (event.category, related.ip, …) need no
 * special mapping: every field holds arrays. The two Avro maps (`m365.parameters`, `m365.fields`: Microsoft's record
 * flattened to dotted path → string) are `flat_object`: every key searchable, no mapping growth.
 */
export const siemEventProperties: Record<string, FieldMapping> = {
  '@timestamp': date(),
  event: object({
    id: keyword(),
    kind: keyword(),
    category: keyword(),
    type: keyword(),
    action: keywordCi(),
    outcome: keywordCi(),
    reason: textWithKeyword(),
    code: keywordCi(),
    provider: keywordCi(),
    dataset: keyword(),
    module: keyword(),
    severity: integer(),
    created: date(),
    ingested: date(),
    original: storedOnly(),
  }),
  message: textWithKeyword(),
  error: object({ code: keywordCi(), message: textWithKeyword() }),
  organization: object({ id: keyword(), name: keyword() }),
  cloud: object({ provider: keyword(), account: object({ id: keyword() }) }),
  user: object({ ...userFields(), target: object(userFields()) }),
  group: object({ id: keyword(), name: keyword() }),
  source: object({
    address: keyword(),
    ip: ip(),
    port: integer(),
    geo: object({
      city_name: keyword(),
      region_name: keyword(),
      country_iso_code: keyword(),
      location: geoPoint(),
    }),
  }),
  user_agent: object({ original: textWithKeyword() }),
  related: object({ ip: ip(), user: keyword(), hosts: keywordCi(), hash: keyword() }),
  file: object({
    name: keyword(),
    extension: keyword(),
    directory: keyword(),
    path: keyword(),
    target_path: keyword(),
    hash: object({ sha1: keyword(), sha256: keyword() }),
  }),
  url: object({ original: keyword(), domain: keyword() }),
  email: object({
    subject: textWithKeyword(),
    message_id: keyword(),
    from: object({ address: keyword() }),
    to: object({ address: keyword() }),
  }),
  rule: object({ id: keyword(), name: keywordCi(), category: keywordCi(), description: textWithKeyword() }),
  ocsf: object({
    class_uid: integer(),
    category_uid: integer(),
    activity_id: integer(),
    type_uid: integer(),
    status_id: integer(),
    severity_id: integer(),
  }),
  /** Our normalized cross-source extras (siem-schema.md § 6.3). */
  m365: object({
    source: keywordCi(),
    content_type: keywordCi(),
    content_id: keywordCi(),
    record_type: integer(),
    workload: keywordCi(),
    result_status: keywordCi(),
    object_id: keywordCi(),
    user_type: keywordCi(),
    user_key: keywordCi(),
    correlation_id: keywordCi(),
    session_id: keywordCi(),
    client_app: keywordCi(),
    conditional_access_status: keywordCi(),
    mapper_version: keywordCi(),
    app: object({ id: keywordCi(), name: keywordCi() }),
    resource: object({ id: keywordCi(), name: keywordCi() }),
    auth: object({
      requirement: keywordCi(),
      protocol: keywordCi(),
      result_detail: keywordCi(),
      is_interactive: bool(),
      sign_in_type: keywordCi(),
      client_credential_type: keywordCi(),
      incoming_token_type: keywordCi(),
    }),
    service_principal: object({
      id: keywordCi(),
      name: keywordCi(),
      credential_key_id: keywordCi(),
      managed_identity_type: keywordCi(),
      managed_identity_resource_id: keywordCi(),
    }),
    device: object({
      id: keywordCi(),
      name: keywordCi(),
      os: keywordCi(),
      browser: keywordCi(),
      is_compliant: bool(),
      is_managed: bool(),
      trust_type: keywordCi(),
    }),
    risk: object({
      level: keywordCi(),
      level_during_sign_in: keywordCi(),
      state: keywordCi(),
      detail: keywordCi(),
      event_types: keywordCi(),
      detection_timing: keywordCi(),
      source: keywordCi(),
    }),
    mailbox: object({
      owner_upn: keywordCi(),
      guid: keywordCi(),
      logon_type: keywordCi(),
      external_access: bool(),
      operation_count: long(),
      access_type: keywordCi(),
      folders: keywordCi(),
    }),
    sharing: object({ target_name: keywordCi(), target_type: keywordCi(), sharing_type: keywordCi(), site_url: keywordCi() }),
    alert: object({
      id: keywordCi(),
      status: keywordCi(),
      entity_type: keywordCi(),
      severity: keywordCi(),
      classification: keywordCi(),
      determination: keywordCi(),
      assigned_to: keywordCi(),
      incident_id: keywordCi(),
      service_source: keywordCi(),
      detection_source: keywordCi(),
      title: textWithKeyword(),
      updated: keywordCi(),
    }),
    registration: object({
      is_admin: bool(),
      is_mfa_registered: bool(),
      is_mfa_capable: bool(),
      is_sspr_registered: bool(),
      is_passwordless_capable: bool(),
      methods: keywordCi(),
      preferred_method: keywordCi(),
    }),
    parameters_text: wildcardCi(),
    modified_properties_text: wildcardCi(),
    /** Vendor namespace: Exchange cmdlet parameters and Microsoft's whole record, Name → Value. */
    parameters: flatObject(),
    fields: flatObject(),
    // schema v3
    home_tenant_id: keywordCi(),
    resource_tenant_id: keywordCi(),
    network_location_types: keywordCi(),
    target_resources: object({ type: keywordCi(), id: keywordCi(), name: keywordCi(), user_principal_name: keywordCi() }),
    delivery_action: keywordCi(),
    directionality: keywordCi(),
    status_additional_details: keywordCi(),
    // schema v5
    activity_details: keywordCi(),
  }),
  host: object({ id: keyword(), name: keywordCi(), ip: ip(), os: object({ platform: keywordCi() }) }),
  threat: object({ technique: object({ id: keyword() }) }),
};

/**
 * Where the indexer puts Microsoft's record itself, parsed, with Microsoft's own field names
 * (`m365.record.Operation`, `m365.record.status.errorCode`, `m365.record.targetResources.type`): the text of
 * `event.original` spliced into `_source` as a JSON object, no parsing in the indexer (decision 0120). It is not an
 * Avro field: the indexer derives it, so the template maps it beside the Avro-mirroring properties.
 */
export const VENDOR_RECORD_PATH = 'm365.record';

/** An alias field (Security Analytics' paths, decision 0123); it may name a `.ci` twin, whose normalizer queries then apply. */
const alias = (path: string): FieldMapping => ({ type: 'alias', path });

/** Puts `mapping` at the dotted `path` inside `properties` (creating objects on the way). */
function setPath(properties: Record<string, FieldMapping>, path: string, mapping: FieldMapping): void {
  const parts = path.split('.');
  let level = properties;
  for (const part of parts.slice(0, -1)) {
    level[part] ??= { properties: {} };
    const next = level[part];
    if (next.type !== undefined) throw new Error(`${path}: ${part} is a ${next.type}, not an object`);
    level = next.properties ??= {};
  }
  const leaf = parts[parts.length - 1]!;
  if (level[leaf] !== undefined) throw new Error(`${path} is already mapped`);
  level[leaf] = mapping;
}

/** The Avro-mirroring properties plus what the index adds: the vendor record and the Security Analytics aliases. */
export function indexProperties(): Record<string, FieldMapping> {
  const out = structuredClone(siemEventProperties);
  setPath(out, VENDOR_RECORD_PATH, flatObject());
  for (const [path, target] of Object.entries(SECURITY_ANALYTICS_ALIASES)) setPath(out, path, alias(target));
  return out;
}

export interface SiemEventsTemplateOptions {
  /** Index name prefix; daily indices are `<prefix>-YYYY.MM.DD` and the read alias is `<prefix>`. */
  prefix: string;
  shards: number;
  replicas: number;
  refreshInterval: string;
}

export const DEFAULT_TEMPLATE_OPTIONS: SiemEventsTemplateOptions = {
  prefix: 'siem-events',
  shards: 1,
  replicas: 1,
  refreshInterval: '1s',
};

/** The body of `PUT _index_template/<prefix>`. */
export function buildSiemEventsTemplate(options: Partial<SiemEventsTemplateOptions> = {}) {
  const o = { ...DEFAULT_TEMPLATE_OPTIONS, ...options };
  return {
    index_patterns: [`${o.prefix}-*`],
    priority: 100,
    version: SIEM_EVENTS_TEMPLATE_VERSION,
    _meta: { managed_by: 'm365-siem index', description: 'SIEM events, one daily index per event day (UTC)' },
    template: {
      settings: {
        number_of_shards: o.shards,
        number_of_replicas: o.replicas,
        refresh_interval: o.refreshInterval,
        // ECS objects are many but finite; the vendor data is flat_object, so this limit guards against drift only.
        'mapping.total_fields.limit': 2000,
      },
      mappings: {
        // Unknown fields stay in _source but are not indexed: a newer Avro schema rolled out before the template
        // never turns events into dead letters (docs/decisions/0041).
        dynamic: false,
        date_detection: false,
        properties: indexProperties(),
      },
      aliases: { [o.prefix]: {} },
    },
  };
}

const SAFE_ALIAS_PART = /^[a-z0-9][a-z0-9_.-]{0,199}$/;

/**
 * Name of the filtered per-organization read alias, or null when the organization id cannot be part of an
 * OpenSearch name as it is (upper case, `:`, `/`, spaces, …). Rewriting such ids could make two organizations share
 * an alias, which is an access-control leak, so they get no alias instead (and the indexer warns once).
 */
export function organizationAliasName(prefix: string, orgId: string): string | null {
  return SAFE_ALIAS_PART.test(orgId) ? `${prefix}-org-${orgId}` : null;
}

/** Filter of the per-organization alias: only that organization's documents. */
export function organizationAliasFilter(orgId: string) {
  return { term: { 'organization.id': orgId } };
}

/**
 * Every mapped leaf as a dotted path with its type; `flat_object` fields are leaves that accept any sub-path.
 * Multi-fields (`message.keyword`) are not listed.
 */
export function mappedLeafPaths(properties: Record<string, FieldMapping> = siemEventProperties, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, mapping] of Object.entries(properties)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (mapping.properties) for (const [p, t] of mappedLeafPaths(mapping.properties, path)) out.set(p, t);
    else out.set(path, mapping.type ?? 'object');
  }
  return out;
}
