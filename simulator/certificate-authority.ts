import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import forge from 'node-forge';

/**
 * The simulator's local certificate authority. Generated once per state directory and reused, so a
 * test run's global setup can point NODE_EXTRA_CA_CERTS at it before any simulator starts.
 * Keys come from node:crypto (native, fast); node-forge only builds and signs the certificates.
 */

export interface CertificateAuthorityFiles {
  caFile: string;
  caCertPem: string;
}

export interface ServerCertificate {
  keyPem: string;
  certPem: string;
  caCertPem: string;
  caFile: string;
}

/** The application's client certificate (certificate credential of the multi-tenant app). */
export interface AppCertificate {
  certPem: string;
  privateKeyPem: string;
  /** SHA-1 thumbprint, hex upper case (what the Azure portal shows). */
  thumbprint: string;
  /** SHA-256 thumbprint, hex upper case. */
  thumbprintSha256: string;
}

const CA_CERT = 'sim-ca.pem';
const CA_KEY = 'sim-ca-key.pem';
const SERVER_CERT = 'sim-server.pem';
const SERVER_KEY = 'sim-server-key.pem';
const APP_CERT = 'sim-app-cert.pem';
const APP_KEY = 'sim-app-key.pem';

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, file);
}

function newKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function serial(): string {
  // positive serial number
  return `01${randomBytes(15).toString('hex')}`;
}

function buildCertificate(options: {
  subjectCn: string;
  publicKeyPem: string;
  issuerCert?: forge.pki.Certificate;
  signingKeyPem: string;
  isCa: boolean;
  altNames?: Array<{ type: number; value?: string; ip?: string }>;
  years: number;
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(options.publicKeyPem);
  cert.serialNumber = serial();
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + options.years * 365 * 24 * 3600_000);
  const subject = [
    { name: 'commonName', value: options.subjectCn },
    { name: 'organizationName', value: 'm365-siem simulator' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(options.issuerCert ? options.issuerCert.subject.attributes : subject);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: options.isCa, critical: options.isCa },
    options.isCa
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!options.isCa) extensions.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
  if (options.altNames) extensions.push({ name: 'subjectAltName', altNames: options.altNames });
  cert.setExtensions(extensions);
  const signingKey = forge.pki.privateKeyFromPem(options.signingKeyPem) as forge.pki.rsa.PrivateKey;
  cert.sign(signingKey, forge.md.sha256.create());
  return cert;
}

/** A new key pair and its self-signed certificate (the CA, the app's credential), stored as keyFile and certFile. */
async function storeSelfSigned(
  files: { keyFile: string; certFile: string },
  subject: { subjectCn: string; isCa: boolean; years: number },
): Promise<{ keyPem: string; certPem: string }> {
  const keys = newKeyPair();
  const cert = buildCertificate({ ...subject, publicKeyPem: keys.publicKeyPem, signingKeyPem: keys.privateKeyPem });
  const stored = { keyPem: keys.privateKeyPem, certPem: forge.pki.certificateToPem(cert) };
  await writeAtomic(files.keyFile, stored.keyPem);
  await writeAtomic(files.certFile, stored.certPem);
  return stored;
}

function certValid(pem: string | undefined, minRemainingMs: number): boolean {
  if (!pem) return false;
  try {
    const cert = forge.pki.certificateFromPem(pem);
    return cert.validity.notAfter.getTime() - Date.now() > minRemainingMs;
  } catch {
    return false;
  }
}

/**
 * Generates (once) the CA, the localhost server certificate it signs and the app's client certificate, kept
 * in stateDir; later calls reuse the files. Returns the CA file to hand to NODE_EXTRA_CA_CERTS.
 */
export async function ensureCertificateAuthority(stateDir: string): Promise<CertificateAuthorityFiles> {
  const server = await ensureServerCertificate(stateDir);
  // Also the app certificate, so processes started afterwards only ever read these files.
  await ensureAppCertificate(stateDir);
  return { caFile: server.caFile, caCertPem: server.caCertPem };
}

export async function ensureServerCertificate(stateDir: string): Promise<ServerCertificate> {
  await mkdir(stateDir, { recursive: true });
  const caFile = path.join(stateDir, CA_CERT);
  const caKeyFile = path.join(stateDir, CA_KEY);
  let caCertPem = await readIfExists(caFile);
  let caKeyPem = await readIfExists(caKeyFile);
  let caRenewed = false;
  if (!caCertPem || !caKeyPem || !certValid(caCertPem, 30 * 24 * 3600_000)) {
    ({ keyPem: caKeyPem, certPem: caCertPem } = await storeSelfSigned(
      { keyFile: caKeyFile, certFile: caFile },
      { subjectCn: 'm365-siem simulator local CA', isCa: true, years: 10 },
    ));
    caRenewed = true;
  }
  const serverCertFile = path.join(stateDir, SERVER_CERT);
  const serverKeyFile = path.join(stateDir, SERVER_KEY);
  let certPem = await readIfExists(serverCertFile);
  let keyPem = await readIfExists(serverKeyFile);
  if (caRenewed || !certPem || !keyPem || !certValid(certPem, 7 * 24 * 3600_000) || !issuedBy(certPem, caCertPem)) {
    const keys = keyPem ? { privateKeyPem: keyPem, publicKeyPem: publicFromPrivate(keyPem) } : newKeyPair();
    const caCert = forge.pki.certificateFromPem(caCertPem);
    const cert = buildCertificate({
      subjectCn: 'localhost',
      publicKeyPem: keys.publicKeyPem,
      issuerCert: caCert,
      signingKeyPem: caKeyPem,
      isCa: false,
      years: 2,
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    });
    keyPem = keys.privateKeyPem;
    certPem = forge.pki.certificateToPem(cert);
    await writeAtomic(serverKeyFile, keyPem);
    await writeAtomic(serverCertFile, certPem);
  }
  return { keyPem, certPem, caCertPem, caFile };
}

function publicFromPrivate(privateKeyPem: string): string {
  const key = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  return forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(key.n, key.e));
}

function issuedBy(certPem: string, caPem: string): boolean {
  try {
    const ca = forge.pki.certificateFromPem(caPem);
    return ca.verify(forge.pki.certificateFromPem(certPem));
  } catch {
    return false;
  }
}

function thumbprints(certPem: string): { thumbprint: string; thumbprintSha256: string } {
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(), 'binary');
  return {
    thumbprint: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}

/** The application's certificate credential (self-signed, as app registrations usually use), kept in stateDir. */
export async function ensureAppCertificate(stateDir: string): Promise<AppCertificate> {
  await mkdir(stateDir, { recursive: true });
  const certFile = path.join(stateDir, APP_CERT);
  const keyFile = path.join(stateDir, APP_KEY);
  let certPem = await readIfExists(certFile);
  let privateKeyPem = await readIfExists(keyFile);
  if (!certPem || !privateKeyPem || !certValid(certPem, 24 * 3600_000)) {
    ({ keyPem: privateKeyPem, certPem } = await storeSelfSigned({ keyFile, certFile }, { subjectCn: 'm365-siem connector', isCa: false, years: 2 }));
  }
  return { certPem, privateKeyPem, ...thumbprints(certPem) };
}
