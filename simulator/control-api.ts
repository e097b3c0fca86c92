import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { managementContentType, SOURCES } from '../runtime/sources.ts';
import { LICENCE_REFUSAL_SHAPES } from './graph/licence-refusals.ts';
import type { ManagementSource, SourceName } from '../runtime/sources.ts';
import type { EntraInstance } from './app-roles.ts';
import { ALL_ROLE_VALUES, CLOUDS, ENTRA_INSTANCES } from './app-roles.ts';
import type { SimContext } from './context.ts';
import type { SimRequest } from './http.ts';
import { isLoopback, send, sendJson } from './http.ts';
import { buildLedger } from './ledger.ts';
import type { GraphSourceKey } from './records/graph-records.ts';
import { ENTITY_SOURCES, UPDATABLE_SOURCES } from './records/graph-records.ts';
import type { ManagementContentType } from './records/management-records.ts';
import type { Tenant, TenantSettings } from './tenant-state.ts';
import { INJECTABLE_AADSTS } from './entra/token-service.ts';
import { DEFAULT_TENANT_SETTINGS } from './tenant-state.ts';

/** The simulator's own control API under `/_sim/` (loopback clients only). */

const rate = z.number().min(0).max(1);
const delayRange = z.tuple([z.number().int().min(0), z.number().int().min(0)]).refine(([a, b]) => a <= b, { message: 'min must be <= max' });

const tenantPatch = z
  .object({
    name: z.string().min(1).max(200),
    cloud: z.enum(CLOUDS as [string, ...string[]]),
    partner: z.boolean(),
    licences: z.object({ entraP1: z.boolean(), entraP2: z.boolean() }).partial(),
    auditLogging: z.boolean(),
    recordsPerMinute: z.number().int().min(0).max(100_000),
    publicationDelayMs: delayRange,
    duplicateRate: rate,
    reserveRate: rate,
    outOfOrder: z.boolean(),
    recordsPerBlob: z.number().int().min(1).max(10_000),
    contentPageSize: z.number().int().min(1).max(10_000),
    graphThrottling: z.boolean(),
    managementRequestsPerMinute: z.number().int().min(1),
    licenceRefusal: z.enum(LICENCE_REFUSAL_SHAPES),
    graphRetentionDays: z.number().int().min(1).max(365).nullable(),
    consentPropagationMs: delayRange,
    auditSearch: z.object({
      queuedMs: z.number().int().min(0),
      runningMs: z.number().int().min(0),
      outcome: z.enum(['succeeded', 'failed', 'cancelled']),
    }),
  })
  .partial()
  .strict();

const tenantCreate = tenantPatch.extend({
  name: z.string().min(1).max(200),
  domain: z
    .string()
    .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'expected a DNS domain')
    .optional(),
  users: z.number().int().min(1).max(10_000).optional(),
  tenantId: z.uuid().optional(),
});

const sourceEnum = z.enum(SOURCES as unknown as [SourceName, ...SourceName[]]);
const recordsBody = z
  .object({
    source: sourceEnum,
    count: z.number().int().min(1).max(1_000_000),
    // Management sources: render the content blobs into the serving cache now (benchmarks; see ManagementApi.prerender).
    prerender: z.boolean().optional(),
    // Up to the longest retention Microsoft documents for these logs (sign-ins with P1/P2: 30 days).
    eventsSpanMs: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3_600_000)
      .optional(),
    // Large audit records exist (long Parameters of admin cmdlets, many ModifiedProperties, DLP detail): records of
    // about this many JSON bytes, up to 16 MiB.
    recordBytes: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .optional(),
  })
  .strict()
  .refine((b) => b.recordBytes === undefined || b.source.startsWith('management:'), {
    path: ['recordBytes'],
    message: 'recordBytes applies to Management Activity API sources (management:*) only',
  })
  .refine((b) => b.prerender === undefined || b.source.startsWith('management:'), {
    path: ['prerender'],
    message: 'prerender applies to Management Activity API sources (management:*) only',
  })
  .refine((b) => b.eventsSpanMs === undefined || !(b.source.startsWith('graph:') && ENTITY_SOURCES.has(b.source.slice('graph:'.length) as GraphSourceKey)), {
    path: ['eventsSpanMs'],
    message:
      "graph:riskyUsers and graph:userRegistrationDetails hold each user's current state, not a history of events to spread: add their records without eventsSpanMs",
  });
const updatableSources = [...UPDATABLE_SOURCES].map((k) => `graph:${k}`);
const updateBody = z
  .object({
    source: sourceEnum.refine((v) => updatableSources.includes(v), { message: `records Microsoft changes in place are in ${updatableSources.join(', ')}` }),
    firstIndex: z.number().int().min(0),
    count: z.number().int().min(1).max(100_000).default(1),
    // The state the change brings (riskState for risk detections, status for alerts and incidents); default: the next documented one.
    state: z.string().min(1).max(64).optional(),
  })
  .strict();
