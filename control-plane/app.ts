/**
 * The control plane's HTTP surface, built in a function (listen elsewhere) so tests run it in-process.
 */
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type Request, type Response, type Router } from 'express';
import { healthRouter, isKafkaClientError, scrubSecrets, type Logger, type Readiness } from '../runtime/index.ts';
import type { SchemaRegistryView } from '../schemas/index.ts';
import { ApiError, principalView, requireOrganizationRole, requireToken, requireUnscopedAdmin, roleFor, type Actor, type TokenEntry } from './auth.ts';
import type { ConnectionService } from './connection-service.ts';
import type { ControlPlaneMetrics } from './metrics.ts';
import {
  callbackQuery,
  connectBody,
  createOrganizationBody,
  openApiDocument,
  orgIdParams,
  patchConnectionBody,
  patchOrganizationBody,
  validate,
} from './openapi.ts';
import { backfillBody, type BackfillResponse } from './backfill.ts';
import { refetchBody, type RefetchResponse } from './refetch.ts';
import { schemaRegistryRouter } from './schema-registry.ts';
import { consentCallbackScriptTag } from './ui/consent-callback-script.ts';
import { authFailureRateLimit, callbackRateLimit, type RateLimitSettings } from './rate-limits.ts';
import { baselineHeaders, consentPageHeaders, cspNonce, noStore } from './security-headers.ts';

