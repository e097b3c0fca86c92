import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/m365-siem.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  input?: string;
  /** SIGINT the command once its stdout satisfies this (for commands that run until stopped, like `tail`). */
  untilStdout?: (stdout: string) => boolean;
  timeoutMs?: number;
}

/**
 * Runs the real `m365-siem` binary. `env` is added to the test process's environment; a variable set to
 * undefined is removed (e.g. KAFKA_BROKERS, to see what the command does without it).
 */
export function runCli(args: readonly string[], env: Record<string, string | undefined> = {}, options: RunCliOptions = {}): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timeout; stdout=${stdout.slice(0, 500)} stderr=${stderr.slice(0, 2000)}`));
    }, options.timeoutMs ?? 40_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (options.untilStdout?.(stdout)) child.kill('SIGINT');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}
