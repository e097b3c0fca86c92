/**
 * Per-client-address limits on the two surfaces anyone on the network can reach without a token: the consent
 * callback (Microsoft redirects the administrator's browser there) and failed API authentications (bearer-token
 * guessing). Tokens and consent states are unguessable, so these limits are defence in depth and keep a flood from
 * reaching the state store; a legitimate operator never comes near them. One control-plane instance (decision
 * 0020), so the counters live in memory. docs/decisions/0025.
 */
import type { RequestHandler, Response } from 'express';
import { rateLimit, type Options } from 'express-rate-limit';
import { ApiError } from './auth.ts';

const WINDOW_MS = 60_000;

export interface RateLimitSettings {
  /** Consent callbacks per minute per client address (0 = no limit). */
  callbackPerMinute: number;
  /** Failed API authentications (401) per minute per client address before every API request of it gets 429 (0 = no limit). */
  authFailuresPerMinute: number;
}

const passThrough: RequestHandler = (_req, _res, next) => next();

/** A one-minute window per client address, with the standard RateLimit headers; 0 = no limiter at all. */
const perAddressPerMinute = (limit: number, options: Partial<Options>): RequestHandler =>
  limit === 0 ? passThrough : rateLimit({ windowMs: WINDOW_MS, limit, standardHeaders: 'draft-7', legacyHeaders: false, ...options });
/** Seconds until the address's window ends (express-rate-limit puts its state on the request). */
const retryAfterSeconds = (req: object): number => {
  const resetTime = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
  return Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
};

/** For the consent callback: an HTML page, like every other answer of that route. */
export function callbackRateLimit(settings: RateLimitSettings, page: (title: string, message: string, res: Response) => string): RequestHandler {
  return perAddressPerMinute(settings.callbackPerMinute, {
    handler: (req, res) => {
      const seconds = retryAfterSeconds(req);
      res
        .status(429)
        .set('Retry-After', String(seconds))
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(page('Too many requests', `Too many consent callbacks from this address. Try again in ${seconds} s.`, res));
    },
  });
}

/** For /api: counts only answers 401; past the limit the address gets 429 until its window ends. */
export function authFailureRateLimit(settings: RateLimitSettings): RequestHandler {
  return perAddressPerMinute(settings.authFailuresPerMinute, {
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    skipSuccessfulRequests: true,
    handler: (req, res, next) => {
      res.set('Retry-After', String(retryAfterSeconds(req)));
      next(new ApiError(429, 'rate_limited', 'too many failed authentications from this address; retry after the Retry-After delay'));
    },
  });
}