const consentBody = z.object({ roles: z.array(z.enum(ALL_ROLE_VALUES as [string, ...string[]])).optional() }).strict();
const faultBody = z
  .object({
    tenantId: z.string().optional(),
    target: z.enum(['token', 'management', 'graph']),
    kind: z.enum(['throttle', 'server-error', 'slow', 'malformed', 'truncated', 'aadsts']),
    aadsts: z
      .union(INJECTABLE_AADSTS.map((c) => z.literal(c)) as unknown as [z.ZodLiteral<number>, z.ZodLiteral<number>, ...z.ZodLiteral<number>[]])
      .optional(),
    rate: rate.optional(),
    durationMs: z.number().int().min(1).optional(),
    count: z.number().int().min(1).optional(),
    delayMs: z.number().int().min(0).max(120_000).optional(),
  })
  .strict()
  .refine((f) => (f.kind === 'aadsts') === (f.aadsts !== undefined) && (f.kind !== 'aadsts' || f.target === 'token'), {
    path: ['aadsts'],
    message: "kind 'aadsts' needs target 'token' and an aadsts code (and aadsts needs kind 'aadsts')",
  });
const clockBody = z.object({ advanceMs: z.number().int().min(0) }).strict();
const secretBody = z.object({ expired: z.boolean() }).strict();
const appPatch = z
  .object({ requiredRoles: z.array(z.enum(ALL_ROLE_VALUES as [string, ...string[]])).min(1), redirectUris: z.array(z.url()) })
  .partial()
  .strict();

function badRequest(res: ServerResponse, error: z.ZodError): void {
  const issue = error.issues[0];
  const field =
    issue && issue.path.length > 0 ? issue.path.join('.') : issue && 'keys' in issue ? String((issue as { keys: string[] }).keys.join(',')) : '(body)';
  sendJson(res, 400, { error: { code: 'BadRequest', field, message: `invalid field '${field}': ${issue?.message ?? 'invalid'}` } });
}

export function tenantView(ctx: SimContext, t: Tenant): Record<string, unknown> {
  const sp = t.servicePrincipal;
  return {
    tenantId: t.tenantId,
    ...t.settings,
    initialDomain: `${t.settings.domain.split('.')[0]}.onmicrosoft.com`,
    createdAt: new Date(t.createdAtMs).toISOString(),
    adminAccount: t.adminAccount.userPrincipalName,
    servicePrincipal: sp
      ? { id: sp.id, roles: [...sp.roles.management, ...sp.roles.graph].sort(), consentedBy: sp.consentedBy ?? null, createdAt: sp.createdAt }
      : null,
    consentRevoked: t.revokedConsent,
    subscriptions: [...t.subscriptions.values()].map((s) => ({ contentType: s.contentType, status: s.status, webhook: s.webhook })),
    startRequests: Object.fromEntries([...t.startRequests].map(([ct, r]) => [ct, { answered: r.answered, refused: r.refused }])),
    endpoints: {
      authority: `${ctx.origin()}/${t.tenantId}`,
      management: `${ctx.origin()}/api/v1.0/${t.tenantId}/activity/feed`,
      graph: `${ctx.origin()}/v1.0`,
    },
  };
}

export function appView(ctx: SimContext, instance: EntraInstance): Record<string, unknown> {
  const app = ctx.state.registrations[instance];
  return {
    instance: app.instance,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    secretExpired: app.secretExpired,
    displayName: app.displayName,
    requiredRoles: app.requiredRoles,
    redirectUris: app.redirectUris,
    certificate: {
      certPem: app.certificate.certPem,
      privateKeyPem: app.certificate.privateKeyPem,
      thumbprint: app.certificate.thumbprint,
      thumbprintSha256: app.certificate.thumbprintSha256,
    },
  };
}

async function jsonBody(req: SimRequest, res: ServerResponse): Promise<unknown> {
  const raw = (await req.body()).toString('utf8');
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    sendJson(res, 400, { error: { code: 'BadRequest', field: '(body)', message: 'body is not valid JSON' } });
    return undefined;
  }
}

/** The request body validated by `schema`; undefined when it is not JSON or not valid, the 400 then already sent. */
async function parsedBody<S extends z.ZodType>(req: SimRequest, res: ServerResponse, schema: S): Promise<z.output<S> | undefined> {
  const body = await jsonBody(req, res);
  if (body === undefined) return undefined;
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    badRequest(res, parsed.error);
    return undefined;
  }
  return parsed.data;
}

