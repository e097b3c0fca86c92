/**
 * STUB — only for the early UI smoke test (tests/ui/ui-stub-smoke.e2e.test.ts). It imitates the control plane's REST
 * API in memory, with a fake consent page (Accept / Cancel) on the same server. Its answers are typed with the API's
 * own response types (control-plane/openapi.ts, decision 0196), so it cannot drift from the contract; it is not the
 * control plane and proves nothing about it; the real end-to-end tests use startControlPlane.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Request, Response } from 'express';
import type { ApiErrorCode } from '../../../control-plane/api-error-codes.ts';
import type {
  ConnectionResponse,
  ConsentUrlResponse,
  ErrorResponse,
  EventsPage,
  FleetActivity,
  HistoryEntryResponse,
  HourlyActivity,
  HistoryResponse,
  OrganizationListResponse,
  OrganizationResponse,
  PipelineStallResponse,
  SourceViewResponse,
} from '../../../control-plane/openapi.ts';
import { LATEST_MANIFEST_VERSION, manifestFor, requiredRoles } from '../../../control-plane/permission-manifest.ts';
import { consentCallbackScriptTag, uiRouter } from '../../../control-plane/ui/index.ts';
import type { Cloud } from '../../../runtime/index.ts';

type StubApp = ConnectionResponse;

const source = (s: Pick<SourceViewResponse, 'name' | 'state' | 'reason' | 'lastEventAt' | 'events24h'>): SourceViewResponse => ({
  message: null,
  remedy: null,
  lagSeconds: 0,
  ...s,
});

/** The stub connects under the manifest version the control plane ships, with that version's roles (not a copy of them). */
const MANIFEST_VERSION = LATEST_MANIFEST_VERSION;
const requiredFor = (autoUpgrade: boolean) => requiredRoles(manifestFor(MANIFEST_VERSION), autoUpgrade);

export interface StubControlPlane {
  url: string;
  /** Test hooks. */
  revokeConsent(orgId: string): void;
  requireNewRole(orgId: string, role: string): void;
  /** A pipeline stage stalls on the organization's partition (`since` ISO), or runs again (null). */
  stallPipeline(orgId: string, stall: Pick<PipelineStallResponse, 'stage' | 'since'> | null): void;
  /** Render the callback page without the postMessage script (an older control plane). */
  setCallbackScript(enabled: boolean): void;
  close(): Promise<void>;
}

