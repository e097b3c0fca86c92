/**
 * The TypeScript shape of the SIEM event (the newest of schemas/avro/siem-event.v*.avsc). Optional fields may be absent when an
 * event is built (Avro writes their `null` default) and are `null` when an event is decoded. Times are microseconds
 * since the Unix epoch (Avro `timestamp-micros`).
 */
type Opt<T> = T | null | undefined;

export interface SiemEventEvent {
  id: string;
  kind?: Opt<string>;
  category?: Opt<string[]>;
  type?: Opt<string[]>;
  action?: Opt<string>;
  outcome?: Opt<string>;
  reason?: Opt<string>;
  code?: Opt<string>;
  provider?: Opt<string>;
  dataset: string;
  module?: Opt<string>;
  severity?: Opt<number>;
  created?: Opt<number>;
  ingested?: Opt<number>;
  original?: Opt<string>;
}

export interface SiemEventUserTarget {
  id?: Opt<string>;
  name?: Opt<string>;
  email?: Opt<string>;
  domain?: Opt<string>;
  full_name?: Opt<string>;
}

export interface SiemEventUser extends SiemEventUserTarget {
  target?: Opt<SiemEventUserTarget>;
}

export interface SiemEventGeo {
  city_name?: Opt<string>;
  region_name?: Opt<string>;
  country_iso_code?: Opt<string>;
  location?: Opt<{ lat?: Opt<number>; lon?: Opt<number> }>;
}

export interface SiemEventM365 {
  source?: Opt<string>;
  content_type?: Opt<string>;
  content_id?: Opt<string>;
  record_type?: Opt<number>;
  workload?: Opt<string>;
  result_status?: Opt<string>;
  object_id?: Opt<string>;
  user_type?: Opt<string>;
  user_key?: Opt<string>;
  correlation_id?: Opt<string>;
  session_id?: Opt<string>;
  client_app?: Opt<string>;
  conditional_access_status?: Opt<string>;
  mapper_version?: Opt<string>;
  app?: Opt<{ id?: Opt<string>; name?: Opt<string> }>;
  resource?: Opt<{ id?: Opt<string>; name?: Opt<string> }>;
  auth?: Opt<{
    requirement?: Opt<string>;
    protocol?: Opt<string>;
    result_detail?: Opt<string>;
    is_interactive?: Opt<boolean>;
    sign_in_type?: Opt<string>;
    client_credential_type?: Opt<string>;
    incoming_token_type?: Opt<string>;
  }>;
  service_principal?: Opt<{
    id?: Opt<string>;
    name?: Opt<string>;
    credential_key_id?: Opt<string>;
    managed_identity_type?: Opt<string>;
    managed_identity_resource_id?: Opt<string>;
  }>;
  device?: Opt<{
    id?: Opt<string>;
    name?: Opt<string>;
    os?: Opt<string>;
    browser?: Opt<string>;
    is_compliant?: Opt<boolean>;
    is_managed?: Opt<boolean>;
    trust_type?: Opt<string>;
  }>;
  risk?: Opt<{
    level?: Opt<string>;
    level_during_sign_in?: Opt<string>;
    state?: Opt<string>;
    detail?: Opt<string>;
    event_types?: Opt<string[]>;
    detection_timing?: Opt<string>;
    source?: Opt<string>;
  }>;
  mailbox?: Opt<{
    owner_upn?: Opt<string>;
    guid?: Opt<string>;
    logon_type?: Opt<string>;
    external_access?: Opt<boolean>;
    operation_count?: Opt<number>;
    access_type?: Opt<string>;
    folders?: Opt<string[]>;
  }>;
  sharing?: Opt<{ target_name?: Opt<string>; target_type?: Opt<string>; sharing_type?: Opt<string>; site_url?: Opt<string> }>;
  alert?: Opt<{
    id?: Opt<string>;
    status?: Opt<string>;
    entity_type?: Opt<string>;
    severity?: Opt<string>;
    classification?: Opt<string>;
    determination?: Opt<string>;
    assigned_to?: Opt<string>;
    incident_id?: Opt<string>;
    service_source?: Opt<string>;
    detection_source?: Opt<string>;
    title?: Opt<string>;
    updated?: Opt<string>;
  }>;
  registration?: Opt<{
    is_admin?: Opt<boolean>;
    is_mfa_registered?: Opt<boolean>;
    is_mfa_capable?: Opt<boolean>;
    is_sspr_registered?: Opt<boolean>;
    is_passwordless_capable?: Opt<boolean>;
    methods?: Opt<string[]>;
    preferred_method?: Opt<string>;
  }>;
  parameters_text?: Opt<string>;
  modified_properties_text?: Opt<string>;
  parameters?: Opt<Record<string, string>>;
  fields?: Opt<Record<string, string>>;
  // Schema v3
  home_tenant_id?: Opt<string>;
  resource_tenant_id?: Opt<string>;
  network_location_types?: Opt<string[]>;
  target_resources?: Opt<SiemEventTargetResource[]>;
  delivery_action?: Opt<string>;
  directionality?: Opt<string>;
  status_additional_details?: Opt<string>;
  // Schema v5
  /** The Entra activity report the record belongs to ("Sign-ins", "Audit logs", "Provisioning logs"): SigmaHQ's ActivityDetails. */
  activity_details?: Opt<string>;
}

