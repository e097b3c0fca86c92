/**
 * App-only tokens for the one multi-tenant application, per customer tenant and cloud, through msal-node.
 * Shared by the control plane (verifying consent, reading granted roles) and ingest (polling).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { z } from 'zod';
import type { Cloud, CloudProfiles } from './clouds.ts';
import type { Logger } from './logger.ts';
import { PermanentError } from './retry.ts';
import { parseSettings, setting } from './settings.ts';
import type { StatusReason } from './contracts/source-status.ts';

export const microsoftAppSettingsSpec = {
  clientId: setting('M365_CLIENT_ID', z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected the application (client) id GUID').optional(), 'application (client) id of the multi-tenant Entra app'),
  clientSecret: setting('M365_CLIENT_SECRET', z.string().min(1).optional(), 'client secret of the app (or use a certificate); never logged'),
  certificateFile: setting('M365_CLIENT_CERTIFICATE_FILE', z.string().optional(), 'PEM file with the app certificate (used instead of a secret)'),
  privateKeyFile: setting('M365_CLIENT_PRIVATE_KEY_FILE', z.string().optional(), 'PEM file with the certificate\'s private key'),
} as const;

export type MicrosoftAppCredentials =
  | { clientId: string; kind: 'secret'; clientSecret: string }
  | { clientId: string; kind: 'certificate'; thumbprintSha256: string; privateKey: string; x5c: string };

/** Returns null when no application is configured (the demo then starts the simulator). */
export function parseMicrosoftApp(env: Readonly<Record<string, string | undefined>>): MicrosoftAppCredentials | null {
  const s = parseSettings(microsoftAppSettingsSpec, env);
  if (!s.clientId) {
    if (s.clientSecret || s.certificateFile) throw new Error('invalid configuration:\n  - M365_CLIENT_ID: required when a secret or certificate is set');
    return null;
  }
  if (s.clientSecret) return { clientId: s.clientId, kind: 'secret', clientSecret: s.clientSecret };
  if (s.certificateFile && s.privateKeyFile) {
    const certPem = readFileSync(s.certificateFile, 'utf8');
    const cert = new X509Certificate(certPem);
    return {
      clientId: s.clientId,
      kind: 'certificate',
      thumbprintSha256: createHash('sha256').update(cert.raw).digest('hex'),
      privateKey: readFileSync(s.privateKeyFile, 'utf8'),
      x5c: certPem,
    };
  }
  throw new Error('invalid configuration:\n  - M365_CLIENT_SECRET or M365_CLIENT_CERTIFICATE_FILE + M365_CLIENT_PRIVATE_KEY_FILE: one credential is required with M365_CLIENT_ID');
}

export type ApiResource = 'management' | 'graph';

export interface AppToken {
  accessToken: string;
  roles: string[];
  tenantId: string;
  expiresOn: Date | null;
}

/** Claims of a JWT without verifying it: we only read what Microsoft granted us (`roles`, `tid`). */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new PermanentError('access token is not a JWT', 'malformed_token');
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new PermanentError('access token claims are not JSON', 'malformed_token');
  }
}

/** A classified token failure: the status reason of ARCHITECTURE.md guarantee 5 and whether retrying may help. */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly reason: StatusReason,
    readonly aadsts: number | null,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** Maps msal/Entra errors to status reasons by the numeric AADSTS code (texts change, codes do not). */
export function classifyTokenError(error: unknown): TokenError {
  const e = error as { errorCode?: string; errorMessage?: string; message?: string; status?: number; errorNo?: string | number };
  const text = `${e?.errorMessage ?? ''} ${e?.message ?? ''}`;
  const match = /AADSTS(\d+)/.exec(text);
  const code = match ? Number(match[1]) : e?.errorNo !== undefined && e.errorNo !== '' ? Number(e.errorNo) : null;
  const summary = match ? `AADSTS${match[1]}` : (e?.errorCode ?? 'token_error');
  const firstLine = text.trim().split(/\r?\n/)[0]?.slice(0, 300) ?? '';
  const msg = `${summary}: ${firstLine}`;
  switch (code) {
    case 700016:
    case 7000229:
    case 65001:
    case 500011:
      return new TokenError(msg, 'consent_revoked', code, false);
    case 7000215:
    case 7000218:
      return new TokenError(msg, 'secret_invalid', code, false);
    case 7000222:
      return new TokenError(msg, 'secret_expired', code, false);
    case 90002:
      return new TokenError(msg, 'tenant_not_found', code, false);
  }
  if (e?.status === 429 || /throttl|429/.test(text)) return new TokenError(msg, 'throttled', code, true);
  if (e?.errorCode === 'invalid_tenant') return new TokenError(msg, 'tenant_not_found', code, false);
  return new TokenError(msg, 'microsoft_unavailable', code, true);
}

/**
 * One ConfidentialClientApplication per cloud; the customer tenant is chosen per request through the authority.
 * Hosts come from the cloud profiles, so pointing them at a stand-in (simulator) needs only configuration.
 */
export class AppTokenProvider {
  private readonly apps = new Map<Cloud, ConfidentialClientApplication>();

  constructor(
    private readonly credentials: MicrosoftAppCredentials,
    private readonly profiles: CloudProfiles,
    private readonly logger: Logger,
  ) {}

  get clientId(): string {
    return this.credentials.clientId;
  }

  private app(cloud: Cloud): ConfidentialClientApplication {
    let app = this.apps.get(cloud);
    if (app) return app;
    const authorityHost = this.profiles[cloud].authorityHost;
    const hostPort = new URL(authorityHost).host;
    const config: Configuration = {
      auth: {
        clientId: this.credentials.clientId,
        authority: `${authorityHost}/organizations`,
        knownAuthorities: [hostPort],
        ...(this.credentials.kind === 'secret'
          ? { clientSecret: this.credentials.clientSecret }
          : {
              clientCertificate: {
                thumbprintSha256: this.credentials.thumbprintSha256,
                privateKey: this.credentials.privateKey,
                x5c: this.credentials.x5c,
              },
            }),
      },
      system: {
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: 1, // Warning
          loggerCallback: (_level, message) => this.logger.debug({ msal: message }, 'msal'),
        },
      },
    };
    app = new ConfidentialClientApplication(config);
    this.apps.set(cloud, app);
    return app;
  }

  /**
   * Acquires an app-only token for `tenantId`. `fresh` skips msal's cache: needed after consent or role changes,
   * since new roles appear only in new tokens.
   */
  async acquire(tenantId: string, cloud: Cloud, resource: ApiResource, options: { fresh?: boolean } = {}): Promise<AppToken> {
    const profile = this.profiles[cloud];
    const audience = resource === 'management' ? profile.managementResource : profile.graphResource;
    let result;
    try {
      result = await this.app(cloud).acquireTokenByClientCredential({
        scopes: [`${audience}/.default`],
        authority: `${profile.authorityHost}/${tenantId}`,
        skipCache: options.fresh ?? false,
      });
    } catch (error) {
      throw classifyTokenError(error);
    }
    if (!result?.accessToken) throw new TokenError('token endpoint returned no access token', 'microsoft_unavailable', null, true);
    const claims = decodeJwtClaims(result.accessToken);
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
    return {
      accessToken: result.accessToken,
      roles,
      tenantId: typeof claims.tid === 'string' ? claims.tid : tenantId,
      expiresOn: result.expiresOn ?? null,
    };
  }
}

