import type { ServerResponse } from 'node:http';
import type { TokenSigner } from './entra/jwt.ts';
import type { Fault, FaultRegistry } from './faults.ts';
import { send } from './http.ts';
import type { ApiRequestLogEntry, SimulatorState, Tenant } from './tenant-state.ts';

/** What every simulated service handler receives. */
export interface SimContext {
  state: SimulatorState;
  faults: FaultRegistry;
  signer: TokenSigner;
  /** `https://localhost:PORT` — every URL the simulator hands out points back here. */
  origin: () => string;
  hostPort: () => string;
  now: () => number;
  /** Moves the simulator's clock forward (tests of expiry and publication delay). */
  advanceClock: (ms: number) => number;
}

/**
 * Logs one API request of a tenant (arrival now) and fills in its answer when the response ends: its status and
 * when it was sent, or when the connection was cut (a truncated answer).
 */
export function logApiRequest(
  ctx: SimContext,
  tenant: Tenant,
  api: ApiRequestLogEntry['api'],
  method: string,
  path: string,
  res: ServerResponse,
): ApiRequestLogEntry {
  const entry = tenant.logApiRequest(api, method, path, ctx.now());
  const answered = () => {
    entry.answeredAtMs ??= ctx.now();
    entry.status ??= res.headersSent ? res.statusCode : null;
  };
  res.once('finish', answered);
  res.once('close', answered);
  return entry;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Applies the transport-level fault kinds shared by all services. Returns true when the response was
 * fully handled (truncated / malformed). `slow` only delays and lets the caller answer normally.
 */
export async function applyTransportFault(fault: Fault, res: ServerResponse, malformedBody: string): Promise<boolean> {
  if (fault.kind === 'slow') {
    await sleep(fault.delayMs ?? 2000);
    return false;
  }
  if (fault.kind === 'malformed') {
    send(res, 200, malformedBody, { 'Content-Type': 'application/json; charset=utf-8' });
    return true;
  }
  if (fault.kind === 'truncated') {
    const body = Buffer.from('[{"CreationTime":"2024-01-01T00:00:00","Id":"');
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length + 4096 });
    res.write(body);
    setTimeout(() => res.destroy(), 10);
    return true;
  }
  return false;
}
