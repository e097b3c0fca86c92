import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/** Small HTTP helpers shared by the simulated services (node:https, no framework, for throughput). */

export interface SimRequest {
  method: string;
  url: URL;
  /** Raw path (percent-encoded as sent; `$` in content ids stays literal). */
  rawPath: string;
  segments: string[];
  headers: IncomingMessage['headers'];
  remoteAddress: string;
  raw: IncomingMessage;
  body(): Promise<Buffer>;
}

export type Handler = (req: SimRequest, res: ServerResponse) => Promise<void> | void;

const MAX_BODY = 1024 * 1024;

export function toSimRequest(raw: IncomingMessage, origin: string): SimRequest {
  const target = raw.url ?? '/';
  const url = new URL(target, origin);
  const rawPath = target.split('?')[0] ?? '/';
  let cached: Promise<Buffer> | undefined;
  return {
    method: (raw.method ?? 'GET').toUpperCase(),
    url,
    rawPath,
    segments: rawPath
      .split('/')
      .filter((s) => s.length > 0)
      .map(safeDecode),
    headers: raw.headers,
    remoteAddress: raw.socket.remoteAddress ?? '',
    raw,
    body: () => {
      cached ??= new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        raw.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            reject(new Error('body too large'));
            raw.destroy();
            return;
          }
          chunks.push(c);
        });
        raw.on('end', () => resolve(Buffer.concat(chunks)));
        raw.on('error', reject);
      });
      return cached;
    },
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string | number> = {}): void {
  if (res.headersSent) return;
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'Content-Length': buf.length, ...headers });
  res.end(buf);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  send(res, status, JSON.stringify(body), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}

export function requestId(): string {
  return randomUUID();
}

/** Graph's `innerError` date format: `2021-09-02T14:32:39`. */
export function graphDate(now: number): string {
  return new Date(now).toISOString().slice(0, 19);
}

/** Whether a peer address is loopback: ::1, 127.0.0.0/8, and 127.0.0.0/8 as IPv4-mapped IPv6 (::ffff:127.x.y.z). */
export function isLoopback(address: string): boolean {
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export function bearerToken(req: SimRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim();
}

export function queryParam(url: URL, name: string): string | null {
  // Management API and Graph accept query parameter names case-insensitively.
  const direct = url.searchParams.get(name);
  if (direct !== null) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of url.searchParams) if (k.toLowerCase() === lower) return v;
  return null;
}
