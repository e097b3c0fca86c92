import { z } from 'zod';
import { parseSettings, setting, type SettingsOf } from './settings.ts';
import { SIGN_IN_EVENT_TYPES, type SignInEventType } from './sources.ts';

/**
 * A cloud profile picks the Entra authority, the Management Activity API host and the Graph host together;
 * tokens are not interchangeable across clouds (reference/microsoft-apis.md §1.1, §2.1).
 * `*Resource` values are token audiences (scope identifiers), not network addresses: they stay the same when a
 * host is overridden to point at a stand-in such as the simulator.
 */
export const CLOUDS = ['commercial', 'gcc', 'gcc-high', 'dod'] as const;
export type Cloud = (typeof CLOUDS)[number];

export interface CloudProfile {
  readonly cloud: Cloud;
  /** Base URL of the Entra authority, without tenant: `https://login.microsoftonline.com`. */
  readonly authorityHost: string;
  /** Base URL of the Management Activity API: `https://manage.office.com`. */
  readonly managementHost: string;
  /** Base URL of Microsoft Graph: `https://graph.microsoft.com`. */
  readonly graphHost: string;
  readonly managementResource: string;
  readonly graphResource: string;
}

const DEFAULT_PROFILES: Record<Cloud, CloudProfile> = {
  commercial: {
    cloud: 'commercial',
    authorityHost: 'https://login.microsoftonline.com',
    managementHost: 'https://manage.office.com',
    graphHost: 'https://graph.microsoft.com',
    managementResource: 'https://manage.office.com',
    graphResource: 'https://graph.microsoft.com',
  },
  gcc: {
    cloud: 'gcc',
    authorityHost: 'https://login.microsoftonline.com',
    managementHost: 'https://manage-gcc.office.com',
    graphHost: 'https://graph.microsoft.com',
    managementResource: 'https://manage-gcc.office.com',
    graphResource: 'https://graph.microsoft.com',
  },
  'gcc-high': {
    cloud: 'gcc-high',
    authorityHost: 'https://login.microsoftonline.us',
    managementHost: 'https://manage.office365.us',
    graphHost: 'https://graph.microsoft.us',
    managementResource: 'https://manage.office365.us',
    graphResource: 'https://graph.microsoft.us',
  },
  dod: {
    cloud: 'dod',
    authorityHost: 'https://login.microsoftonline.us',
    managementHost: 'https://manage.protection.apps.mil',
    graphHost: 'https://dod-graph.microsoft.us',
    managementResource: 'https://manage.protection.apps.mil',
    graphResource: 'https://dod-graph.microsoft.us',
  },
};

const baseUrl = z
  .string()
  .optional()
  .refine((v) => v === undefined || /^https:\/\/[^/]+$/.test(v.replace(/\/$/, '')), {
    message: 'expected an https base URL without path, e.g. https://localhost:8443',
  })
  .transform((v) => (v === undefined ? undefined : v.replace(/\/$/, '')));

function hostSettings(prefix: string, label: string) {
  return {
    authorityHost: setting(`${prefix}_AUTHORITY_HOST`, baseUrl, `Entra authority base URL for the ${label} cloud`),
    managementHost: setting(`${prefix}_MANAGEMENT_HOST`, baseUrl, `Management Activity API base URL for the ${label} cloud`),
    graphHost: setting(`${prefix}_GRAPH_HOST`, baseUrl, `Microsoft Graph base URL for the ${label} cloud`),
  };
}

export const cloudSettingsSpec = {
  allHosts: setting(
    'M365_ALL_HOSTS',
    baseUrl,
    'points every host of every cloud profile at one base URL (the simulator or another stand-in); per-host settings win over it',
  ),
} as const;

/** Host overrides per cloud profile (documented in docs/configuration.md, generated from these specs). */
export const perCloudSpecs = {
  commercial: hostSettings('M365_COMMERCIAL', 'commercial'),
  gcc: hostSettings('M365_GCC', 'GCC'),
  'gcc-high': hostSettings('M365_GCC_HIGH', 'GCC High'),
  dod: hostSettings('M365_DOD', 'DoD'),
} as const;

export type CloudProfiles = Readonly<Record<Cloud, CloudProfile>>;

/** Reads host overrides (documented in the README) and returns the four profiles with them applied. */
export function parseCloudProfiles(env: Readonly<Record<string, string | undefined>>): CloudProfiles {
  const all = parseSettings({ allHosts: cloudSettingsSpec.allHosts }, env).allHosts;
  const out = {} as Record<Cloud, CloudProfile>;
  for (const cloud of CLOUDS) {
    const o: SettingsOf<ReturnType<typeof hostSettings>> = parseSettings(perCloudSpecs[cloud], env);
    const d = DEFAULT_PROFILES[cloud];
    out[cloud] = {
      ...d,
      authorityHost: o.authorityHost ?? all ?? d.authorityHost,
      managementHost: o.managementHost ?? all ?? d.managementHost,
      graphHost: o.graphHost ?? all ?? d.graphHost,
    };
  }
  return out;
}

export function defaultCloudProfiles(): CloudProfiles {
  return DEFAULT_PROFILES;
}

/** The env settings cloud profiles read, for documentation. */
export function cloudSettingNames(): string[] {
  return ['M365_ALL_HOSTS', ...CLOUDS.flatMap((c) => Object.values(perCloudSpecs[c]).map((s) => s.env))];
}

/**
 * Content and next-page URLs are followed only to the host of the organization's cloud (guarantee 3).
 * Compares scheme, host and port exactly.
 */
export function isSameOrigin(url: string, base: string): boolean {
  try {
    return new URL(url).origin === new URL(base).origin;
  } catch {
    return false;
  }
}

export type GraphApiVersion = 'v1.0' | 'beta';

export interface SignInEndpoint {
  version: GraphApiVersion;
  /** The `$filter` clause that selects the type, or null where the version serves this type alone. */
  eventTypeFilter: string | null;
}

const v1Interactive: SignInEndpoint = { version: 'v1.0', eventTypeFilter: null };
const betaOf = (type: SignInEventType): SignInEndpoint => ({ version: 'beta', eventTypeFilter: `signInEventTypes/any(t: t eq '${type}')` });
const allBeta = (): Record<SignInEventType, SignInEndpoint> =>
  Object.fromEntries(SIGN_IN_EVENT_TYPES.map((t) => [t, betaOf(t)])) as Record<SignInEventType, SignInEndpoint>;

/**
 * Where each sign-in type is asked, per cloud — the one table of it (docs/decisions/0131, docs/sources.md).
 * v1.0 `GET /auditLogs/signIns` returns interactive user sign-ins only ("List signIns", v1.0) and is not offered in
 * US Government L4 (GCC High) and L5 (DoD) (the national-cloud availability table of that page); beta serves all four
 * types with `$filter=signInEventTypes/any(t: t eq '…')` in every cloud ("List signIns", beta; Entra "How to analyze
 * activity logs with Microsoft Graph"). So v1.0 where it serves the type, beta where only beta does.
 */
export const SIGN_IN_ENDPOINTS: Readonly<Record<Cloud, Readonly<Record<SignInEventType, SignInEndpoint>>>> = {
  commercial: { ...allBeta(), interactiveUser: v1Interactive },
  gcc: { ...allBeta(), interactiveUser: v1Interactive },
  'gcc-high': allBeta(),
  dod: allBeta(),
};