export async function startStubControlPlane(options: { adminToken: string; viewerToken?: string; activateAfterMs?: number }): Promise<StubControlPlane> {
  const orgs = new Map<string, OrganizationResponse>();
  const apps = new Map<string, StubApp>();
  const history = new Map<string, HistoryEntryResponse[]>();
  let seq = 0;
  let url = '';
  let callbackScript = true;
  const record = (orgId: string, action: string, detail: Record<string, unknown> = {}) =>
    history.get(orgId)?.push({ at: new Date().toISOString(), actor: { role: 'admin', label: 'stub-operator' }, action, message: action, detail });
  const fail = (res: Response, status: number, code: ApiErrorCode, message: string) =>
    void res.status(status).json({ error: { code, message } } satisfies ErrorResponse);
  const consentUrlAnswer = (consentUrl: string): ConsentUrlResponse => ({ consentUrl });

  const api = express.Router();
  api.use(express.json());
  api.use((req, res, next) => {
    const auth = req.headers.authorization;
    if (options.viewerToken && auth === `Bearer ${options.viewerToken}`) {
      if (req.method !== 'GET') return fail(res, 403, 'forbidden', 'this token has the viewer role and may only read; changes need an admin token');
      return next();
    }
    if (auth !== `Bearer ${options.adminToken}`) return fail(res, 401, 'unauthenticated', 'Missing or unknown bearer token.');
    next();
  });
  api.get('/organizations', (_req, res) => void res.json({ items: [...orgs.values()] } satisfies OrganizationListResponse));
  api.post('/organizations', (req, res) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
    if (!name) return fail(res, 400, 'invalid_request', 'name: required');
    seq += 1;
    const now = new Date().toISOString();
    const org: OrganizationResponse = { id: `org_stub${seq}`, name, createdAt: now, updatedAt: now, revision: 1, connection: null };
    orgs.set(org.id, org);
    history.set(org.id, []);
    record(org.id, 'organization.created', { name });
    res.status(201).json(org);
  });
  api.get('/organizations/:id', (req, res) => {
    const org = orgs.get(String(req.params.id));
    if (!org) return fail(res, 404, 'not_found', `Organization ${req.params.id} does not exist.`);
    res.json(org);
  });
  const app = (req: Request) => apps.get(String(req.params.id));
  const consentUrl = (orgId: string, kind: string) => `${url}/stub-consent?org=${orgId}&kind=${kind}`;
  api.get('/organizations/:id/applications/microsoft-manage', (req, res) => {
    const a = app(req);
    if (!a) return fail(res, 404, 'not_found', 'This organization has no Microsoft Manage application.');
    res.json(a);
  });
  api.post('/organizations/:id/applications/microsoft-manage', (req, res) => {
    const id = String(req.params.id);
    if (!orgs.has(id)) return fail(res, 404, 'not_found', `Organization ${id} does not exist.`);
    if (req.body?.tenant === 'bad.example') return fail(res, 400, 'invalid_request', 'tenant: no such tenant in the commercial cloud');
    const autoUpgrade = req.body?.autoUpgrade !== false;
    const required = requiredFor(autoUpgrade);
    apps.set(id, {
      status: 'connecting',
      reason: null,
      message: null,
      remedy: null,
      tenantId: null,
      requestedTenant: typeof req.body?.tenant === 'string' ? req.body.tenant : null,
      cloud: (req.body?.cloud ?? 'commercial') as Cloud,
      autoUpgrade,
      manifestVersion: MANIFEST_VERSION,
      permissions: { required, granted: [], missing: required },
      pendingUpgrade: null,
      sources: [],
      connectedAt: null,
      verifiedAt: null,
      firstEventAt: null,
      lastEventAt: null,
      pipelineStalls: [],
    });
    record(id, 'connection.started', { autoUpgrade: req.body?.autoUpgrade });
    res.status(201).json(consentUrlAnswer(consentUrl(id, 'connect')));
  });
  api.patch('/organizations/:id/applications/microsoft-manage', (req, res) => {
    const a = app(req);
    if (!a) return fail(res, 404, 'not_found', 'No application.');
    a.autoUpgrade = req.body?.autoUpgrade === true;
    record(String(req.params.id), 'auto_upgrade.changed', { autoUpgrade: a.autoUpgrade });
    res.json(a);
  });
  api.post('/organizations/:id/applications/microsoft-manage/upgrades/approve', (req, res) => {
    const a = app(req);
    if (!a?.pendingUpgrade) return fail(res, 409, 'no_pending_upgrade', 'There is no pending upgrade to approve.');
    res.json(consentUrlAnswer(consentUrl(String(req.params.id), 'approve')));
  });
  api.post('/organizations/:id/applications/microsoft-manage/repair', (req, res) => {
    if (!app(req)) return fail(res, 404, 'not_found', 'No application.');
    res.json(consentUrlAnswer(consentUrl(String(req.params.id), 'repair')));
  });
  api.delete('/organizations/:id/applications/microsoft-manage', (req, res) => {
    const a = app(req);
    if (!a) return fail(res, 404, 'not_found', 'No application.');
    a.status = 'disconnected';
    a.reason = null;
    a.remedy = null;
    record(String(req.params.id), 'connection.disconnected');
    res.json(a);
  });
  api.get('/organizations/:id/history', (req, res) => void res.json({ items: history.get(String(req.params.id)) ?? [] } satisfies HistoryResponse));
  api.get('/organizations/:id/events', (req, res) => {
    const now = new Date().toISOString();
    const orgId = String(req.params.id);
    const all: EventsPage['events'] = [
      {
        id: `${orgId}-1`,
        '@timestamp': now,
        dataset: 'azure.signinlogs',
        action: 'Sign-in activity',
        outcome: 'success',
        category: ['authentication'],
        user: 'alice@contoso.example',
        sourceIp: '203.0.113.7',
        document: { organization: { id: orgId }, event: { dataset: 'azure.signinlogs' } },
      },
      {
        id: `${orgId}-2`,
        '@timestamp': now,
        dataset: 'o365.audit',
        action: 'FileAccessed',
        outcome: 'success',
        category: ['file'],
        user: 'bob@contoso.example',
        sourceIp: '203.0.113.8',
        document: { organization: { id: orgId }, event: { dataset: 'o365.audit', action: 'FileAccessed' } },
      },
    ];
    const events = all.filter((e) => !req.query.dataset || e.dataset === req.query.dataset);
    res.json({ total: events.length, events } satisfies EventsPage);
  });

  // Activity the stub makes up from its own state: the sources' 24-hour counts, spread over the last hour.
  api.get('/fleet/activity', (_req, res) => {
    const now = Date.now();
    const items: FleetActivity['items'] = [...orgs.keys()].map((orgId) => {
      const a = apps.get(orgId);
      const events7d = (a?.sources ?? []).reduce((sum, s) => sum + s.events24h, 0);
      return {
        orgId,
        lastEventAt: a?.lastEventAt ?? null,
        events7d,
        usualGapMs: events7d > 0 ? Math.round((7 * 24 * 3_600_000) / events7d) : null,
        quiet: false,
      };
    });
    res.json({ now: new Date(now).toISOString(), items } satisfies FleetActivity);
  });
  api.get('/organizations/:id/events/hourly', (req, res) => {
    const id = String(req.params.id);
    if (!orgs.has(id)) return fail(res, 404, 'not_found', `Organization ${id} does not exist.`);
    const hours = 7 * 24;
    const from = Math.floor(Date.now() / 3_600_000) * 3_600_000 - (hours - 1) * 3_600_000;
    // The datasets the stub's events carry (a Graph source's sign-ins, a Management source's audit records).
    const byDataset = new Map<string, number>();
    for (const s of apps.get(id)?.sources ?? []) {
      const dataset = s.name.startsWith('graph:') ? 'azure.signinlogs' : 'o365.audit';
      if (s.events24h > 0) byDataset.set(dataset, (byDataset.get(dataset) ?? 0) + s.events24h);
    }
    const sources: HourlyActivity['sources'] = [...byDataset].map(([dataset, total]) => ({
      dataset,
      total,
      counts: Array.from({ length: hours }, (_, i) => (i === hours - 1 ? total : 0)),
    }));
    res.json({ from: new Date(from).toISOString(), hours, sources } satisfies HourlyActivity);
  });

  const server = express();
  server.use('/api/v1', api);
  server.use(express.urlencoded({ extended: false }));
  server.get('/stub-consent', (req, res) => {
    const q = new URLSearchParams(req.query as Record<string, string>).toString();
    res.type('html').send(`<!DOCTYPE html><html><body><h1>Permissions requested (stub)</h1>
<form method="post" action="/stub-consent?${q}"><input type="hidden" name="action" value="cancel"><button id="cancel">Cancel</button></form>
<form method="post" action="/stub-consent?${q}"><input type="hidden" name="action" value="accept"><button id="accept">Accept</button></form></body></html>`);
  });
  server.post('/stub-consent', (req, res) => {
    const orgId = String(req.query.org);
    const kind = String(req.query.kind);
    const ok = req.body?.action === 'accept';
    const a = apps.get(orgId);
    if (ok && a) {
      const required = requiredFor(a.autoUpgrade !== false);
      a.permissions = { required, granted: required, missing: [] };
      a.pendingUpgrade = null;
      a.tenantId = a.tenantId ?? '7d3f2a10-0000-4000-8000-000000000001';
      a.connectedAt = a.connectedAt ?? new Date().toISOString();
      a.reason = null;
      a.remedy = null;
      a.status = 'waiting_for_first_events';
      record(orgId, `consent.${kind}.accepted`);
      setTimeout(() => {
        if (a.status !== 'waiting_for_first_events') return;
        const now = new Date().toISOString();
        a.status = 'active';
        a.firstEventAt = a.firstEventAt ?? now;
        a.lastEventAt = now;
        a.sources = [
          source({ name: 'graph:signIns', state: 'ok', reason: null, lastEventAt: now, events24h: 12 }),
          source({ name: 'management:Audit.SharePoint', state: 'ok', reason: null, lastEventAt: now, events24h: 30 }),
          source({ name: 'graph:riskyUsers', state: 'unavailable_licence', reason: 'licence_missing', lastEventAt: null, events24h: 0 }),
        ];
      }, options.activateAfterMs ?? 1500);
    } else record(orgId, `consent.${kind}.declined`);
    res.redirect(`/oauth/microsoft/callback?org=${orgId}&ok=${ok ? 1 : 0}`);
  });
  server.get('/oauth/microsoft/callback', (req, res) => {
    const ok = req.query.ok === '1';
    const orgId = String(req.query.org);
    res
      .status(ok ? 200 : 400)
      .type('html')
      .send(
        `<!DOCTYPE html><html><body><h1>${ok ? 'Connected' : 'Consent declined'}</h1><p>${ok ? 'You can close this window.' : 'AADSTS65004: The resource owner or authorization server denied the request.'}</p>${callbackScript ? consentCallbackScriptTag(url, { ok, orgId, message: ok ? null : 'The administrator declined the consent (AADSTS65004).' }) : ''}</body></html>`,
      );
  });
  server.use(uiRouter());

  const listener = server.listen(0, '127.0.0.1');
  await new Promise((r) => listener.once('listening', r));
  url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  return {
    url,
    revokeConsent(orgId) {
      const a = apps.get(orgId);
      if (!a) return;
      a.status = 'needs_attention';
      a.reason = 'consent_revoked';
      a.remedy = 'Run Repair and sign in as a Global Administrator of the customer tenant.';
    },
    requireNewRole(orgId, role) {
      const a = apps.get(orgId);
      if (!a) return;
      a.permissions = { required: [...a.permissions.required, role], granted: a.permissions.granted, missing: [role] };
      a.pendingUpgrade = {
        missingRoles: [role],
        // A release after the one the stub ships asks for the role.
        manifestVersion: MANIFEST_VERSION + 1,
        requestedAt: new Date().toISOString(),
        why: 'a new report needs it',
        consentUrl: consentUrl(orgId, 'approve'),
        pausedSources: [],
      };
    },
    stallPipeline(orgId, stall) {
      const a = apps.get(orgId);
      if (!a) return;
      a.status = stall ? 'needs_attention' : 'active';
      a.reason = stall ? 'pipeline_stalled' : null;
      a.remedy = stall ? "Check the stalled stage's instances and restart them if they do not recover." : null;
      a.pipelineStalls = stall ? [{ ...stall, topic: 'm365.raw', partition: 1, lagRecords: 5_000 }] : [];
    },
    setCallbackScript(enabled) {
      callbackScript = enabled;
    },
    close: () => new Promise<void>((r) => listener.close(() => r())),
  };
}
