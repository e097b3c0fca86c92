/**
 * API bearer tokens. Configuration holds only SHA-256 hashes; a presented token is hashed and compared with every
 * configured hash in constant time, so neither the token nor which entry matched leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { ApiErrorCode } from './api-error-codes.ts';
import { ORGANIZATION_ID_PATTERN as ORG_ID } from './organization-store.ts';

export const API_ROLES = ['admin', 'viewer'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** The scope of an entry that covers every organization, present and future. */
export const ALL_ORGANIZATIONS = '*';

/**
 * One operator token: who holds it and what it may do where (docs/security.md § Operator scopes). A token holds a
 * role on every organization (`allRole`, scope `*`), a role per listed organization (`orgRoles`), or both; where
 * both apply the higher one wins.
 */
export interface TokenEntry {
  /** Who holds the token, recorded as the actor in history; defaults to the role. */
  label: string;
  hash: Buffer;
  allRole: ApiRole | null;
  orgRoles: ReadonlyMap<string, ApiRole>;
  /** The highest role the token holds anywhere. */
  role: ApiRole;
}

export interface Actor {
  role: ApiRole | 'system' | 'microsoft';
  label: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const higher = (a: ApiRole | null | undefined, b: ApiRole | null | undefined): ApiRole | null =>
  a === 'admin' || b === 'admin' ? 'admin' : a === 'viewer' || b === 'viewer' ? 'viewer' : null;

/** The token's role on one organization, or null when the organization is outside its scope. */
export function roleFor(entry: TokenEntry, orgId: string): ApiRole | null {
  return higher(entry.allRole, entry.orgRoles.get(orgId));
}

/** Only a token that is admin on every organization adds organizations (a scoped one cannot widen its own scope). */
export function canCreateOrganizations(entry: TokenEntry): boolean {
  return entry.allRole === 'admin';
}

interface ParsedEntry {
  role: ApiRole;
  label: string;
  hex: string;
  scope: typeof ALL_ORGANIZATIONS | string[];
}

const ENTRY_SHAPE = 'must look like admin[:label]:<sha256hex>[:scope] or viewer[:label]:<sha256hex>[:scope], scope * or org_a+org_b';

function parseEntry(raw: string): ParsedEntry {
  const parts = raw.split(':');
  const role = parts[0] ?? '';
  // Never echo more than the start of an entry: it is configuration, but nothing of it belongs in logs.
  const shown = `"${raw.slice(0, 12)}…"`;
  if (!(API_ROLES as readonly string[]).includes(role)) throw new Error(`entry ${shown} ${ENTRY_SHAPE}`);
  const hexAt = parts.findIndex((p, i) => i > 0 && /^[0-9a-f]{64}$/i.test(p));
  if (hexAt < 0) throw new Error(`entry for ${role} has no 64-character hex SHA-256 hash`);
  if (hexAt > 2 || parts.length > hexAt + 2) throw new Error(`entry ${shown} ${ENTRY_SHAPE}`);
  const label = hexAt === 2 ? (parts[1] ?? '') : role;
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(label)) throw new Error(`label "${label.slice(0, 64)}" must be 1-64 characters of letters, digits, . _ @ -`);
  const scopeText = parts[hexAt + 1];
  let scope: ParsedEntry['scope'] = ALL_ORGANIZATIONS;
  if (scopeText !== undefined && scopeText !== ALL_ORGANIZATIONS) {
    const ids = scopeText.split('+').map((id) => id.trim());
    const bad = ids.find((id) => !ORG_ID.test(id));
    if (bad !== undefined)
      throw new Error(`scope of ${label}: "${bad.slice(0, 48)}" is not an organization id like org_abc123 (or use * for every organization)`);
    scope = ids;
  }
  return { role: role as ApiRole, label, hex: parts[hexAt]!.toLowerCase(), scope };
}

/**
 * Parses the token table: comma-separated `role[:label]:sha256hex[:scope]` entries. The scope is `*` (the default:
 * every organization) or organization ids joined by `+`. One token may appear in several entries (same hash, same
 * label) to hold different roles on different organizations, e.g. admin on one customer and viewer on two others.
 */
