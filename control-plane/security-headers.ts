/**
 * Response headers of every control-plane answer, set with helmet (docs/security.md § Headers, decision 0112).
 *
 * - Everything (API JSON, /metrics, errors): a CSP that allows nothing and no framing, `nosniff`, no referrer.
 * - API JSON: additionally `Cache-Control: no-store` (answers carry tenant ids, consent URLs and history).
 * - The consent callback page: a CSP whose only script and style are the page's own, marked with a nonce made for
 *   this one response, so an injected script cannot run even if an escaping bug let one through.
 * - The operator UI sets its own CSP (control-plane/ui/index.ts: same-origin scripts, no inline code).
 *
 * Cross-Origin-Opener-Policy stays off on purpose: the consent pop-up posts its outcome to `window.opener`, and
 * COOP would sever the opener when the pop-up comes back from Microsoft's origin.
 */
import { randomBytes } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import helmet from 'helmet';

const NONE = ["'none'"];

const common = (https: boolean) => ({
  crossOriginOpenerPolicy: false as const,
  crossOriginEmbedderPolicy: false as const,
  referrerPolicy: { policy: 'no-referrer' as const },
  // For browsers without CSP frame-ancestors; helmet's default is SAMEORIGIN, nothing of ours is ever framed.
  xFrameOptions: { action: 'deny' as const },
  // HSTS only means something over TLS; the publicUrl says whether users reach us that way.
  strictTransportSecurity: https ? { maxAge: 15_552_000, includeSubDomains: false } : (false as const),
});

/** Baseline for every response: a CSP that allows nothing (JSON and text need none), nosniff, DENY framing. */
export function baselineHeaders(options: { https: boolean }): RequestHandler {
  return helmet({
    ...common(options.https),
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: NONE, baseUri: NONE, formAction: NONE, frameAncestors: NONE },
    },
  });
}

/** For /api/v1 answers: nothing a browser or proxy keeps. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/** The nonce of this response's consent page (set by consentPageHeaders). */
export function cspNonce(res: Response): string {
  const nonce = (res.locals as { cspNonce?: unknown }).cspNonce;
  if (typeof nonce !== 'string') throw new Error('consentPageHeaders must run before the consent page is rendered');
  return nonce;
}

/** For the consent callback page: a fresh nonce per response; only the page's own inline script and style run. */
export function consentPageHeaders(options: { https: boolean }): RequestHandler {
  const nonceSource = (_req: unknown, res: unknown) => `'nonce-${cspNonce(res as Response)}'`;
  const headers = helmet({
    ...common(options.https),
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: NONE,
        scriptSrc: [nonceSource],
        styleSrc: [nonceSource],
        imgSrc: NONE,
        connectSrc: NONE,
        baseUri: NONE,
        formAction: NONE,
        frameAncestors: NONE,
        objectSrc: NONE,
      },
    },
  });
  return (req, res, next) => {
    (res.locals as { cspNonce?: string }).cspNonce = randomBytes(18).toString('base64');
    res.setHeader('Cache-Control', 'no-store');
    headers(req, res, next);
  };
}
