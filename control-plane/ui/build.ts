/**
 * Writes the operator UI bundle to control-plane/ui/dist/app.js (optional: without it the control plane bundles
 * at start). Run: `npx tsx control-plane/ui/build.ts`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DIST_DIR, bundleApp } from './bundle.ts';

const { js } = await bundleApp({ minify: true });
await mkdir(DIST_DIR, { recursive: true });
await writeFile(join(DIST_DIR, 'app.js'), js);
process.stdout.write(`wrote ${join(DIST_DIR, 'app.js')} (${js.length} bytes)\n`);
