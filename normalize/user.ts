/** Identity helpers: UPN parsing and object-id recognition (user.email = lower-cased UPN; user.id = GUID only). */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && value.length === 36 && GUID.test(value);
}

export interface Identity {
  /** Lower-cased UPN / mail address, when the value is one. */
  readonly email: string | null;
  /** Local part of the UPN, or the whole account name when it is not a UPN. */
  readonly name: string | null;
  readonly domain: string | null;
}

/**
 * Splits a user principal name at its last `@` (guest UPNs such as `ann_fabrikam.com#EXT#@contoso.onmicrosoft.com`
 * keep their local part whole). Values without `@`, with whitespace, or with an empty side are account names, not UPNs.
 */
export function parseIdentity(value: unknown): Identity | null {
  if (typeof value !== 'string') return null;
  const s = value.trim();
  if (s.length === 0) return null;
  const at = s.lastIndexOf('@');
  if (at > 0 && at < s.length - 1 && !/\s/.test(s)) {
    const email = s.toLowerCase();
    return { email, name: email.slice(0, at), domain: email.slice(at + 1) };
  }
  return { email: null, name: s, domain: null };
}

/** Lower-cased mail address when the value looks like one, else null. */
export function emailOf(value: unknown): string | null {
  const id = parseIdentity(value);
  return id?.email ?? null;
}
