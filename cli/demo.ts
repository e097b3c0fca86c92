/**
 * The demo organizations of `m365-siem start`: three simulated tenants with different licences and activity,
 * connected through the real admin-consent flow (consent URL from the control plane, the simulator's consent
 * page answered as an administrator would, Microsoft's redirect delivered to the control plane's callback).
 */
import { randomBytes } from 'node:crypto';
import { hashToken } from '../control-plane/index.ts';
import { answerConsent, SimulatorControl, type TenantCreateRequest } from '../simulator/index.ts';
import { choosePort } from '../stack/index.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface DemoSetup {
  operatorToken: string;
  controlPlaneEnv: Record<string, string>;
}

export interface DemoOrganization {
  id: string;
  name: string;
  tenantId: string;
  status: string;
}

const DEMO_TENANTS: TenantCreateRequest[] = [
  {
    name: 'Contoso Pharmaceuticals',
    domain: 'contoso-pharma.example',
    licences: { entraP1: true, entraP2: true },
    auditLogging: true,
    users: 40,
    recordsPerMinute: 60,
  },
  {
    name: 'Fabrikam Logistics',
    domain: 'fabrikam-logistics.example',
    licences: { entraP1: true, entraP2: false },
    auditLogging: true,
    users: 25,
    recordsPerMinute: 20,
  },
  {
    name: 'Northwind Dental',
    domain: 'northwind-dental.example',
    licences: { entraP1: false, entraP2: false },
    auditLogging: true,
    users: 8,
    recordsPerMinute: 6,
  },
];

async function prepare(_serviceEnv: NodeJS.ProcessEnv, env: Env): Promise<DemoSetup> {
  const operatorToken = env.M365_SIEM_TOKEN ?? `m365siem_${randomBytes(18).toString('base64url')}`;
  const port = env.CONTROL_PLANE_PORT ? Number(env.CONTROL_PLANE_PORT) : await choosePort(8080);
  const controlPlaneEnv: Record<string, string> = {
    CONTROL_PLANE_PORT: String(port),
    CONTROL_PLANE_PUBLIC_URL: env.CONTROL_PLANE_PUBLIC_URL ?? `http://localhost:${port}`,
    CONTROL_PLANE_TOKENS: env.CONTROL_PLANE_TOKENS ?? `admin:operator:${hashToken(operatorToken)}`,
    CONTROL_PLANE_STATE_SECRET: env.CONTROL_PLANE_STATE_SECRET ?? randomBytes(32).toString('base64url'),
  };
  return { operatorToken, controlPlaneEnv };
}

async function api<T>(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

async function run(options: {
  controlPlaneUrl: string;
  simulatorUrl: string;
  operatorToken: string;
  progress: (line: string) => void;
}): Promise<DemoOrganization[]> {
  const { controlPlaneUrl, operatorToken, progress } = options;
  const sim = new SimulatorControl(options.simulatorUrl);
  try {
    const app = await sim.getApp();
    const callback = `${new URL(controlPlaneUrl).origin.replace('127.0.0.1', 'localhost')}/oauth/microsoft/callback`;
    if (!app.redirectUris.includes(callback)) await sim.patchApp({ redirectUris: [...app.redirectUris, callback] });

    const { items: existing } = await api<{ items: Array<{ id: string; name: string }> }>(controlPlaneUrl, operatorToken, 'GET', '/organizations');
    const simTenants = await sim.listTenants();
    const out: DemoOrganization[] = [];
    for (const spec of DEMO_TENANTS) {
      const known = simTenants.find((t) => t.name === spec.name);
      // The same name gives the same tenant id in every simulator run (seeded), so an organization connected by an
      // earlier `npm start` is pinned to this tenant; but the simulator keeps its state in memory, so a tenant it
      // has just created has never consented: such an organization is repaired (consent again), as an operator
      // would after a customer removed the application.
      const tenant = known ?? (await sim.createTenant(spec));
      let org = existing.find((o) => o.name === spec.name);
      if (!org) org = await api<{ id: string; name: string }>(controlPlaneUrl, operatorToken, 'POST', '/organizations', { name: spec.name });
      const current = await api<{ status: string }>(controlPlaneUrl, operatorToken, 'GET', `/organizations/${org.id}/applications/microsoft-manage`).catch(
        () => null,
      );
      const consent = async (path: string, body: unknown, what: string) => {
        progress(`${what} ${spec.name} through admin consent`);
        const { consentUrl } = await api<{ consentUrl: string }>(
          controlPlaneUrl,
          operatorToken,
          'POST',
          `/organizations/${org.id}/applications/microsoft-manage${path}`,
          body,
        );
        // Sign-in as the tenant's Global Administrator, then Accept; the callback answers 202 while Microsoft propagates.
        const landed = await answerConsent(consentUrl, tenant.adminAccount, 'accept');
        if (landed.stage !== 'callback' || landed.status >= 400)
          throw new Error(`consent for ${spec.name} ended at ${landed.stage} with ${landed.status}: ${landed.html.slice(0, 300)}`);
      };
      if (!current || current.status === 'not_connected' || current.status === 'disconnected') {
        await consent('', { autoUpgrade: true, cloud: 'commercial', tenant: tenant.tenantId }, 'connecting');
      } else if (!known) {
        await consent('/repair', undefined, 'repairing');
      }
      const status = await api<{ status: string; reason: string | null }>(
        controlPlaneUrl,
        operatorToken,
        'GET',
        `/organizations/${org.id}/applications/microsoft-manage`,
      );
      out.push({ id: org.id, name: spec.name, tenantId: tenant.tenantId, status: status.reason ? `${status.status} (${status.reason})` : status.status });
    }
    return out;
  } finally {
    sim.close();
  }
}

export const connectDemoOrganizations = { prepare, run };
