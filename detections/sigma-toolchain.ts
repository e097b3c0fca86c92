/**
 * The Sigma toolchain (pySigma, sigma-cli, the OpenSearch backend) in the project's own virtual environment
 * `.venv-sigma/`, pinned by detections/sigma/requirements.txt. `npm test` installs it in its pretest step when it is
 * missing or its pins changed; `npm run sigma -- setup` does the same by hand; `npm run sigma -- coverage <dir>`
 * reports how much of a directory of Sigma rules the shipped pipeline can answer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SIGMA_PIPELINE_PATH = join(REPO_ROOT, 'detections', 'sigma', 'm365-siem.yml');
export const SIGMA_RULES_DIR = join(REPO_ROOT, 'detections', 'rules');
export const SIGMA_REQUIREMENTS_PATH = join(REPO_ROOT, 'detections', 'sigma', 'requirements.txt');
const COVERAGE_SCRIPT = join(REPO_ROOT, 'detections', 'sigma', 'coverage.py');
const VENV_DIR = join(REPO_ROOT, '.venv-sigma');
/** Written after a successful install: the requirements it installed, so changed pins trigger a reinstall. */
const INSTALLED_MARKER = join(VENV_DIR, 'm365-siem-requirements.txt');

/** The one command that installs the toolchain (printed when it is missing). */
export const SIGMA_INSTALL_COMMAND =
  'npm run sigma -- setup   # = python3 -m venv .venv-sigma && .venv-sigma/bin/pip install -r detections/sigma/requirements.txt';

export interface SigmaToolchain {
  readonly python: string;
  readonly sigmaCli: string;
}

/** The installed toolchain, or null when it is missing or installed from other pins than the current file. */
export function sigmaToolchain(): SigmaToolchain | null {
  const python = join(VENV_DIR, 'bin', 'python');
  const sigmaCli = join(VENV_DIR, 'bin', 'sigma');
  if (!existsSync(python) || !existsSync(sigmaCli) || !existsSync(INSTALLED_MARKER)) return null;
  if (readFileSync(INSTALLED_MARKER, 'utf8') !== readFileSync(SIGMA_REQUIREMENTS_PATH, 'utf8')) return null;
  return { python, sigmaCli };
}

/**
 * Creates the virtual environment and installs the pinned packages from PyPI. Returns the toolchain, or the reason it
 * could not (no python3, no venv module, pip failure) with the output that says why.
 */
export function installSigmaToolchain(log: (line: string) => void = () => undefined): { ok: true; toolchain: SigmaToolchain } | { ok: false; reason: string } {
  const requirements = readFileSync(SIGMA_REQUIREMENTS_PATH, 'utf8');
  const steps: Array<[string, string[]]> = [
    ['python3', ['-m', 'venv', VENV_DIR]],
    [join(VENV_DIR, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', SIGMA_REQUIREMENTS_PATH]],
  ];
  for (const [command, args] of steps) {
    log(`${command} ${args.join(' ')}`);
    const run = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.error || run.status !== 0) {
      const detail = run.error ? run.error.message : `${run.stderr}${run.stdout}`.trim().split('\n').slice(-5).join('\n');
      return { ok: false, reason: `${command} ${args.join(' ')} failed: ${detail} (on Debian, python3 -m venv needs the python3-venv package)` };
    }
  }
  writeFileSync(INSTALLED_MARKER, requirements);
  const toolchain = sigmaToolchain();
  return toolchain ? { ok: true, toolchain } : { ok: false, reason: 'the virtual environment has no sigma command after pip install' };
}

/** Runs the coverage report over a directory of Sigma rules; returns its exit code. */
export function runSigmaCoverage(toolchain: SigmaToolchain, rulesDir: string, options: { json?: boolean; pipeline?: string } = {}): number {
  const args = [COVERAGE_SCRIPT, rulesDir, '--pipeline', options.pipeline ?? SIGMA_PIPELINE_PATH, ...(options.json ? ['--json'] : [])];
  const run = spawnSync(toolchain.python, args, { stdio: 'inherit' });
  return run.status ?? 1;
}

function requireToolchain(): SigmaToolchain {
  const toolchain = sigmaToolchain();
  if (toolchain) return toolchain;
  process.stderr.write(`The Sigma toolchain is not installed (or its pins changed). Install it with:\n  ${SIGMA_INSTALL_COMMAND}\n`);
  process.exit(2);
}

/** `setup` and `coverage <rules dir>`, under a `sigma` command or (asRoot) directly on the program. */
export function registerSigmaCommands(program: Command, options: { asRoot?: boolean } = {}): void {
  const sigma = options.asRoot
    ? program
    : program.command('sigma').description('Sigma detections: the shipped pySigma pipeline and its toolchain (docs/detections.md)');
  sigma
    .command('setup')
    .description('install pySigma, sigma-cli and the OpenSearch backend (pinned) into .venv-sigma/')
    .action(() => {
      const result = installSigmaToolchain((line) => process.stderr.write(`[sigma setup] ${line}\n`));
      if (!result.ok) {
        process.stderr.write(`${result.reason}\n`);
        process.exit(1);
      }
      process.stdout.write(`sigma-cli: ${result.toolchain.sigmaCli}\npipeline: ${SIGMA_PIPELINE_PATH}\n`);
    });
  sigma
    .command('coverage')
    .description('for a directory of Sigma rules: how many convert with the shipped pipeline, how many use only mapped fields, which fields are missing')
    .argument('<rules-dir>', 'directory of Sigma rules (searched recursively for *.yml)')
    .option('--json', 'print the per-rule result as JSON')
    .option('--pipeline <file>', 'another pipeline file', SIGMA_PIPELINE_PATH)
    .action((rulesDir: string, opts: { json?: boolean; pipeline: string }) => {
      process.exitCode = runSigmaCoverage(requireToolchain(), resolve(rulesDir), { json: opts.json, pipeline: resolve(opts.pipeline) });
    });
}
