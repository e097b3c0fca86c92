import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { sendJson } from '../http.ts';

/** Entra ID (AADSTS) OAuth error bodies as the token and metadata endpoints return them. */

export function aadTimestamp(now: number): string {
  return `${new Date(now).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function aadErrorBody(origin: string, error: string, code: number, description: string, now: number): Record<string, unknown> {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = aadTimestamp(now);
  return {
    error,
    error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${origin}/error?code=${code}`,
  };
}

export function sendAadError(
  res: ServerResponse,
  origin: string,
  status: number,
  error: string,
  code: number,
  description: string,
  now: number,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, aadErrorBody(origin, error, code, description, now), {
    'Cache-Control': 'no-store, no-cache',
    Pragma: 'no-cache',
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
}

export const tenantNotFound = (tenant: string) =>
  `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`;