export interface ControlPlaneAppOptions {
  /** Routers that own full paths (e.g. the events API under /api/v1/organizations/{id}/events), mounted before the API's 404. */
  extraRouters?: Router[];
  /** The operator UI, mounted last (it answers page paths only). */
  ui?: Router;
  service: ConnectionService;
  tokens: readonly TokenEntry[];
  metrics: ControlPlaneMetrics;
  readiness: Readiness;
  logger: Logger;
  publicUrl: string;
  /** Per-address limits on the consent callback and on failed authentications (default: none). */
  rateLimits?: RateLimitSettings;
  /** Express `trust proxy`: which proxies' X-Forwarded-For gives the client address (default: none trusted). */
  trustProxy?: boolean | number | string;
  schemaRegistry?: SchemaRegistryView;
  /** Records an operator's re-fetch request (replay --refetch); the route answers 501 without it. */
  refetch?: (actor: Actor, orgId: string, from: string | undefined) => Promise<RefetchResponse>;
  /** Records an operator's back-fill request (replay --backfill); the route answers 501 without it. */
  backfill?: (actor: Actor, orgId: string, from: string) => Promise<BackfillResponse>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The consent callback's HTML page; `nonce` is this response's CSP nonce (security-headers.ts), on every inline element. */
function consentPage(title: string, message: string, ok: boolean, nonce: string, script = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — m365-siem</title>
<style nonce="${nonce}">body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5}
h1{font-size:1.4rem;color:${ok ? '#0a6b2d' : '#a4262c'}}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${script}</body></html>
`;
}

const actorOf = (req: Request): Actor => req.actor ?? { role: 'viewer', label: 'unknown' };

export function buildControlPlaneApp(options: ControlPlaneAppOptions): Express {
  const { service, metrics, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy);
  const https = options.publicUrl.startsWith('https:');
  app.use(baselineHeaders({ https }));
  const limits = options.rateLimits ?? { callbackPerMinute: 0, authFailuresPerMinute: 0 };

  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = req.route?.path ? `${req.originalUrl.startsWith('/api/v1/') ? '/api/v1' : ''}${String(req.route.path)}` : 'unmatched';
      metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
    });
    next();
  });

  // Health only: /metrics is served on the ops listener (index.ts), not where the public reaches.
  app.use(healthRouter(options.readiness));

  // The consent redirect target: no bearer token (Microsoft redirects the administrator's browser here); the
  // signed, expiring, single-use state binds it to an organization.
  app.get(
    '/oauth/microsoft/callback',
    consentPageHeaders({ https }),
    callbackRateLimit(limits, (title, message, res) => consentPage(title, message, false, cspNonce(res))),
    async (req, res) => {
      const parsed = callbackQuery.safeParse(req.query);
      const query = parsed.success ? parsed.data : {};
      const outcome = await service.handleCallback(query);
      // The sign-in step continues to Microsoft's admin-consent page in the signed-in tenant.
      if (outcome.location) return res.redirect(302, outcome.location);
      const ok = outcome.httpStatus < 400;
      // Tells the operator UI that opened the consent pop-up how it went (posted to our own origin only).
      const nonce = cspNonce(res);
      const script = consentCallbackScriptTag(
        options.publicUrl,
        { ok, orgId: outcome.orgId ?? null, message: ok ? null : `${outcome.title}: ${outcome.message}` },
        nonce,
      );
      res
        .status(outcome.httpStatus)
        .type('html')
        .send(consentPage(outcome.title, outcome.message, ok, nonce, script));
    },
  );

  // Every route of one organization checks the token's role on that organization (docs/security.md § Operator scopes).
  const viewer = requireOrganizationRole('viewer');
  const admin = requireOrganizationRole('admin');
  const api = express.Router();
  // Authenticate before parsing bodies: an unauthenticated request learns nothing but 401.
  api.use(requireToken(options.tokens));
  // No route of this API takes query parameters (the events API has its own strict list): a misspelt or stray one
  // is the caller's mistake, told as such, not silently ignored. Schema-registry clients send their own (e.g. ?deleted).
  api.use((req, _res, next) => {
    const stray = Object.keys(req.query as Record<string, unknown>)[0];
    if (stray === undefined || req.path.startsWith('/schema-registry/')) return next();
    next(new ApiError(400, 'invalid_request', `query.${stray.slice(0, 64)}: unknown query parameter`, `query.${stray.slice(0, 64)}`));
  });
  api.use(express.json({ limit: '64kb', strict: true }));

  api.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(options.publicUrl));
  });

  api.get('/me', (req, res) => {
    res.json(principalView(req.principal!));
  });

  api.get('/organizations', (req, res) => {
    const principal = req.principal!;
    res.json({ items: service.listOrganizations().filter((o) => roleFor(principal, o.id) !== null) });
  });
  api.post('/organizations', requireUnscopedAdmin, async (req, res) => {
    const body = validate(createOrganizationBody, 'body', req.body);
    const org = await service.createOrganization(actorOf(req), body.name);
    res.status(201).location(`${options.publicUrl}/api/v1/organizations/${org.id}`).json(org);
  });
  api.get('/organizations/:id', viewer, (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json(service.getOrganization(id));
  });
  api.patch('/organizations/:id', admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    const body = validate(patchOrganizationBody, 'body', req.body);
    res.json(await service.renameOrganization(actorOf(req), id, body.name));
  });
  api.delete('/organizations/:id', admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    await service.deleteOrganization(actorOf(req), id);
    res.status(204).end();
  });
  api.get('/organizations/:id/history', viewer, (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json({ items: service.history(id) });
  });

  const m365 = '/organizations/:id/applications/microsoft-manage';
  api.post(m365, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    const body = validate(connectBody, 'body', req.body);
    const { consentUrl } = await service.connect(actorOf(req), id, body);
    res.status(201).json({ consentUrl });
  });
  api.get(m365, viewer, (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json(service.connectionView(id, { withConsentUrl: req.actor?.role === 'admin' }));
  });
  api.patch(m365, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    const body = validate(patchConnectionBody, 'body', req.body);
    res.json(await service.setAutoUpgrade(actorOf(req), id, body.autoUpgrade));
  });
  api.delete(m365, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json(await service.disconnect(actorOf(req), id));
  });
  api.post(`${m365}/upgrades/approve`, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json(await service.approveUpgrade(actorOf(req), id));
  });
  api.post(`${m365}/repair`, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json(await service.repair(actorOf(req), id));
  });
  api.post(`${m365}/refetch`, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    const body = validate(refetchBody, 'body', req.body ?? {});
    if (!options.refetch) throw new ApiError(501, 'not_implemented', 're-fetch is not wired in this control plane');
    res.json(await options.refetch(actorOf(req), id, body.from));
  });
  api.post(`${m365}/backfill`, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    const body = validate(backfillBody, 'body', req.body ?? {});
    if (!options.backfill) throw new ApiError(501, 'not_implemented', 'back-fill is not wired in this control plane');
    res.json(await options.backfill(actorOf(req), id, body.from));
  });
  api.post(`${m365}/verify`, admin, async (req, res) => {
    const { id } = validate(orgIdParams, 'params', req.params);
    res.json(await service.verify(id, actorOf(req)));
  });

  api.use('/schema-registry', schemaRegistryRouter(options.schemaRegistry));

  api.use((req, _res, next) => next(new ApiError(404, 'not_found', `no endpoint ${req.method} ${req.baseUrl}${req.path}`)));
  // Every API answer, errors and 401s included, is kept by no browser or proxy.
  app.use('/api', noStore, authFailureRateLimit(limits));
  for (const router of options.extraRouters ?? []) app.use(router);
  app.use('/api/v1', api);
  if (options.ui) app.use(options.ui);
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no endpoint ${req.method} ${req.path}`)));

  const onError: ErrorRequestHandler = (error: unknown, req: Request, res: Response, _next) => {
    if (res.headersSent) return;
    if (error instanceof ApiError) {
      if (error.status === 401) res.set('WWW-Authenticate', 'Bearer realm="m365-siem"');
      res.status(error.status).json({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } });
      return;
    }
    const e = error as { type?: string; status?: number; message?: string };
    if (e?.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_json', message: 'body: the request body is not valid JSON', field: 'body' } });
      return;
    }
    if (e?.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'too_large', message: 'the request body is larger than 64 kB' } });
      return;
    }
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ error: { code: 'bad_request', message: scrubSecrets(e.message ?? 'bad request') } });
      return;
    }
    if (isKafkaClientError(error)) {
      logger.error({ err: error, method: req.method, path: req.path }, 'state write failed: Kafka unavailable');
      res
        .status(503)
        .set('Retry-After', '5')
        .json({ error: { code: 'kafka_unavailable', message: 'the state store (Kafka) is unavailable; nothing was changed, retry later' } });
      return;
    }
    // Nobody classified this error (a bug included): say so, with the id under which the log has it.
    const errorId = randomUUID();
    logger.error({ err: error, errorId, method: req.method, path: req.path }, 'request failed with an internal error');
    res.status(500).json({ error: { code: 'internal_error', message: `internal error ${errorId}; the control-plane log has it under this id` } });
  };
  app.use(onError);
  return app;
}
