/**
 * A certificate authority of our own for the TLS tests (openssl, which every CI machine of this kind has): a CA,
 * and server certificates it signs for 127.0.0.1 / localhost. Valid for two days; written to a folder the test owns.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServerCertificate {
  /** PEM of the CA that signed it: what a client trusts (KAFKA_SSL_CA_FILE, OPENSEARCH_CA_FILE). */
  readonly caFile: string;
  readonly certificateFile: string;
  /** Unencrypted PKCS#8 private key. */
  readonly keyFile: string;
  /** Key, certificate and CA in one PEM file: Kafka's PEM keystore. */
  readonly keystorePemFile: string;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await run('openssl', [...args], { cwd, timeout: 60_000 });
}

/** Creates a CA named `name` in `dir` and a server certificate for 127.0.0.1 and localhost signed by it. */
export async function createServerCertificate(dir: string, name: string): Promise<ServerCertificate> {
  const file = (suffix: string): string => path.join(dir, `${name}-${suffix}`);
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`, '-keyout', file('ca.key'), '-out', file('ca.pem')],
    dir,
  );
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr')], dir);
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      file('server.ext'),
      '-out',
      file('server.pem'),
    ],
    dir,
  );
  const parts = await Promise.all([file('server.key'), file('server.pem'), file('ca.pem')].map((f) => readFile(f, 'utf8')));
  await writeFile(file('keystore.pem'), parts.join(''));
  return { caFile: file('ca.pem'), certificateFile: file('server.pem'), keyFile: file('server.key'), keystorePemFile: file('keystore.pem') };
}
