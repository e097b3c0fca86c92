/**
 * The read side of the Confluent Schema Registry API for our schemas, as data the control plane serves (it owns the
 * HTTP routes). Response shapes follow Confluent's REST API so standard clients (e.g. @kafkajs/confluent-schema-registry)
 * can decode `siem.events`.
 */
import { SIEM_EVENT_SUBJECT, siemEventSchemas, latestSiemEventSchema } from './siem-event-codec.ts';

/** Confluent's content type for registry responses. */
export const SCHEMA_REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface RegistryError {
  error_code: number;
  message: string;
}

export interface RegistryAnswer<T> {
  status: 200 | 404 | 422;
  body: T | RegistryError;
}

export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
}

export interface SchemaRegistryView {
  /** GET /schemas/ids/{id} → {schema: "<json string>"} */
  schemaById(id: number | string): RegistryAnswer<{ schema: string }>;
  /** GET /subjects → ["siem.events-value"] */
  subjects(): RegistryAnswer<string[]>;
  /** GET /subjects/{subject}/versions → [1, 2, …] */
  versions(subject: string): RegistryAnswer<number[]>;
  /** GET /subjects/{subject}/versions/{version|latest} → {subject, version, id, schema} */
  subjectVersion(subject: string, version: number | string): RegistryAnswer<SubjectVersion>;
}

const notFound = (error_code: number, message: string): RegistryAnswer<never> => ({ status: 404, body: { error_code, message } });

/** The schema text served for a version: the parsed .avsc re-serialized compactly (stable across restarts). */
export function schemaText(schema: unknown): string {
  return JSON.stringify(schema);
}

export function schemaRegistryView(): SchemaRegistryView {
  const texts = new Map(siemEventSchemas.map((v) => [v.version, schemaText(v.schema)]));
  const byVersion = (v: (typeof siemEventSchemas)[number]): SubjectVersion => ({
    subject: SIEM_EVENT_SUBJECT,
    version: v.version,
    id: v.id,
    schema: texts.get(v.version) ?? schemaText(v.schema),
  });
  return {
    schemaById(id) {
      const n = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
      const v = siemEventSchemas.find((s) => s.id === n);
      if (!v) return notFound(40403, 'Schema not found');
      return { status: 200, body: { schema: texts.get(v.version) ?? schemaText(v.schema) } };
    },
    subjects() {
      return { status: 200, body: [SIEM_EVENT_SUBJECT] };
    },
    versions(subject) {
      if (subject !== SIEM_EVENT_SUBJECT) return notFound(40401, 'Subject not found.');
      return { status: 200, body: siemEventSchemas.map((v) => v.version) };
    },
    subjectVersion(subject, version) {
      if (subject !== SIEM_EVENT_SUBJECT) return notFound(40401, 'Subject not found.');
      if (version === 'latest' || version === '-1' || version === -1) return { status: 200, body: byVersion(latestSiemEventSchema) };
      const n = typeof version === 'number' ? version : /^\d+$/.test(version) ? Number(version) : NaN;
      if (!Number.isInteger(n) || n < 1) {
        return {
          status: 422,
          body: {
            error_code: 42202,
            message: 'The specified version is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"',
          },
        };
      }
      const v = siemEventSchemas.find((s) => s.version === n);
      if (!v) return notFound(40402, 'Version not found.');
      return { status: 200, body: byVersion(v) };
    },
  };
}

export interface RegistryRoute {
  method: 'GET';
  /** Express-style path pattern. */
  path: string;
  answer(params: Record<string, string>): RegistryAnswer<unknown>;
}

/**
 * The four read routes as framework-neutral data: mount each with `app.get(route.path, (req, res) => { const a =
 * route.answer(req.params); res.status(a.status).type(SCHEMA_REGISTRY_CONTENT_TYPE).send(JSON.stringify(a.body)); })`.
 */
export function schemaRegistryRoutes(view: SchemaRegistryView = schemaRegistryView()): RegistryRoute[] {
  return [
    { method: 'GET', path: '/schemas/ids/:id', answer: (p) => view.schemaById(p.id ?? '') },
    { method: 'GET', path: '/subjects', answer: () => view.subjects() },
    { method: 'GET', path: '/subjects/:subject/versions', answer: (p) => view.versions(p.subject ?? '') },
    { method: 'GET', path: '/subjects/:subject/versions/:version', answer: (p) => view.subjectVersion(p.subject ?? '', p.version ?? '') },
  ];
}
