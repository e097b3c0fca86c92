/**
 * A single OpenSearch node secured the way a production cluster is: the OpenSearch Security plugin (from Maven
 * Central, like the distribution) with TLS on HTTP and transport from a CA of the test's own, and one internal user
 * with a password. The stack launcher's bare node has no security plugin; this one is for the TLS and basic-auth
 * proof of the services' OpenSearch settings (OPENSEARCH_URL https, OPENSEARCH_CA_FILE, OPENSEARCH_USERNAME/PASSWORD).
 */
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findJavaInstalls, loadStackConfig, pathExists, runOrThrow } from '../../stack/index.ts';
import { ensureOpenSearchZip, ensureServiceUser, prepareOpenSearchHome, startLocalOpenSearch } from '../../stack/local-opensearch.ts';
import { stopOurProcess } from '../../stack/processes.ts';
import { pickOpenSearchJava, which } from '../../stack/requirements.ts';
import type { ServerCertificate } from './certificates.ts';

export interface SecureOpenSearch {
  readonly url: string;
  stop(): Promise<void>;
}

async function ensureSecurityPluginZip(cacheDir: string, version: string, mvn: string): Promise<string> {
  // The plugin's versions carry a fourth number: 2.19.3 → 2.19.3.0.
  const pluginVersion = `${version}.0`;
  const dir = path.join(cacheDir, `opensearch-security-${pluginVersion}`);
  const zip = path.join(dir, `opensearch-security-${pluginVersion}.zip`);
  if (await pathExists(zip)) return zip;
  // Into a temporary folder first, renamed when complete: an interrupted download is never taken for the plugin.
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await runOrThrow(
    'Maven download of the OpenSearch Security plugin',
    mvn,
    [
      '-B',
      '-q',
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
      `-Dartifact=org.opensearch.plugin:opensearch-security:${pluginVersion}:zip`,
      `-DoutputDirectory=${tmp}`,
    ],
    { timeoutMs: 600_000 },
  );
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return zip;
}

/** Unpacks a node of its own under /var/tmp (the service user must reach it), installs the plugin and starts it. */
export async function startSecureOpenSearch(o: {
  name: string;
  certificate: ServerCertificate;
  username: string;
  password: string;
  httpPort: number;
  transportPort: number;
}): Promise<SecureOpenSearch> {
  const config = loadStackConfig({ ...process.env, KAFKA_BROKERS: undefined, OPENSEARCH_URL: undefined });
  const mvn = (await which('mvn')) ?? 'mvn';
  const java = pickOpenSearchJava(await findJavaInstalls(config.javaHome));
  if (!java) throw new Error('no Java for OpenSearch found (the stack launcher needs one too)');
  const javaEnv = { ...process.env, JAVA_HOME: java.home, OPENSEARCH_JAVA_HOME: java.home };
  const zip = await ensureOpenSearchZip(config.cacheDir, config.opensearchVersion, mvn, () => undefined);
  const pluginZip = await ensureSecurityPluginZip(config.cacheDir, config.opensearchVersion, mvn);
  const isRoot = process.getuid?.() === 0;
  const user = isRoot ? await ensureServiceUser(config.serviceUser, (await which('useradd')) ?? (await which('useradd', '/usr/sbin:/sbin'))) : null;
  const workDir = path.join('/var/tmp', `m365-siem-${o.name}-${process.pid}`);
  await rm(workDir, { recursive: true, force: true });
  // The plugin is installed before the files are handed to the service user (prepareOpenSearchHome chowns them).
  const home = await prepareOpenSearchHome(zip, workDir, config.opensearchVersion, (await which('unzip')) ?? 'unzip', null);
  await runOrThrow('installing the OpenSearch Security plugin', path.join(home, 'bin', 'opensearch-plugin'), ['install', '--batch', `file://${pluginZip}`], {
    env: javaEnv,
    timeoutMs: 300_000,
  });
  const conf = path.join(home, 'config');
  // The plugin reads certificates only from inside the config folder.
  await copyFile(o.certificate.caFile, path.join(conf, 'ca.pem'));
  await copyFile(o.certificate.certificateFile, path.join(conf, 'node.pem'));
  await copyFile(o.certificate.keyFile, path.join(conf, 'node.key'));
  const tls = (layer: 'transport' | 'http') => [
    `plugins.security.ssl.${layer}.pemcert_filepath: node.pem`,
    `plugins.security.ssl.${layer}.pemkey_filepath: node.key`,
    `plugins.security.ssl.${layer}.pemtrustedcas_filepath: ca.pem`,
  ];
  const yml = [
    ...tls('transport'),
    'plugins.security.ssl.transport.enforce_hostname_verification: false',
    'plugins.security.ssl.http.enabled: true',
    ...tls('http'),
    // First start creates the security index from config/opensearch-security (no securityadmin run needed).
    'plugins.security.allow_default_init_securityindex: true',
    'plugins.security.nodes_dn: ["CN=127.0.0.1"]',
    'plugins.security.authcz.admin_dn: ["CN=m365-siem test admin"]',
    'plugins.security.audit.type: noop',
    '',
  ];
  await writeFile(path.join(conf, 'opensearch.yml'), `${await readFile(path.join(conf, 'opensearch.yml'), 'utf8')}\n${yml.join('\n')}`);
  const hashOutput = await runOrThrow(
    'hashing the test password',
    'bash',
    [path.join(home, 'plugins', 'opensearch-security', 'tools', 'hash.sh'), '-p', o.password],
    {
      env: javaEnv,
    },
  );
  const hash = hashOutput.trim().split('\n').pop() ?? '';
  if (!hash.startsWith('$2')) throw new Error('the Security plugin did not print a bcrypt hash');
  // backend role "admin" is mapped to all_access by the plugin's default roles_mapping.yml.
  const users = [
    '_meta:',
    '  type: "internalusers"',
    '  config_version: 2',
    `${o.username}:`,
    `  hash: "${hash}"`,
    '  reserved: false',
    '  backend_roles: ["admin"]',
    '',
  ];
  await writeFile(path.join(conf, 'opensearch-security', 'internal_users.yml'), users.join('\n'));
  if (user) await runOrThrow('chown of the secure OpenSearch folder', 'chown', ['-R', `${user.uid}:${user.gid}`, workDir]);
  await mkdir(path.join(workDir, 'tmp'), { recursive: true });
  const stackId = `${o.name}-${process.pid}`;
  const { pid } = await startLocalOpenSearch({
    stackDir: workDir,
    stackId,
    version: config.opensearchVersion,
    home,
    workDir,
    javaHome: java.home,
    httpPort: o.httpPort,
    transportPort: o.transportPort,
    user,
  });
  return {
    url: `https://127.0.0.1:${o.httpPort}`,
    stop: async () => {
      if (pid !== undefined) await stopOurProcess(pid, stackId, 10_000);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
