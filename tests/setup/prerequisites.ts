/**
 * `npm test` runs this first (the `pretest` script): on a fresh machine it installs what the suite needs and npm
 * cannot bring — Debian's Chromium for the browser tests and, when no Kafka/OpenSearch endpoints are given, the JDK,
 * Maven and unzip the launcher needs. As root (or with password-less sudo) it installs them with apt-get; otherwise
 * it stops with the one command to run. Tools already present are left alone, so a second run does nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { SIGMA_INSTALL_COMMAND, installSigmaToolchain, sigmaToolchain } from '../../detections/index.ts';

interface Requirement {
  readonly what: string;
  readonly debianPackage: string;
  readonly present: () => boolean;
}

const onPath = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/** A JDK the launcher can use: OpenSearch 2.x runs on Java 17–23, Kafka 4.x on 17+. */
function usableJava(): boolean {
  const candidates = [process.env.M365_SIEM_JAVA_HOME, process.env.JAVA_HOME].filter((h): h is string => Boolean(h)).map((h) => `${h}/bin/java`);
  if (onPath('java')) candidates.push('java');
  if (existsSync('/usr/lib/jvm')) candidates.push(...readdirSync('/usr/lib/jvm').map((d) => `/usr/lib/jvm/${d}/bin/java`));
  return candidates.some((java) => {
    const out = spawnSync(java, ['-version'], { encoding: 'utf8' });
    const major = Number(/version "(\d+)/.exec(`${out.stderr}${out.stdout}`)?.[1]);
    return major >= 17 && major <= 23;
  });
}

function requirements(env: NodeJS.ProcessEnv): Requirement[] {
  const list: Requirement[] = [
    { what: 'Chromium for the operator UI browser tests', debianPackage: 'chromium', present: () => existsSync(env.CHROMIUM_PATH ?? '/usr/bin/chromium') },
  ];
  if (!env.KAFKA_BROKERS || !env.OPENSEARCH_URL) {
    list.push(
      { what: 'a JDK 17–23 for the local Kafka and OpenSearch', debianPackage: 'openjdk-17-jdk-headless', present: usableJava },
      { what: 'Maven to fetch Kafka and OpenSearch from Maven Central', debianPackage: 'maven', present: () => onPath('mvn') },
      { what: 'unzip for the OpenSearch distribution', debianPackage: 'unzip', present: () => onPath('unzip') },
    );
  }
  return list;
}

function asRootPrefix(): string[] | null {
  if (process.getuid?.() === 0) return [];
  if (onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return null;
}

/** The detection tests convert Sigma rules with sigma-cli: its pinned virtual environment needs no root, only python3. */
function ensureSigmaToolchain(): void {
  if (sigmaToolchain()) return;
  process.stderr.write('[pretest] installing the Sigma toolchain into .venv-sigma/ (detections/sigma/requirements.txt)\n');
  const result = installSigmaToolchain();
  if (!result.ok) {
    process.stderr.write(`[pretest] ${result.reason}\nInstall it by hand: ${SIGMA_INSTALL_COMMAND}\n`);
    process.exit(1);
  }
}

function main(): void {
  ensureSigmaToolchain();
  const missing = requirements(process.env).filter((r) => !r.present());
  if (missing.length === 0) return;
  const packages = missing.map((r) => r.debianPackage);
  const command = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const prefix = asRootPrefix();
  if (prefix === null || !onPath('apt-get')) {
    process.stderr.write(
      `npm test needs ${missing.map((r) => r.what).join('; ')}.\nInstall it once as root:\n  sudo sh -c '${command}'\n` +
        '(or set CHROMIUM_PATH, JAVA_HOME, or KAFKA_BROKERS and OPENSEARCH_URL to what you have).\n',
    );
    process.exit(1);
  }
  process.stderr.write(`[pretest] installing ${packages.join(', ')} (${missing.map((r) => r.what).join('; ')})\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt run (a second test run, unattended upgrades) may hold the dpkg lock: wait for it rather than fail.
  const apt = 'apt-get -o DPkg::Lock::Timeout=600';
  const [run, ...args] = [...prefix, 'sh', '-c', `${apt} update -qq && ${apt} install -y -qq --no-install-recommends ${packages.join(' ')} >/dev/null`];
  try {
    execFileSync(run as string, args, { stdio: 'inherit', env });
  } catch {
    process.stderr.write(`[pretest] apt-get failed; install by hand: sudo sh -c '${command}'\n`);
    process.exit(1);
  }
  const still = missing.filter((r) => !r.present());
  if (still.length > 0) {
    process.stderr.write(`[pretest] still missing after apt-get: ${still.map((r) => r.what).join('; ')}\n`);
    process.exit(1);
  }
}

main();
