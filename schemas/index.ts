// Public surface of schemas/ (Avro side): the SIEM event schema, its wire format and the registry read view.
export {
  SIEM_EVENT_SUBJECT,
  SIEM_EVENT_COMPATIBILITY,
  siemEventSchemas,
  latestSiemEventSchema,
  encodeSiemEvent,
  decodeSiemEvent,
  schemaIdOf,
  rememberSchemaId,
  siemEventProblems,
  toPlainJson,
  microsToIso,
  parseAvroType,
  SiemEventEncodingError,
} from './siem-event-codec.ts';
export type { SiemEventSchemaVersion } from './siem-event-codec.ts';
export type { SiemEvent, SiemEventEvent, SiemEventUser, SiemEventUserTarget, SiemEventGeo, SiemEventM365, SiemEventTargetResource } from './siem-event-type.ts';
export { EVENT_KINDS, EVENT_OUTCOMES, EVENT_CATEGORIES, EVENT_TYPES } from './siem-event-type.ts';
export { fullTransitiveProblems } from './compatibility.ts';
export type { CompatibilityProblem } from './compatibility.ts';
export { schemaRegistryView, schemaRegistryRoutes, schemaText, SCHEMA_REGISTRY_CONTENT_TYPE } from './registry-view.ts';
export type { SchemaRegistryView, RegistryAnswer, RegistryError, RegistryRoute, SubjectVersion } from './registry-view.ts';
export { flattenVendorRecord, parseStringifiedJson, MAX_VENDOR_FIELDS, MAX_VENDOR_VALUE_CHARS } from './vendor-fields.ts';
