/**
 * Bundles the browser app (app/main.ts and what it imports) into one ES module with esbuild. Used at start when no
 * prebuilt control-plane/ui/dist/app.js exists, and by build.ts to write that file. esbuild is loaded lazily so a
 * deployment with a prebuilt bundle never needs it.
 */
import { fileURLToPath } from 'node:url';

export const APP_ENTRY = fileURLToPath(new URL('./app/main.ts', import.meta.url));
export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
export const DIST_DIR = fileURLToPath(new URL('./dist/', import.meta.url));

export interface UiBundle {
  js: string;
}

export async function bundleApp(options: { minify?: boolean } = {}): Promise<UiBundle> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [APP_ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: options.minify ?? true,
    sourcemap: false,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for the operator UI');
  return { js: file.text };
}
