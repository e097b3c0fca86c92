#!/usr/bin/env node
// Import-boundary check: services depend on the shared runtime (and schemas), never on each other; only the Kafka
// adapter (runtime/kafka/kafkajs-adapter.ts) imports a Kafka client package, in every folder of the project (services,
// runtime, cli/, bench/, tests/, …: docs/decisions/0172); the composition roots (cli/, bench/) reach a module only through its public
// entry point (its index.ts), never its internals. Exits 1 listing every violation. Usage: check-boundaries.js [rootDir]
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
/** Folders that wire modules together: they may import runtime/ and schemas/ anywhere, other modules only at index.ts. */
const ENTRY_POINT_ONLY_CALLERS = ['cli', 'bench'];
const FREELY_IMPORTED = ['runtime', 'schemas'];
const KAFKA_CLIENT_OWNER = 'runtime/kafka/kafkajs-adapter.ts';
/** Kafka client packages: kafkajs today; the others are what would replace it, and belong in the adapter too. */
const KAFKA_PACKAGES = ['kafkajs', 'node-rdkafka', '@confluentinc/kafka-javascript', '@platformatic/kafka'];

/** The package a bare specifier names ('kafkajs/x' → 'kafkajs', '@scope/name/x' → '@scope/name'). */
const packageOf = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

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

/** Every import under folder/ ('' = the whole project): the importing file, the specifier and, for a relative one, its path and top folder. */
function* importsOf(folder) {
  for (const file of sourceFiles(join(root, folder))) {
    const rel = relative(root, file).split(sep).join('/');
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? match[3];
      if (!spec) continue;
      const target = spec.startsWith('.')
        ? relative(root, resolve(dirname(file), spec))
            .split(sep)
            .join('/')
        : null;
      yield { rel, spec, target, targetTop: target?.split('/')[0] };
    }
  }
}

const violations = [];
for (const folder of Object.keys(RULES)) {
  for (const { rel, spec, target, targetTop } of importsOf(folder)) {
    if (target !== null) {
      if (targetTop === folder) continue;
      if (!RULES[folder].includes(targetTop)) {
        violations.push(`${rel}: imports ${spec} (${targetTop}/), but ${folder}/ may import only ${[folder, ...RULES[folder]].join(', ')}`);
      }
    }
  }
}
// The Kafka client behind one module: checked in every folder, not only the services.
for (const { rel, spec, target } of importsOf('')) {
  if (target === null && KAFKA_PACKAGES.includes(packageOf(spec)) && rel !== KAFKA_CLIENT_OWNER) {
    violations.push(`${rel}: imports ${spec}; only ${KAFKA_CLIENT_OWNER} may use the Kafka client`);
  }
}
for (const folder of ENTRY_POINT_ONLY_CALLERS) {
  for (const { rel, spec, target, targetTop } of importsOf(folder)) {
    if (target === null || !(targetTop in RULES) || FREELY_IMPORTED.includes(targetTop)) continue;
    if (target !== `${targetTop}/index.ts`) {
      violations.push(`${rel}: imports ${spec}, an internal of ${targetTop}/; ${folder}/ may import ${targetTop}/ only through ${targetTop}/index.ts`);
    }
  }
}

if (violations.length > 0) {
  console.error(`import boundaries violated (${violations.length}):\n  ${violations.join('\n  ')}`);
  process.exit(1);
}
console.log('import boundaries ok');
