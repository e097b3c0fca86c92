/**
 * The REST API's schemas, written once in zod: requests are validated with them and the OpenAPI 3 document served
 * at /api/v1/openapi.json is generated from them, so the document and the validation cannot disagree
 * (docs/decisions/0022).
 */
import { z } from 'zod';
import { backfillStatusSchema, CLOUDS, dataLossGapSchema, PIPELINE_STAGES, refetchStatusSchema, SOURCES } from '../runtime/index.ts';
import { API_ERROR_CODE_NAMES } from './api-error-codes.ts';
import { ApiError } from './auth.ts';
import { eventsOpenApiPath, eventsPageSchema } from './events-api.ts';
import { fleetActivityOpenApiPath, fleetActivitySchema, hourlyActivityOpenApiPath, hourlyActivitySchema } from './events-activity.ts';
import { ORGANIZATION_ID_PATTERN } from './organization-store.ts';
import { backfillBody, backfillResponse } from './backfill.ts';
import { refetchBody, refetchResponse } from './refetch.ts';
import { CONNECTION_REASONS } from './status.ts';
import { TENANT_INPUT } from './tenant-resolver.ts';

// ------------------------------------------------------------------ requests

export const orgIdParams = z.object({ id: z.string().regex(ORGANIZATION_ID_PATTERN, 'expected an organization id like org_abc123') }).strict();

/**
 * Characters a display name must not hold: controls (Cc, e.g. newline, ESC), format characters (Cf: the bidi
 * overrides and isolates U+202A–U+202E and U+2066–U+2069, zero-width characters), lone surrogates (Cs) and the line
 * and paragraph separators. They let a name rewrite a terminal, a log line or the reading order of the UI
 * ("Contoso\u202Eusc" shows as a different customer).
 */
export const FORBIDDEN_NAME_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
export const ORGANIZATION_NAME_MAX = 200;

const orgName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(ORGANIZATION_NAME_MAX, `at most ${ORGANIZATION_NAME_MAX} characters`)
  .refine((v) => !FORBIDDEN_NAME_CHARACTERS.test(v), {
    message: 'must not contain control characters, bidirectional or other invisible formatting characters (Unicode Cc, Cf, e.g. U+202E)',
  });

export const createOrganizationBody = z.object({ name: orgName }).strict();
export const patchOrganizationBody = z.object({ name: orgName }).strict();

export const connectBody = z
  .object({
    autoUpgrade: z.boolean(),
    cloud: z.enum(CLOUDS),
    tenant: z.string().regex(TENANT_INPUT, 'expected a tenant id (GUID) or a domain such as contoso.onmicrosoft.com').optional(),
  })
  .strict();

export const patchConnectionBody = z.object({ autoUpgrade: z.boolean() }).strict();

export const callbackQuery = z.object({
  state: z.string().optional(),
  tenant: z.string().optional(),
  admin_consent: z.string().optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
  scope: z.string().optional(),
  /** The sign-in step's authorization code (OpenID Connect, response_mode=query). */
  code: z.string().max(8192).optional(),
  session_state: z.string().optional(),
});

// ------------------------------------------------------------------ responses

const errorResponse = z.object({
  error: z.object({ code: z.enum(API_ERROR_CODE_NAMES), message: z.string(), field: z.string().optional().describe('the request field at fault, for 400') }),
});

const organization = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  revision: z.number().int(),
  connection: z.object({ status: z.string(), reason: z.string().nullable(), tenantId: z.string().nullable(), cloud: z.enum(CLOUDS) }).nullable(),
});

const consentUrlResponse = z.object({ consentUrl: z.string().describe('send a Global Administrator of the customer tenant here') });

const sourceView = z.object({
  name: z.enum(SOURCES),
  state: z.enum(['waiting', 'ok', 'degraded', 'failing', 'unavailable_licence', 'paused', 'stopped']),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  remedy: z.string().nullable(),
  lastEventAt: z.string().nullable(),
  events24h: z.number().int(),
  lagSeconds: z.number().nullable(),
  backfill: backfillStatusSchema
    .optional()
    .describe('Management sources: the Audit Search back-fill of history before the connection (docs/replay.md § Back-fill)'),
  refetch: refetchStatusSchema
    .optional()
    .describe(
      "the source's latest re-fetch (replay --refetch): its cursor went back from `until` to `from` at `startedAt` and is at `cursorAt`; done when back at `until`",
    ),
  gaps: z
    .array(dataLossGapSchema)
    .optional()
    .describe('data-loss markers: intervals [from, to) Microsoft will never serve, with why (docs/ingest.md § Gaps); absent when none'),
});

