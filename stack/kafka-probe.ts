import net from 'node:net';

/**
 * A dependency-free readiness probe for a Kafka broker, speaking two requests of the wire protocol:
 * ApiVersions v3 (answers with the finalized `metadata.version` feature, from which the release line is
 * known) and Metadata v4 (answers with the broker list only once the broker is registered and unfenced).
 * Only runtime/kafka/kafkajs-adapter.ts may import kafkajs, and the launcher must not depend on the runtime's client
 * settings, so the probe talks the protocol itself. Both versions are kept by Kafka 4.x (KIP-896 removed
 * Metadata v0-v3 only).
 */

export interface KafkaProbeResult {
  /** brokers listed by the Metadata response (host:port) */
  readonly brokers: readonly string[];
  readonly clusterId: string | null;
  /** e.g. "4.1-IV1" when the level is known, else "level 28"; null when the broker does not report it */
  readonly metadataVersion: string | null;
  /** the release line derived from metadata.version, e.g. "4.1"; null when unknown */
  readonly releaseLine: string | null;
}

// MetadataVersion feature levels (org.apache.kafka.server.common.MetadataVersion, read from the 4.4.0 jar).
// A freshly formatted broker runs the latest production level of its release, so the level names the release line.
const METADATA_VERSIONS: Readonly<Record<number, string>> = {
  14: '3.6-IV2',
  15: '3.7-IV0',
  16: '3.7-IV1',
  17: '3.7-IV2',
  18: '3.7-IV3',
  19: '3.7-IV4',
  20: '3.8-IV0',
  21: '3.9-IV0',
  22: '4.0-IV0',
  23: '4.0-IV1',
  24: '4.0-IV2',
  25: '4.0-IV3',
  26: '4.1-IV0',
  27: '4.1-IV1',
  28: '4.2-IV0',
  29: '4.2-IV1',
  30: '4.3-IV0',
  31: '4.4-IV0',
  32: '4.4-IV1',
  33: '4.4-IV2',
};

export function describeMetadataVersion(level: number): { metadataVersion: string; releaseLine: string | null } {
  const name = METADATA_VERSIONS[level];
  if (name === undefined) return { metadataVersion: `level ${level}`, releaseLine: null };
  return { metadataVersion: name, releaseLine: name.split('-')[0] ?? null };
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }
  string(v: string): this {
    const s = Buffer.from(v, 'utf8');
    this.int16(s.length);
    this.parts.push(s);
    return this;
  }
  uvarint(v: number): this {
    const bytes: number[] = [];
    let n = v >>> 0;
    while (n >= 0x80) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  compactString(v: string): this {
    const s = Buffer.from(v, 'utf8');
    this.uvarint(s.length + 1);
    this.parts.push(s);
    return this;
  }
  buffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  int8(): number {
    return this.buf.readInt8(this.advance(1));
  }
  int16(): number {
    return this.buf.readInt16BE(this.advance(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.advance(4));
  }
  int64(): bigint {
    return this.buf.readBigInt64BE(this.advance(8));
  }
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.buf.readUInt8(this.advance(1));
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new Error('varint too long');
    }
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    return this.buf.toString('utf8', this.advance(len), this.pos);
  }
  compactString(): string {
    const len = this.uvarint() - 1;
    if (len < 0) return '';
    return this.buf.toString('utf8', this.advance(len), this.pos);
  }
  skip(n: number): void {
    this.advance(n);
  }
  skipTaggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
  slice(n: number): Reader {
    const start = this.advance(n);
    return new Reader(this.buf.subarray(start, start + n));
  }
  private advance(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw new Error('truncated Kafka response');
    this.pos += n;
    return at;
  }
}

const CLIENT_ID = 'm365-siem-stack-probe';

