import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES, type ApiErrorCode } from '../../control-plane/api-error-codes.ts';
import { renderErrorCodesReference } from '../../control-plane/error-codes-reference.ts';
import { PERMANENT_REFUSALS, STATUS_REASON_RETRIABLE } from '../../runtime/index.ts';

const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'ui' || name === 'node_modules' ? [] : sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

describe('docs/error-codes.md', () => {
  it('is what `npm run docs:generate` writes from the closed lists (run it after changing one)', () => {
    expect(readFileSync(path.join(root, 'docs/error-codes.md'), 'utf8')).toBe(renderErrorCodesReference());
  });

  it('sends every API error code with the HTTP status its table entry names', () => {
    const uses: Array<{ file: string; status: number; code: string }> = [];
    for (const file of sourceFiles(path.join(root, 'control-plane'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:new ApiError\(|sendError\(res, |res\.status\()\s*(\d{3})\s*,?\s*(?:\)[^']*?code: )?'([a-z_]+)'/g)) {
        uses.push({ file: path.relative(root, file), status: Number(m[1]), code: m[2] as string });
      }
    }
    expect(uses.length).toBeGreaterThan(30);
    for (const use of uses) {
      expect(Object.keys(API_ERROR_CODES), `${use.file}: ${use.code}`).toContain(use.code);
      expect(API_ERROR_CODES[use.code as ApiErrorCode].status, `${use.file}: ${use.code}`).toBe(use.status);
    }
  });

  it('never calls a refusal that waits for a change retriable', () => {
    for (const reason of PERMANENT_REFUSALS) expect(STATUS_REASON_RETRIABLE[reason], reason).toBe(false);
    expect(STATUS_REASON_RETRIABLE.internal_error).toBe(true);
  });
});
