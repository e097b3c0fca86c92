import { execFile } from 'node:child_process';
import { access, constants, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface JavaInstall {
  readonly javaBin: string;
  /** JAVA_HOME of the install (parent of bin/) */
  readonly home: string;
  readonly major: number;
  readonly version: string;
}

/** Thrown when the local path cannot run; `missing` lists each missing tool in words a user can act on. */
export class StackRequirementError extends Error {
  constructor(
    readonly missing: readonly string[],
    hint: string,
  ) {
    super(`cannot start the local stack: ${missing.join('; ')}.\n${hint}`);
    this.name = 'StackRequirementError';
  }
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds an executable on PATH, like `command -v`. */
export async function which(name: string, pathEnv = process.env.PATH ?? ''): Promise<string | null> {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

export function parseJavaVersion(output: string): { major: number; version: string } | null {
  const m = /version "([^"]+)"/.exec(output);
  if (!m?.[1]) return null;
  const version = m[1];
  const parts = version.split(/[.+-]/);
  const first = Number(parts[0]);
  const major = first === 1 ? Number(parts[1]) : first; // "1.8.0_392" style
  return Number.isFinite(major) ? { major, version } : null;
}

async function describeJava(javaBin: string): Promise<JavaInstall | null> {
  if (!(await isExecutable(javaBin))) return null;
  try {
    const { stderr, stdout } = await execFileAsync(javaBin, ['-version'], { timeout: 15_000 });
    const parsed = parseJavaVersion(`${stderr}\n${stdout}`);
    if (!parsed) return null;
    const real = await realpath(javaBin);
    return { javaBin: real, home: path.dirname(path.dirname(real)), ...parsed };
  } catch {
    return null;
  }
}

/**
 * Lists the Java installs the launcher may use, in preference order: the configured JAVA home, `java` on
 * PATH, then every JDK under /usr/lib/jvm (Debian/Ubuntu layout).
 */
export async function findJavaInstalls(configuredHome: string | undefined): Promise<JavaInstall[]> {
  const candidates: string[] = [];
  if (configuredHome) candidates.push(path.join(configuredHome, 'bin', 'java'));
  const onPath = await which('java');
  if (onPath) candidates.push(onPath);
  try {
    for (const entry of (await readdir('/usr/lib/jvm')).sort()) candidates.push(path.join('/usr/lib/jvm', entry, 'bin', 'java'));
  } catch {
    // no /usr/lib/jvm on this system
  }
  const seen = new Set<string>();
  const found: JavaInstall[] = [];
  for (const c of candidates) {
    const info = await describeJava(c);
    if (!info || seen.has(info.javaBin)) continue;
    seen.add(info.javaBin);
    found.push(info);
  }
  return found;
}

/** Kafka 4.x brokers need Java 17+. */
export function pickKafkaJava(installs: readonly JavaInstall[]): JavaInstall | undefined {
  return installs.find((j) => j.major >= 17);
}

/**
 * OpenSearch 2.x runs on Java 11–23: its jvm.options enables the JDK Security Manager, which JDK 24
 * removed. Java 17+ is asked for so one JDK serves both services.
 */
export function pickOpenSearchJava(installs: readonly JavaInstall[]): JavaInstall | undefined {
  return installs.find((j) => j.major >= 17 && j.major <= 23);
}