const pipelineStall = z
  .object({
    stage: z.enum(PIPELINE_STAGES).describe('the stage that stopped committing'),
    topic: z.string().describe('its input topic'),
    partition: z.number().int().describe("the input partition this organization's records are keyed to"),
    since: z.string().describe('when the waiting records arrived with no commit of the stage since (ISO 8601)'),
    lagRecords: z.number().int().describe("records between the stage's committed offset and the end of the partition"),
  })
  .describe("a stalled pipeline stage holding up this organization's data (reason pipeline_stalled; docs/pipeline-health.md)");

const connectionResponse = z.object({
  status: z.enum(['not_connected', 'connecting', 'waiting_for_first_events', 'active', 'needs_attention', 'disconnected']),
  reason: z.enum(CONNECTION_REASONS).nullable(),
  message: z.string().nullable(),
  remedy: z.string().nullable(),
  tenantId: z.string().nullable(),
  requestedTenant: z.string().nullable(),
  cloud: z.enum(CLOUDS).nullable(),
  autoUpgrade: z.boolean().nullable(),
  manifestVersion: z.number().int().nullable(),
  permissions: z.object({ required: z.array(z.string()), granted: z.array(z.string()), missing: z.array(z.string()) }),
  pendingUpgrade: z
    .object({
      missingRoles: z.array(z.string()),
      manifestVersion: z.number().int(),
      requestedAt: z.string(),
      why: z.string(),
      consentUrl: z.string().nullable().describe('only for admin tokens'),
      pausedSources: z.array(z.string()),
    })
    .nullable(),
  sources: z.array(sourceView),
  connectedAt: z.string().nullable(),
  verifiedAt: z.string().nullable(),
  firstEventAt: z.string().nullable(),
  lastEventAt: z.string().nullable(),
  pipelineStalls: z.array(pipelineStall).describe('empty while the pipeline flows; cleared when the stage commits again'),
});

const principalResponse = z.object({
  label: z.string().describe('who holds the token (recorded as the actor in history)'),
  allOrganizations: z.enum(['admin', 'viewer']).nullable().describe('role on every organization (scope *), or null for a scoped token'),
  organizations: z
    .array(z.object({ id: z.string(), role: z.enum(['admin', 'viewer']) }))
    .describe("organizations named in the token's scope, with the role that applies"),
  canCreateOrganizations: z.boolean().describe('true only for admin on every organization (scope *)'),
});

const historyResponse = z.object({
  items: z.array(
    z.object({
      at: z.string(),
      actor: z.object({ role: z.string().describe('admin, viewer, system or microsoft'), label: z.string() }),
      action: z.string(),
      message: z.string(),
      detail: z.record(z.string(), z.unknown()),
    }),
  ),
});

/**
 * The response types, inferred from the schemas above: the one API contract the UI (logic/api-types.ts, type-only
 * imports), the CLI and the UI test stub use (decision 0196). The OpenAPI test checks real responses against them.
 */
export type ErrorResponse = z.output<typeof errorResponse>;
export type OrganizationResponse = z.output<typeof organization>;
export type OrganizationListResponse = { items: OrganizationResponse[] };
export type ConsentUrlResponse = z.output<typeof consentUrlResponse>;
export type SourceViewResponse = z.output<typeof sourceView>;
export type PipelineStallResponse = z.output<typeof pipelineStall>;
export type ConnectionResponse = z.output<typeof connectionResponse>;
export type ConnectionStatusName = ConnectionResponse['status'];
export type PendingUpgradeResponse = NonNullable<ConnectionResponse['pendingUpgrade']>;
export type PrincipalResponse = z.output<typeof principalResponse>;
export type HistoryResponse = z.output<typeof historyResponse>;
export type HistoryEntryResponse = HistoryResponse['items'][number];
export type { RefetchResponse } from './refetch.ts';
export type { EventSummary, EventsPage } from './events-api.ts';
export type { FleetActivity, HourlyActivity, OrganizationActivity } from './events-activity.ts';

// ------------------------------------------------------------------ validation

type Part = 'params' | 'body' | 'query';

