import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIGMA_INSTALL_COMMAND, SIGMA_RULES_DIR, sigmaToolchain } from '../../detections/index.ts';

/** `npm run sigma -- coverage <dir>` as a user runs it (the script, then the pinned Python toolchain). */
function coverage(dir: string): { summary: Record<string, unknown>; rules: Array<{ rule: string; outcome: string; missing?: string[] }> } {
  if (!sigmaToolchain()) throw new Error(`the Sigma toolchain is missing: ${SIGMA_INSTALL_COMMAND}`);
  const run = spawnSync('npm', ['run', '-s', 'sigma', '--', 'coverage', dir, '--json'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sigma coverage exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as never;
}

const rule = (logsource: string, selection: string) =>
  ['title: t', 'status: test', `logsource: ${logsource}`, 'detection:', `  selection: ${selection}`, '  condition: selection', 'level: low'].join('\n');

describe('npm run sigma -- coverage', () => {
  it('reports every shipped rule as converting with mapped fields only', () => {
    const { summary } = coverage(SIGMA_RULES_DIR);
    expect(summary.rules).toBeGreaterThanOrEqual(15);
    expect(summary.converted).toBe(summary.rules);
    expect(summary.missing_fields).toEqual({});
  });

  it('tells converted rules from unmapped fields and from logsources we do not collect, naming the missing fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigma-coverage-'));
    try {
      writeFileSync(join(dir, 'ok.yml'), rule('{ product: azure, service: signinlogs }', '{ ResultType: 50126 }'));
      writeFileSync(join(dir, 'unmapped.yml'), rule('{ product: m365, service: threat_management }', '{ Payload|contains: x, eventSource: Exchange }'));
      writeFileSync(join(dir, 'activity.yml'), rule('{ product: azure, service: activitylogs }', '{ operationName: MICROSOFT.KEYVAULT/VAULTS/WRITE }'));
      const { summary, rules } = coverage(dir);
      expect(summary).toMatchObject({ rules: 3, converted: 1, unmapped_fields: 1, not_collected_logsource: 1, errors: 0, missing_fields: { Payload: 1 } });
      expect(rules.find((r) => r.rule === 'unmapped.yml')).toMatchObject({ outcome: 'unmapped_fields', missing: ['Payload'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
