/**
 * Permission auto-upgrade: the control plane assigns missing application roles to its own service principal in the
 * customer tenant through Graph `appRoleAssignedTo` (reference/microsoft-apis.md §3.7). Needs
 * AppRoleAssignment.ReadWrite.All and Application.Read.All granted at consent. Calls go only to the Graph host of
 * the organization's cloud.
 */
import { PermanentError, RetriableError, withRetry } from '../runtime/index.ts';
import { RESOURCE_APP_IDS, resourceOfRole, type ManifestResource } from './permission-manifest.ts';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface AssignRolesInput {
  graphHost: string;
  /** A fresh Graph app-only token of the customer tenant. */
  accessToken: string;
  /** Our application (client) id: its service principal receives the roles. */
  clientId: string;
  roles: readonly string[];
  fetchImpl?: FetchLike;
}

export interface AssignRolesResult {
  assigned: string[];
  alreadyAssigned: string[];
  failed: Array<{ role: string; error: string }>;
}

interface ServicePrincipal {
  id: string;
  appRoles?: Array<{ id: string; value: string | null; allowedMemberTypes?: string[]; isEnabled?: boolean }>;
}

async function graphError(response: Response): Promise<{ code: string; message: string }> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return { code: body.error?.code ?? `http_${response.status}`, message: (body.error?.message ?? text).slice(0, 300) };
  } catch {
    return { code: `http_${response.status}`, message: text.slice(0, 300) };
  }
}

async function call(fetchImpl: FetchLike, url: string, init: RequestInit): Promise<Response> {
  return withRetry(
    async () => {
      let response: Response;
      try {
        response = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(30_000) });
      } catch (error) {
        throw new RetriableError(`Graph request failed: ${(error as Error).message}`, 'network');
      }
      if (response.status === 429 || response.status >= 500) {
        const { code, message } = await graphError(response);
        const retryAfter = Number(response.headers.get('retry-after'));
        throw new RetriableError(`${code}: ${message}`, code, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
      }
      return response;
    },
    { attempts: 3, initialMs: 200, maxMs: 2_000 },
  );
}

async function servicePrincipalByAppId(
  fetchImpl: FetchLike,
  graphHost: string,
  headers: Record<string, string>,
  appId: string,
  select: string,
): Promise<ServicePrincipal> {
  const url = `${graphHost}/v1.0/servicePrincipals(appId='${encodeURIComponent(appId)}')?$select=${select}`;
  const response = await call(fetchImpl, url, { method: 'GET', headers });
  if (!response.ok) {
    const { code, message } = await graphError(response);
    throw new PermanentError(`reading service principal of app ${appId} failed: ${response.status} ${code}: ${message}`, code);
  }
  const body = (await response.json()) as ServicePrincipal;
  if (typeof body?.id !== 'string') throw new PermanentError(`service principal of app ${appId} has no id`, 'malformed_response');
  return body;
}

/** Assigns each role to our service principal; an existing assignment counts as success. */
export async function assignMissingRoles(input: AssignRolesInput): Promise<AssignRolesResult> {
  const fetchImpl = input.fetchImpl ?? fetch;
  const headers = { Authorization: `Bearer ${input.accessToken}`, 'Content-Type': 'application/json', Accept: 'application/json' };
  const result: AssignRolesResult = { assigned: [], alreadyAssigned: [], failed: [] };
  if (input.roles.length === 0) return result;

  let ours: ServicePrincipal;
  try {
    ours = await servicePrincipalByAppId(fetchImpl, input.graphHost, headers, input.clientId, 'id');
  } catch (error) {
    return { ...result, failed: input.roles.map((role) => ({ role, error: (error as Error).message })) };
  }

  const byResource = new Map<ManifestResource, string[]>();
  for (const role of input.roles) {
    const resource = resourceOfRole(role);
    byResource.set(resource, [...(byResource.get(resource) ?? []), role]);
  }

  for (const [resource, roles] of byResource) {
    let resourceSp: ServicePrincipal;
    try {
      resourceSp = await servicePrincipalByAppId(fetchImpl, input.graphHost, headers, RESOURCE_APP_IDS[resource], 'id,appRoles');
    } catch (error) {
      result.failed.push(...roles.map((role) => ({ role, error: (error as Error).message })));
      continue;
    }
    for (const role of roles) {
      const appRole = resourceSp.appRoles?.find(
        (r) => r.value === role && (r.allowedMemberTypes ?? ['Application']).includes('Application') && r.isEnabled !== false,
      );
      if (!appRole) {
        result.failed.push({ role, error: `the ${resource} service principal offers no application role ${role}` });
        continue;
      }
      try {
        const response = await call(fetchImpl, `${input.graphHost}/v1.0/servicePrincipals/${encodeURIComponent(resourceSp.id)}/appRoleAssignedTo`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ principalId: ours.id, resourceId: resourceSp.id, appRoleId: appRole.id }),
        });
        if (response.status === 201 || response.status === 200) {
          result.assigned.push(role);
          continue;
        }
        const { code, message } = await graphError(response);
        if (response.status === 400 && /already exists/i.test(message)) result.alreadyAssigned.push(role);
        else result.failed.push({ role, error: `${response.status} ${code}: ${message}` });
      } catch (error) {
        result.failed.push({ role, error: (error as Error).message });
      }
    }
  }
  return result;
}