/** Parses one part of a request; a failure becomes a 400 naming the field at fault. */
export function validate<T extends z.ZodType>(schema: T, part: Part, value: unknown): z.output<T> {
  if (part === 'body' && (value === undefined || value === null)) {
    throw new ApiError(400, 'invalid_request', 'body: a JSON object body with Content-Type: application/json is required', 'body');
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ApiError(400, 'invalid_request', `${part} is invalid`, part);
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const field = [part, ...path.map(String)].join('.');
  const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  throw new ApiError(400, 'invalid_request', `${field}: ${message}`, field);
}

// ------------------------------------------------------------------ document

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0' });
const out = (schema: z.ZodType) => nullableEnums(z.toJSONSchema(schema, { io: 'output', target: 'openapi-3.0' }));

/**
 * OpenAPI 3.0 validators check `enum` before `nullable`, so a nullable enum must list null among its values
 * (OpenAPI 3.0.3 clarification of `nullable`); zod writes `nullable: true` only.
 */
function nullableEnums<T>(node: T): T {
  if (Array.isArray(node)) for (const item of node) nullableEnums(item);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.nullable === true && Array.isArray(o.enum) && !o.enum.includes(null)) o.enum = [...o.enum, null];
    for (const value of Object.values(o)) nullableEnums(value);
  }
  return node;
}
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema: json(schema) } } });
const ok = (description: string, schemaName?: string) => ({
  description,
  ...(schemaName ? { content: { 'application/json': { schema: ref(schemaName) } } } : {}),
});
/** Every route that authenticates is also behind the failed-authentication limit, hence 429 wherever 401 is. */
const errors = (...codes: number[]) =>
  Object.fromEntries(
    (codes.includes(401) ? [...codes, 429] : codes).map((c) => [
      String(c),
      { description: ERROR_TEXT[c] ?? 'error', content: { 'application/json': { schema: ref('Error') } } },
    ]),
  );
const ERROR_TEXT: Record<number, string> = {
  400: 'malformed request; `error.field` names the field at fault',
  401: 'no or unknown bearer token',
  403: "the token's role may not do this (viewer tokens only read; only scope-* admins add organizations)",
  404: "no such organization, or one outside the token's scope (the two are not told apart)",
  409: "the organization's state does not allow this",
  422: 'the tenant could not be resolved',
  429: 'too many failed authentications from this address (CONTROL_PLANE_AUTH_FAILURE_LIMIT); retry after `Retry-After` seconds',
  502: 'Microsoft could not be reached',
};
const idParam = [{ name: 'id', in: 'path', required: true, schema: json(orgIdParams.shape.id) }];
const pathParam = (name: string, description?: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string' },
  ...(description ? { description } : {}),
});
const read = ['viewer', 'admin'];
const write = ['admin'];
const op = (summary: string, roles: string[], rest: Record<string, unknown>) => ({
  summary,
  'x-roles': roles,
  security: [{ bearer: [] }],
  ...rest,
});

