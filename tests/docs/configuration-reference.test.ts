import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigurationReference } from '../../cli/config-reference.ts';

const root = path.resolve(import.meta.dirname, '../..');
const SOURCE_DIRS = ['runtime', 'ingest', 'normalize', 'index', 'control-plane', 'simulator', 'stack', 'cli', 'schemas'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Every environment variable named literally in a `setting('NAME', …)` call of the product's source. */
function settingNamesInSource(): string[] {
  const names = new Set<string>();
  for (const file of SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(root, d)))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bsetting\(\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1] as string);
  }
  return [...names].sort();
}

describe('docs/configuration.md', () => {
  const reference = renderConfigurationReference();

  it('is what `npm run docs:generate` writes from the settings specs (run it after changing a setting)', () => {
    expect(readFileSync(path.join(root, 'docs/configuration.md'), 'utf8')).toBe(reference);
  });

  it('lists every setting the source declares, each once', () => {
    const names = settingNamesInSource();
    expect(names.length).toBeGreaterThan(50);
    const documented = [...reference.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]);
    expect(new Set(documented).size).toBe(documented.length);
    expect(names.filter((n) => !documented.includes(n))).toEqual([]);
  });

  it('shows defaults as an operator writes them and marks required settings', () => {
    expect(reference).toContain('| `KAFKA_BROKERS` | `127.0.0.1:9092` |');
    expect(reference).toContain('| `INGEST_PUBLISHER_IDENTIFIER` | `required` |');
    expect(reference).toContain('| `M365_GCC_HIGH_GRAPH_HOST` | — |');
  });
});
