import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureAppCertificate, ensureServerCertificate } from './certificate-authority.ts';
import type { SimContext } from './context.ts';
import { handleControl } from './control-api.ts';
import { handleAdminConsent } from './entra/admin-consent.ts';
import { handleAuthorize } from './entra/authorize.ts';
import { TokenSigner } from './entra/jwt.ts';
import { handleInstanceDiscovery, handleKeys, handleOpenIdConfiguration } from './entra/metadata.ts';
import { handleToken } from './entra/token-service.ts';
import { FaultRegistry } from './faults.ts';
import { GraphApi } from './graph/graph-api.ts';
import { sendJson, toSimRequest } from './http.ts';
import { ManagementApi } from './management-api/management-api.ts';
import { SimulatorState } from './tenant-state.ts';

/** Builds and starts one simulator instance: Entra ID, Management Activity API, Graph and /_sim/ on one HTTPS port. */

export interface StartSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  stateDir: string;
  seed?: string | number;
  /** Listen address; default 127.0.0.1 (the control API answers loopback clients only anyway). */
  host?: string;
  /** Serialized content blobs kept in memory (default 2000; 0 regenerates every fetch — the benchmark's worst case). */
  blobCacheEntries?: number;
}

export interface RunningSimulator {
  url: string;
  port: number;
  caFile: string;
  /** The connector's registration in the global Entra instance (commercial and GCC tenants). */
  clientId: string;
  clientSecret: string;
  /** Its separate registration in Entra ID Government (GCC High and DoD tenants consent only to this one). */
  usGovClientId: string;
  usGovClientSecret: string;
  /** The certificate credential both registrations carry credential (for `clientCertificate` in msal-node). */
  clientCertificate: { certPem: string; privateKeyPem: string; thumbprint: string; thumbprintSha256: string };
  close(): Promise<void>;
}

export async function startSimulator(options: StartSimulatorOptions): Promise<RunningSimulator> {
  const serverCert = await ensureServerCertificate(options.stateDir);
  const appCert = await ensureAppCertificate(options.stateDir);
  const seed = String(options.seed ?? 'm365-siem');
  let clockOffsetMs = 0;
  const now = () => Date.now() + clockOffsetMs;
  let port = 0;
  const ctx: SimContext = {
    state: new SimulatorState(seed, appCert, now),
    faults: new FaultRegistry(seed, now),
    signer: new TokenSigner(serverCert.keyPem, serverCert.certPem),
    origin: () => `https://localhost:${port}`,
    hostPort: () => `localhost:${port}`,
    now,
    advanceClock: (ms: number) => {
      clockOffsetMs += ms;
      return now();
    },
  };
  const management = new ManagementApi(ctx, options.blobCacheEntries ?? 2000);
  const graph = new GraphApi(ctx);
  const controlHooks = { prerenderManagement: management.prerender.bind(management) };

  const handler = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const req = toSimRequest(raw, ctx.origin());
    const s = req.segments;
    const [first, second, third, fourth] = s;
    if (first === '_sim') return handleControl(ctx, req, res, s.slice(1), controlHooks);
    if (first === 'api' && (second === 'v1.0' || second === 'v1')) return management.handle(req, res, s.slice(2));
    if (first === 'v1.0' || first === 'beta') return graph.handle(req, res, s.slice(1).join('/'), first);
    if (!first) return sendJson(res, 404, { error: 'not_found' });
    if (second === 'discovery' && third === 'instance') return handleInstanceDiscovery(ctx, req, res);
    if (second === 'v2.0' && third === '.well-known' && fourth === 'openid-configuration') return handleOpenIdConfiguration(ctx, res, first, true);
    if (second === '.well-known' && third === 'openid-configuration') return handleOpenIdConfiguration(ctx, res, first, false);
    if (second === 'oauth2' && third === 'v2.0' && fourth === 'token') return handleToken(ctx, req, res, first, false);
    if (second === 'oauth2' && third === 'token') return handleToken(ctx, req, res, first, true);
    if (second === 'discovery' && (third === 'keys' || (third === 'v2.0' && fourth === 'keys'))) return handleKeys(ctx, res);
    if (second === 'oauth2' && third === 'v2.0' && fourth === 'authorize') return handleAuthorize(ctx, req, res, first);
    if (second === 'adminconsent') return handleAdminConsent(ctx, req, res, first, false);
    if (second === 'v2.0' && third === 'adminconsent') return handleAdminConsent(ctx, req, res, first, true);
    sendJson(res, 404, { error: 'not_found', error_description: `No route for ${req.method} ${req.rawPath}` });
  };

  const server = https.createServer({ key: serverCert.keyPem, cert: serverCert.certPem, keepAlive: true }, (raw, res) => {
    handler(raw, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'InternalServerError', message: err instanceof Error ? err.message : String(err) } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  // Continuous generation is materialised lazily; this tick keeps publication times close to real time.
  const tick = setInterval(() => {
    const t = now();
    for (const tenant of ctx.state.tenants.values()) if (tenant.settings.recordsPerMinute > 0) tenant.advance(t);
  }, 1000);
  tick.unref();

  return {
    url: ctx.origin(),
    port,
    caFile: serverCert.caFile,
    clientId: ctx.state.registrations.global.clientId,
    clientSecret: ctx.state.registrations.global.clientSecret,
    usGovClientId: ctx.state.registrations.usgov.clientId,
    usGovClientSecret: ctx.state.registrations.usgov.clientSecret,
    clientCertificate: {
      certPem: appCert.certPem,
      privateKeyPem: appCert.privateKeyPem,
      thumbprint: appCert.thumbprint,
      thumbprintSha256: appCert.thumbprintSha256,
    },
    close: async () => {
      clearInterval(tick);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
