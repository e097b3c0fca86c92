/**
 * App-only tokens for the one multi-tenant application, per customer tenant and cloud, through msal-node.
 * Shared by the control plane (verifying consent, reading granted roles) and ingest (polling).
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { z } from 'zod';
import { CLOUDS, type Cloud, type CloudProfiles } from './clouds.ts';
import type { Logger } from './logger.ts';
import { ClassifiedError, PermanentError } from './retry.ts';
import { ConfigError, parseSettings, setting } from './settings.ts';
import type { StatusReason } from './contracts/source-status.ts';

/** The settings of one application registration; `prefix` is `M365` for commercial, `M365_GCC_HIGH` for GCC High, … */
function registrationSettings(prefix: string, label: string) {
  return {
    clientId: setting(
      `${prefix}_CLIENT_ID`,
      z
        .string()
        .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected the application (client) id GUID')
        .optional(),
      `application (client) id of the multi-tenant Entra app registered in the ${label} cloud`,
    ),
    clientSecret: setting(
      `${prefix}_CLIENT_SECRET`,
      z.string().min(1).optional(),
      `client secret of the ${label} registration (or use a certificate); never logged`,
    ),
    certificateFile: setting(
      `${prefix}_CLIENT_CERTIFICATE_FILE`,
      z.string().optional(),
      `PEM file with the ${label} registration's certificate (used instead of a secret)`,
    ),
    privateKeyFile: setting(
      `${prefix}_CLIENT_PRIVATE_KEY_FILE`,
      z.string().optional(),
      `PEM file with the private key of the ${label} registration's certificate`,
    ),
  } as const;
}

/**
 * Microsoft requires the application to be registered in each national cloud's own Entra ID (docs/consent.md): the
 * commercial registration (M365_CLIENT_*) also serves GCC, whose tenants live in the commercial Entra ID; the
 * GCC High registration also serves DoD (both in Azure Government's Entra ID). A GCC or DoD registration of its own
 * overrides that.
 */
export const REGISTRATION_PREFIX: Readonly<Record<Cloud, string>> = { commercial: 'M365', gcc: 'M365_GCC', 'gcc-high': 'M365_GCC_HIGH', dod: 'M365_DOD' };
const REGISTRATION_FALLBACK: Readonly<Record<Cloud, Cloud | null>> = { commercial: null, gcc: 'commercial', 'gcc-high': null, dod: 'gcc-high' };
const CLOUD_LABEL: Readonly<Record<Cloud, string>> = { commercial: 'commercial', gcc: 'GCC', 'gcc-high': 'GCC High', dod: 'DoD' };

export const microsoftAppSettingsSpec = registrationSettings('M365', 'commercial');
export const microsoftRegistrationSettingsSpecs: Readonly<Record<Cloud, ReturnType<typeof registrationSettings>>> = {
  commercial: microsoftAppSettingsSpec,
  gcc: registrationSettings('M365_GCC', 'GCC'),
  'gcc-high': registrationSettings('M365_GCC_HIGH', 'GCC High'),
  dod: registrationSettings('M365_DOD', 'DoD'),
};

export type MicrosoftAppCredentials =
  | { clientId: string; kind: 'secret'; clientSecret: string }
  | { clientId: string; kind: 'certificate'; thumbprintSha256: string; privateKey: string; x5c: string };

/** The registration serving each cloud; a cloud without one cannot be connected (refused naming the setting). */
export type MicrosoftRegistrations = Readonly<Partial<Record<Cloud, MicrosoftAppCredentials>>>;