export function parseTokenTable(text: string): TokenEntry[] {
  const byHash = new Map<string, { label: string; allRole: ApiRole | null; orgRoles: Map<string, ApiRole> }>();
  for (const raw of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const entry = parseEntry(raw);
    const token = byHash.get(entry.hex) ?? { label: entry.label, allRole: null, orgRoles: new Map<string, ApiRole>() };
    if (token.label !== entry.label) throw new Error(`one token hash is labelled both ${token.label} and ${entry.label}; give its entries one label`);
    if (entry.scope === ALL_ORGANIZATIONS) {
      if (token.allRole) throw new Error(`token ${entry.label} has scope * twice`);
      token.allRole = entry.role;
    } else {
      for (const orgId of entry.scope) {
        if (token.orgRoles.has(orgId)) throw new Error(`token ${entry.label} names organization ${orgId} twice`);
        token.orgRoles.set(orgId, entry.role);
      }
    }
    byHash.set(entry.hex, token);
  }
  if (byHash.size === 0) throw new Error('no tokens configured');
  return [...byHash].map(([hex, t]) => ({
    label: t.label,
    hash: Buffer.from(hex, 'hex'),
    allRole: t.allRole,
    orgRoles: t.orgRoles,
    role: [...t.orgRoles.values()].reduce<ApiRole | null>((a, b) => higher(a, b), t.allRole) ?? 'viewer',
  }));
}

/** Finds the entry a presented token belongs to; every entry is compared so the time does not depend on which. */
export function authenticate(entries: readonly TokenEntry[], token: string): TokenEntry | null {
  const presented = createHash('sha256').update(token, 'utf8').digest();
  let match: TokenEntry | null = null;
  for (const entry of entries) {
    if (timingSafeEqual(presented, entry.hash) && match === null) match = entry;
  }
  return match;
}

/** Bearer token from `Authorization`; HTTP Basic with the token as password is accepted for schema-registry clients. */
export function presentedToken(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer?.[1]) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    return password || null;
  }
  return null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** The request field at fault (`body.cloud`, `params.id`), for 400s. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The authenticated token (set by requireToken). */
    principal?: TokenEntry;
    /** Who acts, with the role that applies to the organization of the request (set by requireOrganizationRole). */
    actor?: Actor;
  }
}

/** Middleware: 401 without a valid token; otherwise the token becomes the request's principal. */
export function requireToken(entries: readonly TokenEntry[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const token = presentedToken(req.headers.authorization);
    if (!token) return next(new ApiError(401, 'unauthenticated', 'an Authorization: Bearer <token> header is required'));
    const entry = authenticate(entries, token);
    if (!entry) return next(new ApiError(401, 'unauthenticated', 'the bearer token is not valid'));
    req.principal = entry;
    req.actor = { role: entry.role, label: entry.label };
    next();
  };
}

/**
 * Middleware for routes of one organization (`:id`), after requireToken: an organization outside the token's scope
 * answers exactly like one that does not exist (404), so a scoped operator cannot even learn which other customers
 * there are; a viewer asking to change something gets 403. A malformed id is left to the route's validation (400)
 * for unscoped tokens and is a 404 for scoped ones.
 */
export function requireOrganizationRole(needed: ApiRole) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const principal = req.principal;
    if (!principal) return next(new ApiError(401, 'unauthenticated', 'an Authorization: Bearer <token> header is required'));
    const orgId = String(req.params.id ?? '');
    // A scoped token never passes with an id it does not hold, however malformed (the events API only checks length).
    if (!ORG_ID.test(orgId)) return principal.allRole ? next() : next(new ApiError(404, 'not_found', `organization ${orgId.slice(0, 64)} does not exist`));
    const role = roleFor(principal, orgId);
    if (!role) return next(new ApiError(404, 'not_found', `organization ${orgId} does not exist`));
    if (needed === 'admin' && role !== 'admin') {
      return next(new ApiError(403, 'forbidden', `this token has the viewer role for organization ${orgId} and may only read; changes need an admin token`));
    }
    req.actor = { role, label: principal.label };
    next();
  };
}

/** Middleware: adding organizations is for tokens that are admin on every organization (scope *). */
export function requireUnscopedAdmin(req: Request, _res: Response, next: NextFunction): void {
  const principal = req.principal;
  if (!principal) return next(new ApiError(401, 'unauthenticated', 'an Authorization: Bearer <token> header is required'));
  if (!canCreateOrganizations(principal)) {
    return next(
      new ApiError(
        403,
        'forbidden',
        'adding an organization needs an admin token for every organization (scope *); this token is limited to the organizations it names or may only read',
      ),
    );
  }
  req.actor = { role: 'admin', label: principal.label };
  next();
}

/** What the API tells a token about itself (GET /api/v1/me): the UI and `m365-siem whoami` show it. */
export function principalView(entry: TokenEntry): {
  label: string;
  allOrganizations: ApiRole | null;
  organizations: Array<{ id: string; role: ApiRole }>;
  canCreateOrganizations: boolean;
} {
  return {
    label: entry.label,
    allOrganizations: entry.allRole,
    organizations: [...entry.orgRoles].map(([id, role]) => ({ id, role: higher(role, entry.allRole) ?? role })).sort((a, b) => a.id.localeCompare(b.id)),
    canCreateOrganizations: canCreateOrganizations(entry),
  };
}
