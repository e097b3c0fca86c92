import { describe, expect, it } from 'vitest';
import { goldenCases, goldenOutput, readExpected, writeExpected } from './golden.ts';

// UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing it.
const update = process.env.UPDATE_GOLDEN === '1';

describe('golden corpus', () => {
  const cases = goldenCases();

  it('has cases for every source', () => {
    const dirs = new Set(cases.map((c) => c.name.split('/')[0]));
    for (const d of [
      'entra',
      'exchange',
      'sharepoint',
      'general',
      'dlp',
      'graph-sign-ins',
      'graph-directory-audits',
      'graph-risky-users',
      'graph-risk-detections',
      'graph-registration-details',
    ]) {
      expect(dirs.has(d), d).toBe(true);
    }
  });

  for (const c of cases) {
    it(c.name, () => {
      const actual = goldenOutput(c.input);
      if (update) writeExpected(c, actual);
      const expected = readExpected(c);
      expect(expected, `missing ${c.expectedPath} (run with UPDATE_GOLDEN=1)`).toBeDefined();
      expect(actual).toEqual(expected);
    });
  }
});
