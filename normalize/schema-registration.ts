/**
 * Registering the siem.events schema with a real Confluent-compatible registry (SCHEMA_REGISTRY_URL): POST
 * /subjects/{subject}/versions returns the registry's id for our schema, which then frames every event.
 */
import { PermanentError, RetriableError, withRetry } from '../runtime/index.ts';
import { SIEM_EVENT_SUBJECT, latestSiemEventSchema, rememberSchemaId } from '../schemas/index.ts';

export interface RegistryOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  fetchImpl?: typeof fetch;
}

export async function registerSiemEventSchema(options: RegistryOptions): Promise<number> {
  const doFetch = options.fetchImpl ?? fetch;
  const url = new URL(`subjects/${encodeURIComponent(SIEM_EVENT_SUBJECT)}/versions`, options.url.endsWith('/') ? options.url : `${options.url}/`);
  const headers: Record<string, string> = { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/vnd.schemaregistry.v1+json' };
  if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  }
  const body = JSON.stringify({ schema: JSON.stringify(latestSiemEventSchema.schema) });
  const id = await withRetry(
    async () => {
      let res: Response;
      try {
        res = await doFetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      } catch (error) {
        throw new RetriableError(`schema registry unreachable: ${error instanceof Error ? error.message : String(error)}`, 'registry_unreachable');
      }
      const text = await res.text();
      if (res.status >= 500 || res.status === 429) throw new RetriableError(`schema registry answered ${res.status}`, 'registry_unavailable');
      if (!res.ok) throw new PermanentError(`schema registry refused the siem.events schema (${res.status}): ${text.slice(0, 300)}`, 'registry_refused');
      const parsed = JSON.parse(text) as { id?: unknown };
      if (typeof parsed.id !== 'number') throw new PermanentError(`schema registry answer has no id: ${text.slice(0, 200)}`, 'registry_bad_answer');
      return parsed.id;
    },
    { attempts: 5, initialMs: 500, maxMs: 5_000 },
  );
  rememberSchemaId(id, latestSiemEventSchema.schema);
  return id;
}

/** GET /schemas/ids/{id} from a registry (our control plane or a real one); remembers the schema for decoding. */
export async function fetchSchemaById(options: RegistryOptions, id: number): Promise<void> {
  const doFetch = options.fetchImpl ?? fetch;
  const url = new URL(`schemas/ids/${id}`, options.url.endsWith('/') ? options.url : `${options.url}/`);
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
  if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  }
  const res = await doFetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new PermanentError(`schema registry has no schema ${id} (${res.status})`, 'unknown_schema_id');
  const body = (await res.json()) as { schema?: unknown };
  if (typeof body.schema !== 'string') throw new PermanentError(`schema registry answer for id ${id} has no schema`, 'registry_bad_answer');
  rememberSchemaId(id, JSON.parse(body.schema));
}
