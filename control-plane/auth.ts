/**
 * API bearer tokens. Configuration holds only SHA-256 hashes; a presented token is hashed and compared with every
 * configured hash in constant time, so neither the token nor which entry matched leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const API_ROLES = ['admin', 'viewer'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface TokenEntry {
  role: ApiRole;
  /** Who holds the token, recorded as the actor in history; defaults to the role. */
  label: string;
  hash: Buffer;
}

export interface Actor {
  role: ApiRole | 'system' | 'microsoft';
  label: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Parses `role[:label]:sha256hex` entries separated by commas. */
export function parseTokenTable(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const parts = raw.split(':');
    const role = parts[0];
    const hex = parts[parts.length - 1] ?? '';
    const label = parts.length >= 3 ? parts.slice(1, -1).join(':') : role;
    if (parts.length < 2 || !(API_ROLES as readonly string[]).includes(role ?? '')) {
      throw new Error(`entry "${raw.slice(0, 12)}…" must look like admin[:label]:<sha256hex> or viewer[:label]:<sha256hex>`);
    }
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`entry for ${role}${label !== role ? `:${label}` : ''} has no 64-character hex SHA-256 hash`);
    if (!label || !/^[A-Za-z0-9._@-]{1,64}$/.test(label)) throw new Error(`label "${label}" must be 1-64 characters of letters, digits, . _ @ -`);
    entries.push({ role: role as ApiRole, label, hash: Buffer.from(hex.toLowerCase(), 'hex') });
  }
  if (entries.length === 0) throw new Error('no tokens configured');
  return entries;
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
    readonly code: string,
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
    actor?: Actor;
  }
}

/** Middleware: 401 without a valid token, 403 when a viewer tries to change something. */
export function requireRole(entries: readonly TokenEntry[], needed: ApiRole) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const token = presentedToken(req.headers.authorization);
    if (!token) return next(new ApiError(401, 'unauthenticated', 'an Authorization: Bearer <token> header is required'));
    const entry = authenticate(entries, token);
    if (!entry) return next(new ApiError(401, 'unauthenticated', 'the bearer token is not valid'));
    if (needed === 'admin' && entry.role !== 'admin') {
      return next(new ApiError(403, 'forbidden', 'this token has the viewer role and may only read; changes need an admin token'));
    }
    req.actor = { role: entry.role, label: entry.label };
    next();
  };
}
