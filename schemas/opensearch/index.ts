export {
  SIEM_EVENTS_TEMPLATE_VERSION,
  DEFAULT_TEMPLATE_OPTIONS,
  buildSiemEventsTemplate,
  siemEventProperties,
  indexProperties,
  VENDOR_RECORD_PATH,
  SECURITY_ANALYTICS_ALIASES,
  mappedLeafPaths,
  organizationAliasName,
  organizationAliasFilter,
} from './siem-events-template.ts';
export type { FieldMapping, SiemEventsTemplateOptions } from './siem-events-template.ts';
export { dailyIndexName, parseDailyIndexName, dailyIndexPattern } from './daily-index.ts';
