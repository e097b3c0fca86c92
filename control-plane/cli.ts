/**
 * `m365-siem org list|add|connect|status|approve-upgrade|repair` and `m365-siem whoami` over the REST API (each
 * sees only the organizations in its token's scope), `m365-siem token hash`, and
 * `m365-siem start control-plane`.
 */
import { type Command, Option } from 'commander';
import { CLOUDS, ConfigError } from '../runtime/index.ts';
import { hashToken } from './auth.ts';
import { parseCliSettings } from './config.ts';
import type { ConnectionResponse, ConsentUrlResponse, OrganizationListResponse, OrganizationResponse, PrincipalResponse } from './openapi.ts';

export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  fetch: typeof fetch;
  readStdin: () => Promise<string>;
  setExitCode: (code: number) => void;
}

const defaultIo = (): CliIo => ({
  env: process.env,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  fetch: (...args) => fetch(...args),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  setExitCode: (code) => {
    process.exitCode = code;
  },
});

class CliRequestError extends Error {}

async function api(io: CliIo, method: string, path: string, body?: unknown): Promise<unknown> {
  const settings = parseCliSettings(io.env);
  if (!settings.token) throw new ConfigError(['M365_SIEM_TOKEN: required (an API token of the control plane)']);
  let response: Response;
  try {
    response = await io.fetch(`${settings.url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${settings.token}`, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    throw new CliRequestError(`cannot reach the control plane at ${settings.url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    throw new CliRequestError(`${response.status} ${err?.code ?? 'error'}: ${err?.message ?? text.slice(0, 200)}`);
  }
  return parsed;
}

// The API's response types (decision 0196): the CLI reads what the OpenAPI document promises.
type Org = OrganizationResponse;
type ConnectionView = ConnectionResponse;

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

export function registerControlPlaneCommands(program: Command, ioOverride?: Partial<CliIo>): void {
  const io = { ...defaultIo(), ...ioOverride };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const run =
    <A extends any[]>(action: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await action(...args);
      } catch (error) {
        if (error instanceof CliRequestError) {
          io.stderr(`${error.message}\n`);
          io.setExitCode(1);
          return;
        }
        throw error;
      }
    };

  const org = program
    .command('org')
    .description('organizations and their Microsoft 365 connections (over the control-plane REST API; M365_SIEM_URL, M365_SIEM_TOKEN)');

  org
    .command('list')
    .description('list organizations with their connection status')
    .option('--json', 'print JSON')
    .action(
      run(async (opts: { json?: boolean }) => {
        const { items } = (await api(io, 'GET', '/organizations')) as OrganizationListResponse;
        if (opts.json) return io.stdout(`${JSON.stringify(items, null, 2)}\n`);
        io.stdout(`${pad('ID', 18)} ${pad('NAME', 28)} ${pad('STATUS', 26)} TENANT\n`);
        for (const o of items) {
          const status = o.connection ? `${o.connection.status}${o.connection.reason ? ` (${o.connection.reason})` : ''}` : 'not_connected';
          io.stdout(`${pad(o.id, 18)} ${pad(o.name, 28)} ${pad(status, 26)} ${o.connection?.tenantId ?? '-'}\n`);
        }
      }),
    );

  org
    .command('add')
    .description('add an organization')
    .argument('<name>', 'display name')
    .action(
      run(async (name: string) => {
        const created = (await api(io, 'POST', '/organizations', { name })) as Org;
        io.stdout(`${created.id}\n`);
      }),
    );

  org
    .command('connect')
    .description('start connecting Microsoft 365: prints the admin-consent URL for a Global Administrator of the customer tenant')
    .argument('<id>', 'organization id')
    .addOption(new Option('--cloud <cloud>', 'Microsoft cloud').choices([...CLOUDS]).default('commercial'))
    .option('--tenant <tenant>', 'customer tenant id or domain (recommended: consent is then refused from any other tenant)')
    .option('--auto-upgrade', 'let the control plane assign newly needed permissions itself', false)
    .action(
      run(async (id: string, opts: { cloud: string; tenant?: string; autoUpgrade: boolean }) => {
        const body = { autoUpgrade: opts.autoUpgrade, cloud: opts.cloud, ...(opts.tenant ? { tenant: opts.tenant } : {}) };
        const { consentUrl } = (await api(io, 'POST', `/organizations/${encodeURIComponent(id)}/applications/microsoft-manage`, body)) as ConsentUrlResponse;
        io.stdout(`${consentUrl}\n`);
      }),
    );

  org
    .command('status')
    .description('connection status with reason, remedy and per-source state')
    .argument('<id>', 'organization id')
    .option('--json', 'print JSON')
    .action(
      run(async (id: string, opts: { json?: boolean }) => {
        const view = (await api(io, 'GET', `/organizations/${encodeURIComponent(id)}/applications/microsoft-manage`)) as ConnectionView;
        if (opts.json) return io.stdout(`${JSON.stringify(view, null, 2)}\n`);
        io.stdout(`status:   ${view.status}${view.reason ? ` (${view.reason})` : ''}\n`);
        if (view.message) io.stdout(`          ${view.message}\n`);
        if (view.remedy) io.stdout(`remedy:   ${view.remedy}\n`);
        io.stdout(`tenant:   ${view.tenantId ?? '-'} (${view.cloud ?? '-'}), auto-upgrade ${view.autoUpgrade ? 'on' : 'off'}\n`);
        if (view.permissions.missing.length) io.stdout(`missing:  ${view.permissions.missing.join(', ')}\n`);
        if (view.pendingUpgrade) io.stdout(`upgrade:  pending; approve with \`m365-siem org approve-upgrade ${id}\`\n`);
        io.stdout(`last event: ${view.lastEventAt ?? '-'}\n`);
        for (const stall of view.pipelineStalls ?? []) {
          io.stdout(`stalled:  ${stall.stage} since ${stall.since} (${stall.topic} partition ${stall.partition}, ${stall.lagRecords} records waiting)\n`);
        }
        for (const s of view.sources) {
          io.stdout(`  ${pad(s.name, 40)} ${pad(s.state, 20)} ${pad(s.reason ?? '', 18)} ${s.events24h} events/24h\n`);
        }
      }),
    );

  org
    .command('approve-upgrade')
    .description('approve a pending permission upgrade: prints the consent URL')
    .argument('<id>', 'organization id')
    .action(
      run(async (id: string) => {
        const { consentUrl } = (await api(
          io,
          'POST',
          `/organizations/${encodeURIComponent(id)}/applications/microsoft-manage/upgrades/approve`,
        )) as ConsentUrlResponse;
        io.stdout(`${consentUrl}\n`);
      }),
    );

  org
    .command('repair')
    .description('repair a broken connection: prints a consent URL for the pinned tenant')
    .argument('<id>', 'organization id')
    .action(
      run(async (id: string) => {
        const { consentUrl } = (await api(io, 'POST', `/organizations/${encodeURIComponent(id)}/applications/microsoft-manage/repair`)) as ConsentUrlResponse;
        io.stdout(`${consentUrl}\n`);
      }),
    );

  program
    .command('whoami')
    .description('the operator token in M365_SIEM_TOKEN: its label, scope and role per organization')
    .option('--json', 'print JSON')
    .action(
      run(async (opts: { json?: boolean }) => {
        const me = (await api(io, 'GET', '/me')) as PrincipalResponse;
        if (opts.json) return io.stdout(`${JSON.stringify(me, null, 2)}\n`);
        io.stdout(`token:    ${me.label}\n`);
        if (me.allOrganizations) io.stdout(`scope:    every organization (${me.allOrganizations})\n`);
        for (const o of me.organizations) io.stdout(`          ${pad(o.id, 18)} ${o.role}\n`);
        io.stdout(`can add organizations: ${me.canCreateOrganizations ? 'yes' : 'no (needs an admin token with scope *)'}\n`);
      }),
    );

  const token = program.command('token').description('API tokens of the control plane');
  token
    .command('hash')
    .description('print the SHA-256 hash of a token for CONTROL_PLANE_TOKENS entries role[:label]:<hash>[:scope] (reads the token from stdin when omitted)')
    .argument('[token]', 'the token; omit it to keep it out of shell history')
    .action(async (value?: string) => {
      const text = (value ?? (await io.readStdin())).trim();
      if (!text) {
        io.stderr('no token given\n');
        io.setExitCode(2);
        return;
      }
      io.stdout(`${hashToken(text)}\n`);
    });
}
