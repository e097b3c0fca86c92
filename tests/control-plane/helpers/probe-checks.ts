/**
 * The attack probe's checks as functions of a running control plane (its public URL and an API caller), so the same
 * probe runs against the in-process control plane (attack-probe.int.test.ts) and against `m365-siem start`
 * (tests/e2e/attack-probe-start.e2e.test.ts). Each returns what it found; a clean run finds nothing.
 */

export type ApiCall = (method: string, path: string, body?: unknown, token?: string | null) => Promise<{ status: number; body: any }>;

/** Control, bidi and invisible characters a name must never carry (terminal escapes, spoofed text direction). */
export const EVIL_NAME_CHARACTERS = [
  ...['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069'],
  ...['\u0000', '\u0007', '\u0008', '\n', '\r', '\u001B[31m', '\u007F', '\u0085', '\u009B'],
  ...['\u200B', '\u200E', '\u200F', '\uFEFF', '\u2028', '\u2029', '\uD800'],
];

/** Event API queries that must be a 400 naming the parameter: impossible dates, bad sizes, unknown parameters. */
export const BAD_EVENT_QUERIES: ReadonlyArray<readonly [string, string]> = [
  ['from=2026-02-30', 'from'],
  ['to=2026-02-29T10:00:00Z', 'to'],
  ['from=2026-13-01', 'from'],
  ['from=2026-01-01T25:00:00Z', 'from'],
  ['from=2026-01-01%2010:00', 'from'],
  ['from=99999-01-01', 'from'],
  ['size=-1', 'size'],
  ['size=1e3', 'size'],
  ['size=10&size=20', 'size'],
  ['outcome=maybe', 'outcome'],
  ['usr=alice', 'usr'],
  [`user=${'a'.repeat(400)}`, 'user'],
];

export async function evilNameFindings(api: ApiCall): Promise<string[]> {
  const found: string[] = [];
  for (const ch of EVIL_NAME_CHARACTERS) {
    const res = await api('POST', '/organizations', { name: `Contoso${ch}evil` });
    if (res.status !== 400 || res.body?.error?.field !== 'body.name') found.push(`name with ${JSON.stringify(ch)}: ${res.status}`);
  }
  return found;
}

export async function badEventQueryFindings(api: ApiCall, orgId: string, token?: string): Promise<string[]> {
  const found: string[] = [];
  for (const [query, field] of BAD_EVENT_QUERIES) {
    const res = await api('GET', `/organizations/${orgId}/events?${query}`, undefined, token);
    if (res.status !== 400 || res.body?.error?.field !== field)
      found.push(`events?${query.slice(0, 40)}: ${res.status} ${JSON.stringify(res.body?.error?.field)}`);
  }
  return found;
}

const nonceOf = (csp: string | null): string | undefined => /script-src 'nonce-([^']+)'/.exec(csp ?? '')?.[1];

/** The consent page: a fresh nonce CSP per response, frame-ancestors none, nosniff; UI pages: a CSP and nosniff. */
export async function headerFindings(url: string, uiPages: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const nonces: Array<string | undefined> = [];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${url}/oauth/microsoft/callback?state=x`);
    const csp = res.headers.get('content-security-policy');
    if (!/frame-ancestors 'none'/.test(csp ?? '')) found.push('consent page: no frame-ancestors none');
    if (res.headers.get('x-content-type-options') !== 'nosniff') found.push('consent page: no nosniff');
    const nonce = nonceOf(csp);
    if (!nonce || !(await res.text()).includes(`nonce="${nonce}"`)) found.push('consent page: scripts without the CSP nonce');
    nonces.push(nonce);
  }
  if (nonces[0] === nonces[1]) found.push('consent page: the same nonce twice');
  for (const page of uiPages) {
    const res = await fetch(`${url}${page}`);
    if (res.status !== 200) found.push(`${page}: ${res.status}`);
    const csp = res.headers.get('content-security-policy') ?? '';
    if (!/script-src 'self'/.test(csp) || !/frame-ancestors 'none'/.test(csp)) found.push(`${page}: CSP ${csp || 'missing'}`);
    if (res.headers.get('x-content-type-options') !== 'nosniff') found.push(`${page}: no nosniff`);
    await res.arrayBuffer();
  }
  return found;
}

/** Metrics are on the loopback ops listener only: the public listener never serves them, under any spelling. */
export async function publicMetricsFindings(url: string): Promise<string[]> {
  const found: string[] = [];
  for (const path of ['/metrics', '/metrics/', '/api/v1/metrics', '/METRICS']) {
    const res = await fetch(`${url}${path}`);
    const text = await res.text();
    if (text.includes('m365siem_')) found.push(`${path}: metrics served on the public listener`);
    if (path.startsWith('/api/') && res.status !== 401) found.push(`${path}: anonymous got ${res.status}`);
  }
  return found;
}
