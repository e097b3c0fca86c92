/** The optional tenant field of the Connect form: a tenant id (GUID) or a verified domain; pure. */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** `{ tenant }` to send (undefined when empty) or `{ error }` with a readable sentence. */
export function parseTenantInput(value: string): { tenant: string | undefined } | { error: string } {
  const v = value.trim();
  if (!v) return { tenant: undefined };
  if (GUID.test(v)) return { tenant: v.toLowerCase() };
  if (DOMAIN.test(v)) return { tenant: v.toLowerCase() };
  return { error: 'Enter the tenant id (a GUID such as 0b5c…-…) or a domain of the tenant such as contoso.onmicrosoft.com, or leave it empty.' };
}