function requestHeader(apiKey: number, apiVersion: number, correlationId: number, flexible: boolean): Writer {
  const w = new Writer().int16(apiKey).int16(apiVersion).int32(correlationId).string(CLIENT_ID);
  if (flexible) w.uvarint(0); // empty tagged fields (request header v2)
  return w;
}

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** Sends the requests one after another on one connection and returns the response bodies (after correlation id). */
function exchange(host: string, port: number, requests: readonly Buffer[], timeoutMs: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const responses: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => {
      if (responses.length < requests.length) fail(new Error(`connection to ${host}:${port} closed before the answer`));
    });
    socket.on('connect', () => socket.write(frame(requests[0]!)));
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        responses.push(pending.subarray(8, 4 + size)); // skip size and correlation id
        pending = pending.subarray(4 + size);
        if (responses.length === requests.length) {
          clearTimeout(timer);
          socket.end();
          resolve(responses);
          return;
        }
        socket.write(frame(requests[responses.length]!));
      }
    });
  });
}

function parseApiVersionsV3(body: Buffer): number | null {
  const r = new Reader(body);
  const errorCode = r.int16();
  if (errorCode !== 0) throw new Error(`ApiVersions error code ${errorCode}`);
  const apiCount = r.uvarint() - 1;
  for (let i = 0; i < apiCount; i++) {
    r.int16();
    r.int16();
    r.int16();
    r.skipTaggedFields();
  }
  r.int32(); // throttle time
  let level: number | null = null;
  const tagCount = r.uvarint();
  for (let t = 0; t < tagCount; t++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    const field = r.slice(size);
    if (tag !== 2) continue; // FinalizedFeatures
    const count = field.uvarint() - 1;
    for (let i = 0; i < count; i++) {
      const name = field.compactString();
      const max = field.int16();
      field.int16();
      field.skipTaggedFields();
      if (name === 'metadata.version') level = max;
    }
  }
  return level;
}

function parseMetadataV4(body: Buffer): { brokers: string[]; clusterId: string | null } {
  const r = new Reader(body);
  r.int32(); // throttle time
  const brokerCount = r.int32();
  const brokers: string[] = [];
  for (let i = 0; i < brokerCount; i++) {
    r.int32(); // node id
    const host = r.nullableString() ?? '';
    const port = r.int32();
    r.nullableString(); // rack
    brokers.push(`${host}:${port}`);
  }
  const clusterId = r.nullableString();
  return { brokers, clusterId };
}

/**
 * Asks the bootstrap brokers (in order, until one answers) for their metadata. Resolves when a broker
 * answers with at least one registered broker; rejects otherwise (refused, timeout, not yet unfenced).
 */
export async function probeKafka(bootstrap: string, timeoutMs = 3000): Promise<KafkaProbeResult> {
  const addresses = bootstrap
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (addresses.length === 0) throw new Error('no Kafka broker address given');
  let lastError: Error | undefined;
  for (const address of addresses) {
    try {
      return await probeOneBroker(address, timeoutMs);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('no broker answered');
}

async function probeOneBroker(address: string, timeoutMs: number): Promise<KafkaProbeResult> {
  const idx = address.lastIndexOf(':');
  if (idx <= 0) throw new Error(`invalid broker address "${address}" (expected host:port)`);
  const host = address.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(idx + 1));
  const apiVersions = new Writer().compactString('m365-siem').compactString('1').uvarint(0).buffer();
  const metadata = new Writer()
    .int32(0) // empty topic list: brokers only
    .int8(0) // allow_auto_topic_creation = false
    .buffer();
  const [av, md] = await exchange(
    host,
    port,
    [Buffer.concat([requestHeader(18, 3, 1, true).buffer(), apiVersions]), Buffer.concat([requestHeader(3, 4, 2, false).buffer(), metadata])],
    timeoutMs,
  );
  // ApiVersions responses always use response header v0 (no tagged fields), so the body starts right away.
  const level = parseApiVersionsV3(av!);
  const { brokers, clusterId } = parseMetadataV4(md!);
  if (brokers.length === 0) throw new Error(`broker ${address} answered but lists no brokers yet`);
  const described = level === null ? null : describeMetadataVersion(level);
  return {
    brokers,
    clusterId,
    metadataVersion: described?.metadataVersion ?? null,
    releaseLine: described?.releaseLine ?? null,
  };
}
