import { isIP } from 'node:net';

/** An address as Microsoft wrote it, parsed: ip (null when it is not an IP) and port (null when absent). */
export interface ParsedAddress {
  readonly ip: string | null;
  readonly port: number | null;
}

const EMPTY = new Set(['', 'null', '<null>', 'undefined', 'none', '-', 'n/a']);
const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

function toPort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

/**
 * Dotted-quad IPv4 without leading zeros (what `net.isIPv4` accepts), by character code: most addresses are IPv4 and
 * `isIP` tests them with a regular expression. `false` only means "not this form"; `isIP` decides then.
 */
export function isPlainIpv4(s: string): boolean {
  const len = s.length;
  if (len < 7 || len > 15) return false;
  let parts = 0;
  let i = 0;
  while (i < len) {
    const start = i;
    let n = 0;
    while (i < len) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && s.charCodeAt(start) === 48)) return false;
    parts++;
    if (i === len) break;
    if (s.charCodeAt(i) !== 46 /* . */ || parts === 4) return false;
    i++;
    if (i === len) return false;
  }
  return parts === 4;
}

function cleanIp(candidate: string): string | null {
  let ip = candidate.trim();
  if (isPlainIpv4(ip)) return ip;
  const zone = ip.indexOf('%');
  if (zone > 0) ip = ip.slice(0, zone);
  const mapped = MAPPED_V4.exec(ip);
  if (mapped?.[1]) ip = mapped[1];
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family === 6) return ip.toLowerCase();
  return null;
}

/**
 * Parses every client-address form the Management API and Graph produce: `1.2.3.4`, `1.2.3.4:5678`,
 * `[2001:db8::1]:443`, `[2001:db8::1]`, bare IPv6 (`2001:db8::1`, `fe80::1%eth0`), `::ffff:1.2.3.4` (unwrapped to
 * IPv4) and `host (1.2.3.4)`. Empty values and placeholders (`null`, `<null>`) give null; other text gives
 * `{ip: null, port: null}` so the caller still keeps the raw value as `source.address`.
 */
export function parseAddress(raw: unknown): ParsedAddress | null {
  if (typeof raw !== 'string') return null;
  const s = raw.trim();
  // The longest placeholder is 'undefined' (9 characters): longer text needs no lower-cased copy.
  if (s.length <= 9 && EMPTY.has(s.toLowerCase())) return null;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const end = s.indexOf(']');
    if (end > 1) {
      const rest = s.slice(end + 1);
      const port = rest.startsWith(':') ? toPort(rest.slice(1)) : null;
      const ip = cleanIp(s.slice(1, end));
      return { ip, port: ip ? port : null };
    }
    return { ip: null, port: null };
  }
  if (s.endsWith(')')) {
    const open = s.lastIndexOf('(');
    if (open >= 0) {
      const inner = parseAddress(s.slice(open + 1, -1));
      if (inner?.ip) return inner;
    }
  }
  const first = s.indexOf(':');
  if (first === -1) return { ip: cleanIp(s), port: null };
  if (first === s.lastIndexOf(':')) {
    // exactly one colon: IPv4 with a port
    const ip = cleanIp(s.slice(0, first));
    return { ip, port: ip ? toPort(s.slice(first + 1)) : null };
  }
  return { ip: cleanIp(s), port: null };
}