export function openApiDocument(publicUrl: string): Record<string, unknown> {
  const m365 = '/organizations/{id}/applications/microsoft-manage';
  return {
    openapi: '3.0.3',
    info: {
      title: 'm365-siem control plane',
      version: '1.0.0',
      description: 'Organizations and their Microsoft 365 connections: consent, status, permission upgrades, repair. Errors are {"error":{"code","message"}}.',
    },
    servers: [{ url: `${publicUrl}/api/v1` }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'a token from CONTROL_PLANE_TOKENS: admin or viewer, on every organization (scope *) or on the organizations it names; see GET /me',
        },
      },
      schemas: {
        Error: out(errorResponse),
        Organization: out(organization),
        OrganizationList: out(z.object({ items: z.array(organization) })),
        ConsentUrl: out(consentUrlResponse),
        Connection: out(connectionResponse),
        History: out(historyResponse),
        Principal: out(principalResponse),
        Refetch: out(refetchResponse),
        Backfill: out(backfillResponse),
        EventsPage: out(eventsPageSchema),
        HourlyActivity: out(hourlyActivitySchema),
        FleetActivity: out(fleetActivitySchema),
      },
    },
    paths: {
      '/me': {
        get: op('the presented token: its label, scope and roles', read, { responses: { 200: ok('the token', 'Principal'), ...errors(401) } }),
      },
      '/organizations': {
        get: op("list the organizations in the token's scope", read, { responses: { 200: ok('organizations', 'OrganizationList'), ...errors(400, 401) } }),
        post: op('add an organization (admin on every organization, scope *, only)', ['admin (scope *)'], {
          requestBody: body(createOrganizationBody),
          responses: { 201: ok('created', 'Organization'), ...errors(400, 401, 403) },
        }),
      },
      '/organizations/{id}': {
        parameters: idParam,
        get: op('one organization', read, { responses: { 200: ok('the organization', 'Organization'), ...errors(400, 401, 404) } }),
        patch: op('rename an organization', write, {
          requestBody: body(patchOrganizationBody),
          responses: { 200: ok('renamed', 'Organization'), ...errors(400, 401, 403, 404) },
        }),
        delete: op('delete an organization (tombstone in m365.tenants; polling stops)', write, {
          responses: { 204: ok('deleted'), ...errors(400, 401, 403, 404) },
        }),
      },
      '/organizations/{id}/history': {
        parameters: idParam,
        get: op('every change to the organization and its connection: who, when, what', read, {
          responses: { 200: ok('history, oldest first', 'History'), ...errors(400, 401, 404) },
        }),
      },
      [m365]: {
        parameters: idParam,
        post: op('connect Microsoft 365: returns the admin-consent URL', write, {
          requestBody: body(connectBody),
          responses: { 201: ok('consent URL (valid 10 minutes, single use)', 'ConsentUrl'), ...errors(400, 401, 403, 404, 409, 422, 502) },
        }),
        get: op('connection status with reason and remedy, permissions, pending upgrade, per-source state', read, {
          responses: { 200: ok('the connection', 'Connection'), ...errors(400, 401, 404) },
        }),
        patch: op('switch permission auto-upgrade', write, {
          requestBody: body(patchConnectionBody),
          responses: { 200: ok('the connection', 'Connection'), ...errors(400, 401, 403, 404, 409) },
        }),
        delete: op('disconnect: polling stops, collected data stays', write, {
          responses: { 200: ok('the connection', 'Connection'), ...errors(400, 401, 403, 404, 409) },
        }),
      },
      [`${m365}/upgrades/approve`]: {
        parameters: idParam,
        post: op('approve a pending permission upgrade: returns a new consent URL', write, {
          responses: { 200: ok('consent URL', 'ConsentUrl'), ...errors(400, 401, 403, 404, 409) },
        }),
      },
      [`${m365}/repair`]: {
        parameters: idParam,
        post: op('repair: consent again for the pinned tenant, then re-verify', write, {
          responses: { 200: ok('consent URL', 'ConsentUrl'), ...errors(400, 401, 403, 404, 409) },
        }),
      },
      [`${m365}/refetch`]: {
        parameters: idParam,
        post: op(
          "re-fetch from Microsoft (replay --refetch): ingest rewinds this organization's cursors to `from` once (default and oldest: 7 days back)",
          write,
          {
            requestBody: body(refetchBody),
            responses: { 200: ok('the recorded request', 'Refetch'), ...errors(400, 401, 403, 404, 409) },
          },
        ),
      },
      [`${m365}/backfill`]: {
        parameters: idParam,
        post: op(
          "back-fill history through the Audit Search API (replay --backfill): ingest fetches this organization's unified audit log from `from` once (oldest: 180 days back), deduplicated against the Management API",
          write,
          {
            requestBody: body(backfillBody),
            responses: { 200: ok('the recorded request', 'Backfill'), ...errors(400, 401, 403, 404, 409) },
          },
        ),
      },
      [`${m365}/verify`]: {
        parameters: idParam,
        post: op('re-verify now with fresh tokens (what the periodic check does)', write, {
          responses: { 200: ok('the connection', 'Connection'), ...errors(400, 401, 403, 404) },
        }),
      },
      '/organizations/{id}/events': eventsOpenApiPath,
      '/organizations/{id}/events/hourly': hourlyActivityOpenApiPath,
      '/fleet/activity': fleetActivityOpenApiPath,
      '/schema-registry/subjects': { get: op('Confluent Schema Registry API (read side): subjects', read, { responses: { 200: ok('subject names') } }) },
      '/schema-registry/subjects/{subject}/versions': {
        parameters: [pathParam('subject')],
        get: op('versions of a subject', read, { responses: { 200: ok('version numbers'), 404: ok('unknown subject') } }),
      },
      '/schema-registry/subjects/{subject}/versions/{version}': {
        parameters: [pathParam('subject'), pathParam('version', 'a version number or "latest"')],
        get: op('one version (number or "latest")', read, {
          responses: { 200: ok('subject, version, id, schema'), 404: ok('unknown'), 422: ok('invalid version') },
        }),
      },
      '/schema-registry/schemas/ids/{id}': {
        parameters: [pathParam('id', 'global schema id')],
        get: op('a schema by its global id (the id in the Confluent framing of siem.events)', read, {
          responses: { 200: ok('{"schema"}'), 404: ok('unknown id') },
        }),
      },
    },
    'x-callback': {
      path: '/oauth/microsoft/callback',
      description: 'the admin-consent redirect target (no bearer token; bound by the signed state): an HTML page, 200 on success, 4xx on every failure',
    },
  };
}
