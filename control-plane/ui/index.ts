/**
 * The operator web UI, served by the control plane at `/` (issue 9): `index.html` for every page path (the app
 * routes with the history API), `/ui/app.js` and `/ui/app.css`. Nothing is fetched from the internet: the bundle
 * is control-plane/ui/dist/app.js when built ahead (`npx tsx control-plane/ui/build.ts`), otherwise esbuild builds
 * it in memory once per process, at the first request for it (about a second on a busy machine).
 *
 * Mount it LAST, after the API, the OAuth callback, health and metrics: `app.use(uiRouter())`. It never answers
 * paths under /api/ or /oauth/ or the ops endpoints, even when mounted earlier.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import type { Request, Response, NextFunction } from 'express';
import { DIST_DIR, STATIC_DIR, bundleApp } from './bundle.ts';

export { consentCallbackScript, consentCallbackScriptTag } from './consent-callback-script.ts';
export type { ConsentCallbackOutcome } from './consent-callback-script.ts';

export interface UiRouterOptions {
  /** Use this bundle instead of dist/ or building (tests). */
  bundle?: () => Promise<string>;
  /** Path prefixes the SPA fallback must leave alone (404 from whoever owns them). */
  reservedPrefixes?: string[];
}

const DEFAULT_RESERVED = ['/api/', '/api', '/oauth/', '/healthz', '/readyz', '/metrics', '/livez'];

/** Security headers for the UI's own responses: no inline script, no third-party origin, no framing. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/** One bundle per process, built at the first request for it (many apps built in tests share it). */
let sharedBundle: Promise<string> | undefined;
function defaultBundle(): Promise<string> {
  if (!sharedBundle) {
    const prebuilt = join(DIST_DIR, 'app.js');
    const pending = existsSync(prebuilt) ? Promise.resolve(readFileSync(prebuilt, 'utf8')) : bundleApp().then((b) => b.js);
    sharedBundle = pending;
    // A failed build is retried on the next request instead of being cached forever.
    pending.catch(() => {
      if (sharedBundle === pending) sharedBundle = undefined;
    });
  }
  return sharedBundle;
}

export function uiRouter(options: UiRouterOptions = {}): express.Router {
  const router = express.Router();
  const getBundle = options.bundle ?? defaultBundle;
  const reserved = options.reservedPrefixes ?? DEFAULT_RESERVED;
  const indexHtml = readFileSync(join(STATIC_DIR, 'index.html'), 'utf8');
  const css = readFileSync(join(STATIC_DIR, 'app.css'), 'utf8');

  router.get('/ui/app.js', async (_req: Request, res: Response, next: NextFunction) => {
    try {
      const js = await getBundle();
      securityHeaders(res);
      res.type('application/javascript').setHeader('Cache-Control', 'no-cache');
      res.send(js);
    } catch (error) {
      next(error);
    }
  });
  router.get('/ui/app.css', (_req: Request, res: Response) => {
    securityHeaders(res);
    res.type('text/css').setHeader('Cache-Control', 'no-cache');
    res.send(css);
  });
  router.get('/favicon.ico', (_req: Request, res: Response) => {
    res.status(204).end();
  });

  // SPA fallback: any other GET for a page (not an asset, not an API or ops path) gets index.html.
  router.get(/.*/, (req: Request, res: Response, next: NextFunction) => {
    const path = req.path;
    if (reserved.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))) return next();
    if (path.startsWith('/ui/') || /\.[a-z0-9]{1,8}$/i.test(path)) return next();
    securityHeaders(res);
    res.type('text/html').setHeader('Cache-Control', 'no-cache');
    res.send(indexHtml);
  });
  return router;
}
