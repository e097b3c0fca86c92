/**
 * The OpenSearch layout of SIEM events: one composable index template for the daily indices
 * `<prefix>-YYYY.MM.DD`, explicit ECS mappings that agree with the Avro schema (tests/index/template-coverage.test.ts
 * walks every Avro field), and the vendor namespaces stored as `flat_object` so Microsoft's open-ended records never
 * explode the mapping. Works on a bare OpenSearch 2.19 node: only core field types (no analysis-common, no
 * painless, no mapper-extras), see docs/decisions/0041-index-template-and-mappings.md.
 */

/** A field mapping as OpenSearch accepts it (a leaf type or an object with `properties`). */
export interface FieldMapping {
  type?: string;
  properties?: Record<string, FieldMapping>;
  [option: string]: unknown;
}

/** Bumped whenever the mappings or settings change; stored in the template's `_meta`. */
export const SIEM_EVENTS_TEMPLATE_VERSION = 2;

/** Keywords longer than this are kept in `_source` but not indexed (a huge value must not fail the document). */
const KEYWORD_IGNORE_ABOVE = 1024;

const keyword = (): FieldMapping => ({ type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE });
/** Free text that detection engineers search by words and also aggregate/match exactly. */
const textWithKeyword = (): FieldMapping => ({
  type: 'text',
  fields: { keyword: { type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE } },
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
    action: keyword(),
    outcome: keyword(),
    reason: textWithKeyword(),
    code: keyword(),
    provider: keyword(),
    dataset: keyword(),
    module: keyword(),
    severity: integer(),
    created: date(),
    ingested: date(),
    original: storedOnly(),
  }),
  message: textWithKeyword(),
  error: object({ code: keyword(), message: textWithKeyword() }),
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
  related: object({ ip: ip(), user: keyword() }),
  file: object({
    name: keyword(),
    extension: keyword(),
    directory: keyword(),
    path: keyword(),
    target_path: keyword(),
  }),
  url: object({ original: keyword(), domain: keyword() }),
  email: object({
    subject: textWithKeyword(),
    message_id: keyword(),
    from: object({ address: keyword() }),
    to: object({ address: keyword() }),
  }),
  rule: object({ id: keyword(), name: keyword(), category: keyword(), description: textWithKeyword() }),
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
    source: keyword(),
    content_type: keyword(),
    content_id: keyword(),
    record_type: integer(),
    workload: keyword(),
    result_status: keyword(),
    object_id: keyword(),
    user_type: keyword(),
    user_key: keyword(),
    correlation_id: keyword(),
    session_id: keyword(),
    client_app: keyword(),
    conditional_access_status: keyword(),
    mapper_version: keyword(),
    app: object({ id: keyword(), name: keyword() }),
    resource: object({ id: keyword(), name: keyword() }),
    auth: object({
      requirement: keyword(),
      protocol: keyword(),
      result_detail: keyword(),
      is_interactive: bool(),
      sign_in_type: keyword(),
      client_credential_type: keyword(),
      incoming_token_type: keyword(),
    }),
    service_principal: object({ id: keyword(), name: keyword(), credential_key_id: keyword(), managed_identity_type: keyword(), managed_identity_resource_id: keyword() }),
    device: object({
      id: keyword(),
      name: keyword(),
      os: keyword(),
      browser: keyword(),
      is_compliant: bool(),
      is_managed: bool(),
      trust_type: keyword(),
    }),
    risk: object({
      level: keyword(),
      level_during_sign_in: keyword(),
      state: keyword(),
      detail: keyword(),
      event_types: keyword(),
      detection_timing: keyword(),
      source: keyword(),
    }),
    mailbox: object({
      owner_upn: keyword(),
      guid: keyword(),
      logon_type: keyword(),
      external_access: bool(),
      operation_count: long(),
      access_type: keyword(),
      folders: keyword(),
    }),
    sharing: object({ target_name: keyword(), target_type: keyword(), sharing_type: keyword(), site_url: keyword() }),
    alert: object({ id: keyword(), status: keyword(), entity_type: keyword(), severity: keyword() }),
    registration: object({
      is_admin: bool(),
      is_mfa_registered: bool(),
      is_mfa_capable: bool(),
      is_sspr_registered: bool(),
      is_passwordless_capable: bool(),
      methods: keyword(),
      preferred_method: keyword(),
    }),
    parameters_text: wildcard(),
    modified_properties_text: wildcard(),
    /** Vendor namespace: Exchange cmdlet parameters and Microsoft's whole record, Name → Value. */
    parameters: flatObject(),
    fields: flatObject(),
  }),
};

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
        properties: siemEventProperties,
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
