/**
 * Resolves what the operator typed (tenant GUID or domain) to the tenant GUID through the authority's OpenID
 * metadata: `{authority}/{tenant}/v2.0/.well-known/openid-configuration` names the tenant in its `issuer`.
 */
import type { FetchLike } from './upgrades.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const TENANT_INPUT =
  /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(?=.{3,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$/;

export function isTenantGuid(value: string): boolean {
  return GUID.test(value);
}

export type TenantResolution = { ok: true; tenantId: string } | { ok: false; code: 'tenant_not_found' | 'microsoft_unavailable'; message: string };

export async function resolveTenant(authorityHost: string, tenant: string, fetchImpl: FetchLike = fetch): Promise<TenantResolution> {
  const url = `${authorityHost}/${encodeURIComponent(tenant)}/v2.0/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: AbortSignal.timeout(15_000), headers: { Accept: 'application/json' } });
  } catch (error) {
    return { ok: false, code: 'microsoft_unavailable', message: `could not reach ${authorityHost}: ${(error as Error).message}` };
  }
  const text = await response.text().catch(() => '');
  if (response.status === 400 || response.status === 404) {
    const aadsts = /AADSTS\d+[^"\\]*/.exec(text)?.[0]?.slice(0, 200);
    return { ok: false, code: 'tenant_not_found', message: `Entra ID does not know the tenant "${tenant}"${aadsts ? ` (${aadsts})` : ''}` };
  }
  if (!response.ok)
    return { ok: false, code: 'microsoft_unavailable', message: `${authorityHost} answered ${response.status} for the tenant's OpenID metadata` };
  let issuer: unknown;
  try {
    issuer = (JSON.parse(text) as { issuer?: unknown }).issuer;
  } catch {
    return { ok: false, code: 'microsoft_unavailable', message: "the tenant's OpenID metadata is not JSON" };
  }
  const match = typeof issuer === 'string' ? /\/([0-9a-fA-F-]{36})\/(?:v2\.0\/?)?$/.exec(issuer) : null;
  const tenantId = match?.[1];
  if (!tenantId || !isTenantGuid(tenantId)) {
    return { ok: false, code: 'microsoft_unavailable', message: "the tenant's OpenID metadata has no issuer naming a tenant id" };
  }
  return { ok: true, tenantId: tenantId.toLowerCase() };
}
