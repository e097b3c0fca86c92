export {
  SIEM_EVENTS_TEMPLATE_VERSION,
  DEFAULT_TEMPLATE_OPTIONS,
  buildSiemEventsTemplate,
  siemEventProperties,
  mappedLeafPaths,
  organizationAliasName,
  organizationAliasFilter,
} from './siem-events-template.ts';
export type { FieldMapping, SiemEventsTemplateOptions } from './siem-events-template.ts';
export { dailyIndexName, parseDailyIndexName, dailyIndexPattern } from './daily-index.ts';