/** One target of an activity (schema v3: `m365.target_resources`). */
export interface SiemEventTargetResource {
  type?: Opt<string>;
  id?: Opt<string>;
  name?: Opt<string>;
  user_principal_name?: Opt<string>;
}

export interface SiemEvent {
  /** ECS `@timestamp`, microseconds since the epoch. */
  timestamp: number;
  event: SiemEventEvent;
  message?: Opt<string>;
  error?: Opt<{ code?: Opt<string>; message?: Opt<string> }>;
  organization: { id: string; name?: Opt<string> };
  cloud?: Opt<{ provider?: Opt<string>; account?: Opt<{ id?: Opt<string> }> }>;
  user?: Opt<SiemEventUser>;
  group?: Opt<{ id?: Opt<string>; name?: Opt<string> }>;
  source?: Opt<{ address?: Opt<string>; ip?: Opt<string>; port?: Opt<number>; geo?: Opt<SiemEventGeo> }>;
  user_agent?: Opt<{ original?: Opt<string> }>;
  related?: Opt<{ ip?: Opt<string[]>; user?: Opt<string[]>; hosts?: Opt<string[]>; hash?: Opt<string[]> }>;
  file?: Opt<{
    name?: Opt<string>;
    extension?: Opt<string>;
    directory?: Opt<string>;
    path?: Opt<string>;
    target_path?: Opt<string>;
    hash?: Opt<{ sha1?: Opt<string>; sha256?: Opt<string> }>;
  }>;
  url?: Opt<{ original?: Opt<string>; domain?: Opt<string> }>;
  email?: Opt<{ subject?: Opt<string>; message_id?: Opt<string>; from?: Opt<{ address?: Opt<string[]> }>; to?: Opt<{ address?: Opt<string[]> }> }>;
  rule?: Opt<{ id?: Opt<string[]>; name?: Opt<string[]>; category?: Opt<string>; description?: Opt<string> }>;
  ocsf?: Opt<{
    class_uid?: Opt<number>;
    category_uid?: Opt<number>;
    activity_id?: Opt<number>;
    type_uid?: Opt<number>;
    status_id?: Opt<number>;
    severity_id?: Opt<number>;
  }>;
  m365?: Opt<SiemEventM365>;
  host?: Opt<{ id?: Opt<string>; name?: Opt<string>; ip?: Opt<string[]>; os?: Opt<{ platform?: Opt<string> }> }>;
  threat?: Opt<{ technique?: Opt<{ id?: Opt<string[]> }> }>;
}

/** Allowed values of the open-vocabulary fields we validate in tests (strings in Avro, not enums). */
export const EVENT_KINDS = ['event', 'alert', 'state'] as const;
export const EVENT_OUTCOMES = ['success', 'failure', 'unknown'] as const;
export const EVENT_CATEGORIES = ['api', 'authentication', 'configuration', 'email', 'file', 'iam', 'intrusion_detection', 'threat', 'web', 'session'] as const;
export const EVENT_TYPES = [
  'access',
  'admin',
  'allowed',
  'change',
  'creation',
  'deletion',
  'denied',
  'end',
  'group',
  'indicator',
  'info',
  'start',
  'user',
] as const;
