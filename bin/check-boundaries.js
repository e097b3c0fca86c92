#!/usr/bin/env node
// Import-boundary check: services depend on the shared runtime (and schemas), never on each other; only the
// runtime's kafka module touches kafkajs. Exits 1 listing every violation. Usage: check-boundaries.js [rootDir]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const root = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..'));

/** Folder → folders its files may import (besides themselves and packages). */
const RULES = {
  runtime: [],
  schemas: ['runtime'],
  simulator: ['runtime'],
  'control-plane': ['runtime', 'schemas'],
  ingest: ['runtime', 'schemas'],
  normalize: ['runtime', 'schemas'],
  index: ['runtime', 'schemas'],
  stack: ['runtime'],
  detections: ['runtime'],
};
const KAFKA_CLIENT_OWNER = 'runtime/kafka.ts';
const KAFKA_PACKAGES = ['kafkajs'];

function* sourceFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) yield path;
  }
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

const violations = [];
for (const folder of Object.keys(RULES)) {
  for (const file of sourceFiles(join(root, folder))) {
    const rel = relative(root, file).split(sep).join('/');
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? match[3];
      if (!spec) continue;
      if (spec.startsWith('.')) {
        const target = relative(root, resolve(dirname(file), spec))
          .split(sep)
          .join('/');
        const targetTop = target.split('/')[0];
        if (targetTop === folder) continue;
        if (!RULES[folder].includes(targetTop)) {
          violations.push(`${rel}: imports ${spec} (${targetTop}/), but ${folder}/ may import only ${[folder, ...RULES[folder]].join(', ')}`);
        }
      } else if (KAFKA_PACKAGES.includes(spec.split('/')[0]) && rel !== KAFKA_CLIENT_OWNER) {
        violations.push(`${rel}: imports ${spec}; only ${KAFKA_CLIENT_OWNER} may use the Kafka client`);
      }
    }
  }
}

if (violations.length > 0) {
  console.error(`import boundaries violated (${violations.length}):\n  ${violations.join('\n  ')}`);
  process.exit(1);
}
console.log('import boundaries ok');
