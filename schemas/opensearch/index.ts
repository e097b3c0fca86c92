export {
  SIEM_EVENTS_TEMPLATE_VERSION,
  DEFAULT_TEMPLATE_OPTIONS,
  buildSiemEventsTemplate,
  siemEventProperties,
  indexProperties,
  VENDOR_RECORD_PATH,
  mappedLeafPaths,
  organizationAliasName,
  organizationAliasFilter,
} from './siem-events-template.ts';
export {
  SECURITY_ANALYTICS_ALIASES,
  SECURITY_ANALYTICS_LOG_TYPE_PATHS,
  SECURITY_ANALYTICS_UNMAPPED,
  SECURITY_ANALYTICS_UNTABLED_RULE_FIELDS,
  SECURITY_ANALYTICS_VERSION,
} from './security-analytics.ts';
export type { FieldMapping, SiemEventsTemplateOptions } from './siem-events-template.ts';
export { dailyIndexName, parseDailyIndexName, dailyIndexPattern } from './daily-index.ts';
