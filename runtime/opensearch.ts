import { readFileSync } from 'node:fs';
import { Client } from '@opensearch-project/opensearch';
import { z } from 'zod';
import { envBoolean, envInt, envUrl, parseSettings, setting } from './settings.ts';

export type OpenSearchClient = Client;

export const openSearchSettingsSpec = {
  url: setting('OPENSEARCH_URL', envUrl('http://127.0.0.1:9200'), 'OpenSearch base URL (http or https)'),
  username: setting('OPENSEARCH_USERNAME', z.string().optional(), 'basic-auth user name'),
  password: setting('OPENSEARCH_PASSWORD', z.string().optional(), 'basic-auth password (never logged)'),
  caFile: setting('OPENSEARCH_CA_FILE', z.string().optional(), 'PEM file of the CA that signed the OpenSearch certificate'),
  tlsRejectUnauthorized: setting('OPENSEARCH_TLS_REJECT_UNAUTHORIZED', envBoolean(true), 'verify the OpenSearch certificate'),
  requestTimeoutMs: setting('OPENSEARCH_REQUEST_TIMEOUT_MS', envInt(30_000, 100, 600_000), 'request timeout'),
} as const;

export type OpenSearchSettings = ReturnType<typeof parseOpenSearchSettings>;

export function parseOpenSearchSettings(env: Readonly<Record<string, string | undefined>>) {
  const s = parseSettings(openSearchSettingsSpec, env);
  if ((s.username === undefined) !== (s.password === undefined)) {
    throw new Error('invalid configuration:\n  - OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD must be set together');
  }
  return s;
}

export function createOpenSearchClient(s: OpenSearchSettings): Client {
  const https = s.url.startsWith('https:');
  return new Client({
    node: s.url,
    requestTimeout: s.requestTimeoutMs,
    ...(s.username !== undefined && s.password !== undefined ? { auth: { username: s.username, password: s.password } } : {}),
    ...(https ? { ssl: { rejectUnauthorized: s.tlsRejectUnauthorized, ...(s.caFile ? { ca: readFileSync(s.caFile, 'utf8') } : {}) } } : {}),
  });
}