function parseRegistration(env: Readonly<Record<string, string | undefined>>, cloud: Cloud): MicrosoftAppCredentials | null {
  const prefix = REGISTRATION_PREFIX[cloud];
  const s = parseSettings(microsoftRegistrationSettingsSpecs[cloud], env);
  if (!s.clientId) {
    if (s.clientSecret || s.certificateFile) throw new ConfigError([`${prefix}_CLIENT_ID: required when a secret or certificate is set`]);
    return null;
  }
  if (s.clientSecret) return { clientId: s.clientId, kind: 'secret', clientSecret: s.clientSecret };
  if (s.certificateFile && s.privateKeyFile) {
    const read = (file: string, name: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        throw new ConfigError([`${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
      }
    };
    const certPem = read(s.certificateFile, `${prefix}_CLIENT_CERTIFICATE_FILE`);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      throw new ConfigError([`${prefix}_CLIENT_CERTIFICATE_FILE: ${s.certificateFile} is not a PEM certificate`]);
    }
    return {
      clientId: s.clientId,
      kind: 'certificate',
      thumbprintSha256: createHash('sha256').update(cert.raw).digest('hex'),
      privateKey: read(s.privateKeyFile, `${prefix}_CLIENT_PRIVATE_KEY_FILE`),
      x5c: certPem,
    };
  }
  throw new ConfigError([
    `${prefix}_CLIENT_SECRET or ${prefix}_CLIENT_CERTIFICATE_FILE + ${prefix}_CLIENT_PRIVATE_KEY_FILE: one credential is required with ${prefix}_CLIENT_ID`,
  ]);
}

/** The commercial registration, or null when none is configured (the demo then starts the simulator). */
export function parseMicrosoftApp(env: Readonly<Record<string, string | undefined>>): MicrosoftAppCredentials | null {
  return parseRegistration(env, 'commercial');
}

/** Every configured registration, validated at start, with GCC and DoD falling back to their Entra ID's registration. */
export function parseMicrosoftRegistrations(env: Readonly<Record<string, string | undefined>>): MicrosoftRegistrations {
  const own = new Map<Cloud, MicrosoftAppCredentials>();
  const problems: string[] = [];
  for (const cloud of CLOUDS) {
    try {
      const r = parseRegistration(env, cloud);
      if (r) own.set(cloud, r);
    } catch (error) {
      if (error instanceof ConfigError) problems.push(...error.problems);
      else throw error;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const out: Partial<Record<Cloud, MicrosoftAppCredentials>> = {};
  for (const cloud of CLOUDS) {
    const fallback = REGISTRATION_FALLBACK[cloud];
    const r = own.get(cloud) ?? (fallback ? own.get(fallback) : undefined);
    if (r) out[cloud] = r;
  }
  return out;
}

/** The sentence an operator reads when a cloud has no registration: which settings to set. */
export function missingRegistrationMessage(cloud: Cloud): string {
  const own = REGISTRATION_PREFIX[cloud];
  const fallback = REGISTRATION_FALLBACK[cloud];
  const also = fallback ? ` (or ${REGISTRATION_PREFIX[fallback]}_CLIENT_ID, whose registration also serves ${CLOUD_LABEL[cloud]})` : '';
  return `no application registration is configured for the ${CLOUD_LABEL[cloud]} cloud: register the application in that cloud's Entra ID and set ${own}_CLIENT_ID with ${own}_CLIENT_SECRET or ${own}_CLIENT_CERTIFICATE_FILE + ${own}_CLIENT_PRIVATE_KEY_FILE${also}, then restart the services`;
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
export class TokenError extends ClassifiedError {
  constructor(
    message: string,
    readonly reason: StatusReason,
    readonly aadsts: number | null,
    readonly retriable: boolean,
    /** For internal_error: the id under which the full error is logged. */
    readonly errorId: string | null = null,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The AADSTS codes whose meaning we know, each with its status reason (docs/consent.md, reasons table). */
export const AADSTS_REASONS: Readonly<Record<number, StatusReason>> = {
  700016: 'consent_revoked', // application not found in the directory (no consent, or not yet propagated)
  7000229: 'consent_revoked', // service principal missing
  65001: 'consent_revoked',
  500011: 'consent_revoked', // resource principal not found in the tenant
  7000215: 'secret_invalid',
  7000218: 'secret_invalid',
  7000222: 'secret_expired',
  700027: 'certificate_invalid', // certificate not registered on the application, or signature invalid
  700024: 'certificate_invalid', // client assertion outside its validity window (clock or certificate)
  7000112: 'application_disabled',
  53003: 'conditional_access',
  90038: 'wrong_cloud', // tenant belongs to another national cloud
  900432: 'wrong_cloud', // confidential client not supported in a cross-cloud request
  650052: 'service_not_subscribed',
  90002: 'tenant_not_found',
};

/** Network-level failures: the service did not answer, which is what "Microsoft unavailable" means. */
const NETWORK_FAILURE =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|network|timed? ?out|fetch failed|temporarily_unavailable|AADSTS90033/i;

/** Maps msal/Entra errors to status reasons by the numeric AADSTS code (texts change, codes do not). */
export function classifyTokenError(error: unknown, errorId: () => string = () => randomUUID()): TokenError {
  const e = error as { errorCode?: string; errorMessage?: string; message?: string; status?: number; errorNo?: string | number };
  const text = `${e?.errorMessage ?? ''} ${e?.message ?? ''}`;
  const match = /AADSTS(\d+)/.exec(text);
  const code = match ? Number(match[1]) : e?.errorNo !== undefined && e.errorNo !== '' ? Number(e.errorNo) : null;
  const summary = match ? `AADSTS${match[1]}` : (e?.errorCode ?? 'token_error');
  const firstLine = text.trim().split(/\r?\n/)[0]?.slice(0, 300) ?? '';
  const msg = `${summary}: ${firstLine}`;
  const known = code !== null ? AADSTS_REASONS[code] : undefined;
  if (known) return new TokenError(msg, known, code, false);
  if (e?.status === 429 || /throttl|429/.test(text)) return new TokenError(msg, 'throttled', code, true);
  if (e?.errorCode === 'invalid_tenant') return new TokenError(msg, 'tenant_not_found', code, false);
  if ((typeof e?.status === 'number' && e.status >= 500) || NETWORK_FAILURE.test(text) || NETWORK_FAILURE.test(e?.errorCode ?? '')) {
    return new TokenError(msg, 'microsoft_unavailable', code, true);
  }
  // Nobody classified this: say so with an id the log carries, and keep retrying slowly (it may be transient).
  const id = errorId();
  return new TokenError(`internal error ${id}: ${msg}`, 'internal_error', code, true, id);
}

/** What a sign-in code redemption gives back: the raw id_token (verified by the caller) and a delegated access token. */
export interface SignInTokens {
  idToken: string;
  accessToken: string;
}

/**
 * One ConfidentialClientApplication per cloud, each with that cloud's registration; the customer tenant is chosen
 * per request through the authority. Hosts come from the cloud profiles, so pointing them at a stand-in (simulator)
 * needs only configuration.
 */
export class AppTokenProvider {
  private readonly apps = new Map<Cloud, ConfidentialClientApplication>();

  constructor(
    private readonly registrations: MicrosoftRegistrations,
    private readonly profiles: CloudProfiles,
    private readonly logger: Logger,
  ) {}

  hasRegistration(cloud: Cloud): boolean {
    return this.registrations[cloud] !== undefined;
  }

  /** The client id of the cloud's registration; throws a permanent error naming the settings when there is none. */
  clientIdFor(cloud: Cloud): string {
    return this.registration(cloud).clientId;
  }

  private registration(cloud: Cloud): MicrosoftAppCredentials {
    const r = this.registrations[cloud];
    if (!r) throw new TokenError(missingRegistrationMessage(cloud), 'internal_error', null, false);
    return r;
  }

  private app(cloud: Cloud): ConfidentialClientApplication {
    let app = this.apps.get(cloud);
    if (app) return app;
    const credentials = this.registration(cloud);
    const authorityHost = this.profiles[cloud].authorityHost;
    const hostPort = new URL(authorityHost).host;
    const config: Configuration = {
      auth: {
        clientId: credentials.clientId,
        authority: `${authorityHost}/organizations`,
        knownAuthorities: [hostPort],
        ...(credentials.kind === 'secret'
          ? { clientSecret: credentials.clientSecret }
          : {
              clientCertificate: {
                thumbprintSha256: credentials.thumbprintSha256,
                privateKey: credentials.privateKey,
                x5c: credentials.x5c,
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

  private classify(error: unknown, context: Record<string, unknown>): TokenError {
    const classified = error instanceof TokenError ? error : classifyTokenError(error);
    if (classified.errorId) this.logger.error({ err: error, errorId: classified.errorId, ...context }, 'unclassified token error');
    return classified;
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
      throw this.classify(error, { tenantId, cloud, resource });
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

  /**
   * Redeems the authorization code of an administrator's OpenID Connect sign-in (back channel, with the cloud's
   * registration credential). The id_token is returned raw: the caller verifies its signature and claims.
   */
  async redeemSignInCode(cloud: Cloud, tenant: string, code: string, redirectUri: string, scopes: readonly string[], nonce: string): Promise<SignInTokens> {
    const profile = this.profiles[cloud];
    let result;
    try {
      result = await this.app(cloud).acquireTokenByCode({ code, redirectUri, scopes: [...scopes], authority: `${profile.authorityHost}/${tenant}`, nonce });
    } catch (error) {
      throw this.classify(error, { tenant, cloud, step: 'sign-in code' });
    }
    if (!result?.idToken) throw new TokenError('token endpoint returned no id_token for the sign-in', 'malformed_response', null, false);
    return { idToken: result.idToken, accessToken: result.accessToken };
  }
}
