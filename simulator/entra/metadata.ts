import type { ServerResponse } from 'node:http';
import type { Cloud } from '../app-roles.ts';
import type { SimContext } from '../context.ts';
import type { SimRequest } from '../http.ts';
import { sendJson } from '../http.ts';
import { aadErrorBody, tenantNotFound } from './errors.ts';

/** OpenID configuration, instance discovery and signing keys. */

const CLOUD_INFO: Record<Cloud, { instance: string; region: string; subScope?: string; graphHost: string }> = {
  commercial: { instance: 'microsoftonline.com', region: 'NA', graphHost: 'graph.microsoft.com' },
  gcc: { instance: 'microsoftonline.com', region: 'NA', subScope: 'GCC', graphHost: 'graph.microsoft.com' },
  'gcc-high': { instance: 'microsoftonline.us', region: 'USGov', graphHost: 'graph.microsoft.us' },
  dod: { instance: 'microsoftonline.us', region: 'USGov', subScope: 'DOD', graphHost: 'dod-graph.microsoft.us' },
};

const GENERIC_TENANTS = ['common', 'organizations', 'consumers'];

export function handleOpenIdConfiguration(ctx: SimContext, res: ServerResponse, tenantSegment: string, v2: boolean): void {
  const origin = ctx.origin();
  const generic = GENERIC_TENANTS.includes(tenantSegment.toLowerCase());
  const tenant = generic ? undefined : ctx.state.resolveTenant(tenantSegment);
  if (!generic && !tenant) {
    sendJson(res, 400, aadErrorBody(origin, 'invalid_tenant', 90002, tenantNotFound(tenantSegment), ctx.now()));
    return;
  }
  const t = tenant ? tenant.tenantId : tenantSegment.toLowerCase();
  const issuerTenant = tenant ? tenant.tenantId : '{tenantid}';
  const cloud = CLOUD_INFO[tenant?.settings.cloud ?? 'commercial'];
  const suffix = v2 ? '/v2.0' : '';
  sendJson(
    res,
    200,
    {
      token_endpoint: `${origin}/${t}/oauth2${suffix}/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${origin}/${t}/discovery${suffix}/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: v2 ? `${origin}/${issuerTenant}/v2.0` : `https://sts.windows.net/${issuerTenant}/`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `https://${cloud.graphHost}/oidc/userinfo`,
      authorization_endpoint: `${origin}/${t}/oauth2${suffix}/authorize`,
      device_authorization_endpoint: `${origin}/${t}/oauth2${suffix}/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${origin}/${t}/oauth2${suffix}/logout`,
      claims_supported: [
        'sub',
        'iss',
        'cloud_instance_name',
        'cloud_instance_host_name',
        'cloud_graph_host_name',
        'msgraph_host',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'nonce',
        'preferred_username',
        'name',
        'tid',
        'ver',
        'at_hash',
        'c_hash',
        'email',
      ],
      kerberos_endpoint: `${origin}/${t}/kerberos`,
      tenant_region_scope: tenant ? cloud.region : null,
      ...(tenant && cloud.subScope ? { tenant_region_sub_scope: cloud.subScope } : {}),
      cloud_instance_name: cloud.instance,
      cloud_graph_host_name: cloud.instance === 'microsoftonline.us' ? 'graph.windows.net' : 'graph.windows.net',
      msgraph_host: cloud.graphHost,
      rbac_url: 'https://pas.windows.net',
    },
    { 'Cache-Control': 'max-age=86400, private', 'Access-Control-Allow-Origin': '*' },
  );
}

export function handleInstanceDiscovery(ctx: SimContext, req: SimRequest, res: ServerResponse): void {
  const origin = ctx.origin();
  const hostPort = ctx.hostPort();
  const endpoint = req.url.searchParams.get('authorization_endpoint');
  let tenant = 'common';
  if (endpoint) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(endpoint);
    } catch {
      parsed = undefined;
    }
    const hosts = [hostPort, `127.0.0.1:${hostPort.split(':')[1] ?? ''}`];
    if (parsed?.protocol !== 'https:' || !hosts.includes(parsed.host)) {
      sendJson(res, 400, aadErrorBody(origin, 'invalid_instance', 50049, 'Unknown or invalid instance.', ctx.now()));
      return;
    }
    tenant = parsed.pathname.split('/').filter(Boolean)[0] ?? 'common';
  }
  sendJson(res, 200, {
    tenant_discovery_endpoint: `${origin}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: hostPort, preferred_cache: hostPort, aliases: [hostPort, `127.0.0.1:${hostPort.split(':')[1] ?? ''}`] }],
  });
}

export function handleKeys(ctx: SimContext, res: ServerResponse): void {
  sendJson(res, 200, ctx.signer.jwks());
}
