import { createHash, createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** JWT encoding, signing (RS256 with the simulator's key) and verification helpers. */

export function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null) return undefined;
    return {
      header: header as Record<string, unknown>,
      payload: payload as Record<string, unknown>,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2] ?? '', 'base64url'),
    };
  } catch {
    return undefined;
  }
}

export class TokenSigner {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;
  readonly x5c: string;

  constructor(privateKeyPem: string, certPem: string) {
    this.privateKey = createPrivateKey(privateKeyPem);
    this.publicKey = createPublicKey(privateKeyPem);
    const cert = new X509Certificate(certPem);
    this.x5c = cert.raw.toString('base64');
    this.kid = createHash('sha1').update(cert.raw).digest('base64url');
  }

  sign(payload: Record<string, unknown>): string {
    const header = { typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const signature = sign('sha256', Buffer.from(input), this.privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }

  verifySignature(decoded: DecodedJwt): boolean {
    if (decoded.header.alg !== 'RS256') return false;
    return verify('sha256', Buffer.from(decoded.signingInput), this.publicKey, decoded.signature);
  }

  jwks(): unknown {
    const jwk = this.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return { keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, n: jwk.n, e: jwk.e, x5c: [this.x5c] }] };
  }
}

/** Verifies a client assertion's signature (RS256 or PS256, as msal-node uses) with a certificate's key. */
export function verifyAssertionSignature(decoded: DecodedJwt, certPem: string): boolean {
  const key = new X509Certificate(certPem).publicKey;
  const data = Buffer.from(decoded.signingInput);
  if (decoded.header.alg === 'RS256') return verify('sha256', data, key, decoded.signature);
  if (decoded.header.alg === 'PS256') {
    return verify('sha256', data, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }, decoded.signature);
  }
  return false;
}