/** What the control API asks of the simulated services themselves. */
export interface ControlHooks {
  prerenderManagement(tenant: Tenant, contentType: ManagementContentType, now: number): number;
}

export async function handleControl(ctx: SimContext, req: SimRequest, res: ServerResponse, segments: string[], hooks: ControlHooks): Promise<void> {
  if (!isLoopback(req.remoteAddress)) {
    sendJson(res, 403, { error: { code: 'Forbidden', message: 'the control API answers loopback clients only' } });
    return;
  }
  const state = ctx.state;
  const now = ctx.now();
  const [a, b, c] = segments;
  const notFound = () => sendJson(res, 404, { error: { code: 'NotFound', message: `no such control resource: ${req.rawPath}` } });

  if (a === 'tenants' && b === undefined) {
    if (req.method === 'GET')
      return sendJson(
        res,
        200,
        [...state.tenants.values()].map((t) => tenantView(ctx, t)),
      );
    if (req.method !== 'POST') return notFound();
    const p = await parsedBody(req, res, tenantCreate);
    if (p === undefined) return;
    const domain = (p.domain ?? `${p.name.toLowerCase().replace(/[^a-z0-9]+/g, '')}${state.tenants.size}.onmicrosoft.com`).toLowerCase();
    if (state.resolveTenant(domain) || (p.tenantId && state.tenants.has(p.tenantId.toLowerCase()))) {
      return sendJson(res, 409, { error: { code: 'Conflict', field: p.tenantId ? 'tenantId' : 'domain', message: 'a tenant with this domain or id exists' } });
    }
    const settings: TenantSettings = {
      ...DEFAULT_TENANT_SETTINGS,
      ...stripUndefined(p),
      licences: { ...DEFAULT_TENANT_SETTINGS.licences, ...stripUndefined(p.licences ?? {}) },
      name: p.name,
      domain,
      users: p.users ?? DEFAULT_TENANT_SETTINGS.users,
      cloud: (p.cloud ?? DEFAULT_TENANT_SETTINGS.cloud) as TenantSettings['cloud'],
    } as TenantSettings;
    delete (settings as unknown as Record<string, unknown>).tenantId;
    const tenant = state.createTenant(settings, p.tenantId?.toLowerCase());
    return sendJson(res, 201, tenantView(ctx, tenant));
  }

  if (a === 'tenants' && b) {
    const tenant = state.tenants.get(b.toLowerCase());
    if (!tenant) return sendJson(res, 404, { error: { code: 'NotFound', message: `tenant ${b} not found` } });
    if (c === undefined) {
      if (req.method === 'GET') return sendJson(res, 200, tenantView(ctx, tenant));
      if (req.method === 'DELETE') {
        state.tenants.delete(tenant.tenantId);
        return send(res, 204, '');
      }
      if (req.method !== 'PATCH') return notFound();
      const p = await parsedBody(req, res, tenantPatch);
      if (p === undefined) return;
      tenant.advance(now);
      tenant.settings = {
        ...tenant.settings,
        ...stripUndefined(p),
        licences: { ...tenant.settings.licences, ...stripUndefined(p.licences ?? {}) },
      } as TenantSettings;
      return sendJson(res, 200, tenantView(ctx, tenant));
    }
    if (c === 'consent') {
      if (req.method === 'DELETE') {
        if (tenant.servicePrincipal) tenant.revokedConsent = true;
        tenant.servicePrincipal = null;
        return send(res, 204, '');
      }
      if (req.method !== 'POST') return notFound();
      const input = await parsedBody(req, res, consentBody);
      if (input === undefined) return;
      tenant.revokedConsent = false;
      tenant.grantRoles(input.roles ?? state.registrationFor(tenant.settings.cloud).requiredRoles, now);
      const sp = tenant.servicePrincipal;
      if (sp) sp.consentedBy = tenant.adminAccount.userPrincipalName;
      return sendJson(res, 200, tenantView(ctx, tenant));
    }
    if (c === 'records' && req.method === 'POST') {
      const input = await parsedBody(req, res, recordsBody);
      if (input === undefined) return;
      tenant.advance(now);
      const added = tenant.addRecords(input.source, input.count, now, stripUndefined({ eventsSpanMs: input.eventsSpanMs, recordBytes: input.recordBytes }));
      if (input.prerender) hooks.prerenderManagement(tenant, managementContentType(input.source as ManagementSource) as ManagementContentType, now);
      return sendJson(res, 201, {
        source: input.source,
        count: added.count,
        firstIndex: added.firstIndex,
        availableAt: new Date(added.availableAtMs).toISOString(),
      });
    }
    if (c === 'updates' && req.method === 'POST') {
      const input = await parsedBody(req, res, updateBody);
      if (input === undefined) return;
      tenant.advance(now);
      const feed = tenant.feed(input.source);
      if (input.firstIndex + input.count > feed.nextIndex) {
        return sendJson(res, 400, {
          error: { code: 'BadRequest', field: 'firstIndex', message: `invalid field 'firstIndex': ${input.source} has ${feed.nextIndex} records` },
        });
      }
      const done = tenant.updateRecords(input.source, input.firstIndex, input.count, now, input.state ?? null);
      return sendJson(res, 201, {
        source: input.source,
        firstIndex: input.firstIndex,
        count: input.count,
        updatedAt: new Date(now).toISOString(),
        availableAt: new Date(done.availableAtMs).toISOString(),
      });
    }
    if (c === 'ledger' && req.method === 'GET') {
      const source = req.url.searchParams.get('source') ?? '';
      const parsed = sourceEnum.safeParse(source);
      if (!parsed.success)
        return sendJson(res, 400, { error: { code: 'BadRequest', field: 'source', message: `invalid field 'source': unknown source '${source}'` } });
      return sendJson(res, 200, buildLedger(tenant, parsed.data, now));
    }
    if (c === 'request-log' && req.method === 'GET') {
      return sendJson(res, 200, { tenantId: tenant.tenantId, requests: tenant.apiRequestLog });
    }
    if (c === 'requests' && req.method === 'GET') {
      return sendJson(res, 200, { graph: Object.fromEntries(tenant.graphRequests), limitThrottled: Object.fromEntries(tenant.limitThrottled) });
    }
    if (c === 'subscriptions' && segments[3] && segments[4] === 'disable' && req.method === 'POST') {
      const sub = tenant.subscriptions.get(segments[3]);
      if (!sub) return sendJson(res, 404, { error: { code: 'NotFound', message: `no subscription for ${segments[3]}` } });
      if (sub.status === 'enabled') {
        const open = sub.intervals.find((i) => i.toMs === null);
        if (open) open.toMs = now;
      }
      sub.status = 'disabled';
      return sendJson(res, 200, tenantView(ctx, tenant));
    }
    return notFound();
  }

  if (a === 'faults') {
    if (b === undefined && req.method === 'GET') return sendJson(res, 200, ctx.faults.list());
    if (b === undefined && req.method === 'POST') {
      const input = await parsedBody(req, res, faultBody);
      if (input === undefined) return;
      const fault = ctx.faults.add(stripUndefined(input) as Parameters<typeof ctx.faults.add>[0]);
      return sendJson(res, 201, { id: fault.id });
    }
    if (b && req.method === 'DELETE') {
      return ctx.faults.remove(b) ? send(res, 204, '') : sendJson(res, 404, { error: { code: 'NotFound', message: `fault ${b} not found` } });
    }
    return notFound();
  }

  if (a === 'clock' && b === undefined) {
    if (req.method === 'GET') return sendJson(res, 200, { now: new Date(now).toISOString() });
    if (req.method !== 'POST') return notFound();
    const input = await parsedBody(req, res, clockBody);
    if (input === undefined) return;
    return sendJson(res, 200, { now: new Date(ctx.advanceClock(input.advanceMs)).toISOString() });
  }

  if (a === 'app') {
    // `?instance=global|usgov` names one Entra instance's registration (default global); a PATCH without it
    // changes every registration, as a vendor updating its manifest in each cloud's portal would.
    const named = req.url.searchParams.get('instance');
    if (named !== null && !ENTRA_INSTANCES.includes(named as EntraInstance))
      return sendJson(res, 400, {
        error: { code: 'BadRequest', field: 'instance', message: `invalid field 'instance': expected one of ${ENTRA_INSTANCES.join(', ')}` },
      });
    const instance = (named ?? 'global') as EntraInstance;
    if (b === undefined && req.method === 'GET') return sendJson(res, 200, appView(ctx, instance));
    if (b === undefined && req.method === 'PATCH') {
      const input = await parsedBody(req, res, appPatch);
      if (input === undefined) return;
      for (const app of named === null ? Object.values(state.registrations) : [state.registrations[instance]]) {
        if (input.requiredRoles) app.requiredRoles = [...input.requiredRoles];
        if (input.redirectUris) app.redirectUris = [...input.redirectUris];
      }
      return sendJson(res, 200, appView(ctx, instance));
    }
    if (b === 'secret' && req.method === 'POST') {
      const input = await parsedBody(req, res, secretBody);
      if (input === undefined) return;
      const app = state.registrations[instance];
      app.secretExpired = input.expired;
      return sendJson(res, 200, { clientId: app.clientId, clientSecret: app.clientSecret, expired: app.secretExpired });
    }
    return notFound();
  }
  return notFound();
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
