#!/usr/bin/env node
// `npm run build`: the production build in dist/ — the TypeScript compiled by tsc (imports rewritten to .js), the
// non-TypeScript files the code reads at run time (Avro schemas, the Maven POM, the UI's static files) copied beside
// it, and the operator UI bundled once so the control plane never needs esbuild at run time.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const SOURCE_DIRS = ['runtime', 'ingest', 'normalize', 'index', 'control-plane', 'schemas', 'cli', 'stack', 'simulator'];

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

// Walks the folders rather than asking git: the Docker build context has no .git.
const SKIP_DIRS = new Set(['node_modules', 'dist', '.sim-state']);
function files(dir) {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIP_DIRS.has(entry.name) ? [] : files(rel);
    return [rel];
  });
}
const sources = SOURCE_DIRS.flatMap(files);
const assets = sources.filter((f) => !f.endsWith('.ts') && !f.endsWith('.map'));
for (const file of assets) {
  mkdirSync(path.dirname(path.join(dist, file)), { recursive: true });
  cpSync(path.join(root, file), path.join(dist, file));
}

const { build } = await import('esbuild');
const ui = await build({
  entryPoints: [path.join(root, 'control-plane/ui/app/main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
});
const uiDir = path.join(dist, 'control-plane/ui/dist');
mkdirSync(uiDir, { recursive: true });
writeFileSync(path.join(uiDir, 'app.js'), ui.outputFiles[0].text);
process.stdout.write(`dist/: compiled ${sources.length - assets.length} modules, copied ${assets.length} assets, bundled the operator UI\n`);
