import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  PermanentError,
  RetriableError,
  TokenError,
  isKafkaClientError,
  isSameOrigin,
  parseRetryAfter,
  scrubSecrets,
  sleep,
  type ApiResource,
  type Cloud,
  type Logger,
  type StatusReason,
} from '../runtime/index.ts';
import { licenceRefusalOf } from './licence-refusals.ts';
import type { IngestMetrics } from './metrics.ts';
import type { BudgetKind, RateBudgets, Semaphore } from './rate-budget.ts';

/**
 * The one way ingest talks to Microsoft: bearer token, timeouts, budgets, origin checks, and every failure
 * classified into a retriable or permanent error carrying a status reason (STYLE.md practice 3).
 */

/** Failure details every classified error carries. */
export interface ApiFailure {
  reason: StatusReason;
  /** Microsoft's code (AF20022, Authentication_…, AADSTS…) or ours (timeout, foreign_host, …). */
  code: string;
  httpStatus: number | null;
  retriable: boolean;
  retryAfterMs?: number;
  message: string;
  /** For internal_error: the id under which the whole error is logged (the status shows it). */
  errorId?: string;
}

export class ApiRetriableError extends RetriableError {
  constructor(readonly failure: ApiFailure) {
    super(failure.message, failure.code, failure.retryAfterMs);
  }
}

export class ApiPermanentError extends PermanentError {
  constructor(readonly failure: ApiFailure) {
    super(failure.message, failure.code);
  }
}

export function apiError(failure: ApiFailure): ApiRetriableError | ApiPermanentError {
  return failure.retriable ? new ApiRetriableError(failure) : new ApiPermanentError(failure);
}

/**
 * Normalizes any error (classified API error, token error, Kafka or programming error) into a failure. Only what
 * Microsoft answered (or failed to answer) is `microsoft_unavailable`; Kafka's failures are `kafka_unavailable`, a
 * malformed token is `malformed_response`, and an error nobody classified — a bug included — is `internal_error`
 * with an id the log carries (docs/error-codes.md).
 */
export function failureOf(error: unknown, errorId: () => string = randomUUID): ApiFailure {
  if (error instanceof ApiRetriableError || error instanceof ApiPermanentError) return error.failure;
  if (error instanceof TokenError) {
    return {
      reason: error.reason,
      code: error.aadsts ? `AADSTS${error.aadsts}` : 'token_error',
      httpStatus: null,
      retriable: error.retriable,
      message: scrubSecrets(error.message),
    };
  }
  const message = scrubSecrets(error instanceof Error ? error.message : String(error));
  if (error instanceof RetriableError || error instanceof PermanentError) {
    const reason = OWN_FAILURE_REASONS[error.code] ?? (isKafkaClientError(error) ? 'kafka_unavailable' : undefined);
    if (reason !== undefined) {
      const retryAfter = error instanceof RetriableError && error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {};
      return { reason, code: error.code, httpStatus: null, retriable: error.retriable, message, ...retryAfter };
    }
  } else if (isKafkaClientError(error)) {
    return { reason: 'kafka_unavailable', code: 'kafka_unavailable', httpStatus: null, retriable: true, message };
  }
  const id = errorId();
  const retriable = error instanceof RetriableError || error instanceof PermanentError ? error.retriable : true;
  return { reason: 'internal_error', code: 'internal_error', httpStatus: null, retriable, message: `internal error ${id}: ${message}`, errorId: id };
}

/** Our own failure codes raised outside this module, each with its status reason (the rest are internal_error). */
const OWN_FAILURE_REASONS: Readonly<Record<string, StatusReason>> = Object.assign(Object.create(null) as Record<string, StatusReason>, {
  kafka_unavailable: 'kafka_unavailable',
  // The partition's raw writer is gone (revoked, shutting down): the records were not written to Kafka.
  writer_closed: 'kafka_unavailable',
  malformed_token: 'malformed_response',
});

/** Extracts `{code, message}` from Microsoft error bodies of every shape seen (Graph/Management and Entra). */
export function errorBodyOf(text: string): { code: string; message: string } {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      const e = b.error ?? b.Error;
      if (e && typeof e === 'object') {
        const o = e as Record<string, unknown>;
        return { code: String(o.code ?? o.Code ?? ''), message: String(o.message ?? o.Message ?? '') };
      }
      if (typeof e === 'string') return { code: e, message: String(b.error_description ?? '') };
      if (typeof b.code === 'string') return { code: b.code, message: String(b.message ?? '') };
    }
  } catch {
    // not JSON: fall through
  }
  return { code: '', message: text.slice(0, 300) };
}

const PERMISSION_CODES = new Set([
  'AF10001',
  'Authentication_MSGraphPermissionMissing',
  'Authorization_RequestDenied',
  'Authentication_ApplicationHasNoDirectoryReadAccess',
  'Authentication_RequestFromUnsupportedUserRole',
  'Forbidden',
  'accessDenied',
]);

/** Classifies one non-2xx Microsoft response. Pure: unit-tested against the fact sheet's error table. */
export function classifyResponse(status: number, bodyText: string, retryAfterHeader: string | null, nowMs = Date.now()): ApiFailure {
  const { code, message } = errorBodyOf(bodyText);
  const retryAfterMs = parseRetryAfter(retryAfterHeader, nowMs);
  const detail = scrubSecrets(`HTTP ${status}${code ? ` ${code}` : ''}: ${message}`.slice(0, 500));
  const f = (reason: StatusReason, retriable: boolean, c = code || `http_${status}`): ApiFailure => ({
    reason,
    code: c,
    httpStatus: status,
    retriable,
    message: detail,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
  if (status === 429 || code === 'AF429' || /^too ?many ?requests$/i.test(code) || code === 'activityLimitReached') return f('throttled', true);
  // Before permissions: a licence refusal can come under a permission-looking code (ingest/licence-refusals.ts).
  const refusal = licenceRefusalOf(status, code, message);
  if (refusal) return f('licence_missing', false, code || refusal.id);
  if (PERMISSION_CODES.has(code)) return f('permission_missing', false);
  if (code === 'AF20023') return f('subscription_disabled', false);
  if (code === 'AF20011' || code === 'AF20012' || /DataServiceException|Tenant .* does not exist/i.test(message)) return f('audit_logging_off', false);
  if (code === 'AF20010') return f('tenant_mismatch', false);
  if (code === 'AF50000' || status >= 500) return f('microsoft_unavailable', true);
  if (status === 401) return f('consent_revoked', false, code || 'InvalidAuthenticationToken');
  if (status === 403) return f('permission_missing', false);
  if (status === 408) return f('microsoft_unavailable', true);
  return f('microsoft_unavailable', false);
}

export interface TokenSource {
  acquire(tenantId: string, cloud: Cloud, resource: ApiResource, options?: { fresh?: boolean }): Promise<{ accessToken: string; expiresOn: Date | null }>;
}

export interface RequestTarget {
  tenantId: string;
  cloud: Cloud;
  resource: ApiResource;
  /** The cloud profile's base URL for this API: the only origin requests may go to. */
  base: string;
  budget: BudgetKind;
}

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

export class MicrosoftHttp {
  private readonly tokenCache = new Map<string, { token: string; expiresMs: number }>();
  private readonly tokenInFlight = new Map<string, Promise<string>>();
  private readonly fetchFn: FetchFn;
  /** Consecutive throttling answers per (budget, tenant): grows the pause when Microsoft gives no Retry-After. */
  private readonly strikes = new Map<string, number>();

  constructor(
    private readonly deps: {
      tokens: TokenSource;
      budgets: RateBudgets;
      semaphore: Semaphore;
      timeoutMs: number;
      tokenRefreshMs: number;
      metrics: IngestMetrics;
      logger: Logger;
      fetch?: FetchFn;
    },
  ) {
    this.fetchFn = deps.fetch ?? ((url, init) => fetch(url, init));
  }

  private async token(target: RequestTarget, fresh: boolean): Promise<string> {
    const key = `${target.cloud}|${target.tenantId}|${target.resource}`;
    const cached = this.tokenCache.get(key);
    if (!fresh && cached && cached.expiresMs > Date.now()) return cached.token;
    const running = this.tokenInFlight.get(key);
    if (running && !fresh) return running;
    // A token past its refresh age is replaced by a fresh one (msal's cache skipped): consent changes show up.
    const skipCache = fresh || cached !== undefined;
    const p = (async () => {
      const t = await this.deps.tokens.acquire(target.tenantId, target.cloud, target.resource, { fresh: skipCache });
      const exp = t.expiresOn ? t.expiresOn.getTime() - 5 * 60_000 : Date.now() + 50 * 60_000;
      this.tokenCache.set(key, { token: t.accessToken, expiresMs: Math.max(Math.min(exp, Date.now() + this.deps.tokenRefreshMs), Date.now() + 1_000) });
      return t.accessToken;
    })();
    this.tokenInFlight.set(key, p);
    try {
      return await p;
    } finally {
      this.tokenInFlight.delete(key);
    }
  }

  /** Forgets cached tokens of a tenant (consent changed: new roles appear only in new tokens). */
  forgetTokens(tenantId: string): void {
    for (const [key, entry] of this.tokenCache) if (key.includes(`|${tenantId}|`)) entry.expiresMs = 0;
  }

  /**
   * Sends one request and returns the parsed JSON body validated by `schema`. Throws ApiRetriableError /
   * ApiPermanentError. A 401 is retried once with a fresh token.
   */
  async json<T>(
    target: RequestTarget,
    url: string,
    schema: z.ZodType<T>,
    options: { method?: 'GET' | 'POST'; body?: unknown; signal?: AbortSignal; api: 'management' | 'graph' },
  ): Promise<JsonResponse<T>> {
    if (!isSameOrigin(url, target.base)) {
      this.deps.metrics.foreignUrls.inc({ api: options.api });
      throw new ApiPermanentError({
        reason: 'malformed_response',
        code: 'foreign_host',
        httpStatus: null,
        retriable: false,
        message: `refused to follow ${safeOrigin(url)}: not the ${options.api} host ${target.base} of this organization's cloud`,
      });
    }
    let response = await this.send(target, url, options, false);
    if (response.status === 401) {
      await response.body?.cancel().catch(() => undefined);
      response = await this.send(target, url, options, true);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      this.deps.metrics.requests.inc({ api: options.api, outcome: 'network' });
      throw new ApiRetriableError({
        reason: 'microsoft_unavailable',
        code: 'body_read_failed',
        httpStatus: response.status,
        retriable: true,
        message: scrubSecrets(String(error)),
      });
    }
    if (response.status < 200 || response.status >= 300) {
      const failure = classifyResponse(response.status, text, response.headers.get('retry-after'));
      // New roles (or a repaired consent) appear only in new tokens: the next attempt asks for one.
      if (failure.reason === 'permission_missing' || failure.reason === 'consent_revoked') {
        const cached = this.tokenCache.get(`${target.cloud}|${target.tenantId}|${target.resource}`);
        if (cached) cached.expiresMs = 0;
      }
      if (failure.reason === 'throttled') {
        this.deps.metrics.throttled.inc({ api: options.api });
        // Everyone sharing this tenant's budget waits: Retry-After when given, else a growing pause.
        const strikes = (this.strikes.get(`${target.budget}|${target.tenantId}`) ?? 0) + 1;
        this.strikes.set(`${target.budget}|${target.tenantId}`, strikes);
        const pause = failure.retryAfterMs ?? Math.min(60_000, 1_000 * 2 ** Math.min(strikes, 6));
        this.deps.budgets.penalize(target.budget, target.tenantId, Date.now() + pause);
        failure.retryAfterMs = pause;
      }
      this.deps.metrics.requests.inc({ api: options.api, outcome: failure.code.slice(0, 60) || String(response.status) });
      throw apiError(failure);
    }
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? null : JSON.parse(text);
    } catch {
      this.deps.metrics.requests.inc({ api: options.api, outcome: 'malformed' });
      throw new ApiRetriableError({
        reason: 'malformed_response',
        code: 'invalid_json',
        httpStatus: response.status,
        retriable: true,
        message: `response of ${options.api} is not JSON (${text.length} bytes)`,
      });
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      this.deps.metrics.requests.inc({ api: options.api, outcome: 'malformed' });
      throw new ApiRetriableError({
        reason: 'malformed_response',
        code: 'unexpected_shape',
        httpStatus: response.status,
        retriable: true,
        message: `response of ${options.api} has an unexpected shape: ${result.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      });
    }
    this.deps.metrics.requests.inc({ api: options.api, outcome: 'ok' });
    this.strikes.delete(`${target.budget}|${target.tenantId}`);
    return { status: response.status, headers: response.headers, body: result.data };
  }

  /**
   * A shared request slot with the budget taken in the same moment, so the budget counts when the request actually
   * goes out (not when it started to queue for a slot). Waiting for the budget never holds a slot.
   */
  private async slot(target: RequestTarget, signal: AbortSignal | undefined): Promise<{ release: () => void; answered: () => void }> {
    for (;;) {
      if (signal?.aborted) throw abortedError();
      const release = await this.deps.semaphore.acquire();
      const got = this.deps.budgets.tryAcquire(target.budget, target.tenantId);
      if ('answered' in got) return { release, answered: got.answered };
      release();
      await sleep(Math.min(got.waitMs, 60_000), signal);
    }
  }

  private async send(
    target: RequestTarget,
    url: string,
    options: { method?: 'GET' | 'POST'; body?: unknown; signal?: AbortSignal; api: string },
    freshToken: boolean,
  ): Promise<Response> {
    const token = await this.token(target, freshToken);
    const { release, answered } = await this.slot(target, options.signal);
    this.deps.metrics.httpInFlight.inc();
    try {
      const timeout = AbortSignal.timeout(this.deps.timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
      }
      return await this.fetchFn(url, { method: options.method ?? 'GET', headers, body, signal, redirect: 'manual' });
    } catch (error) {
      if (options.signal?.aborted) throw abortedError();
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      this.deps.metrics.requests.inc({ api: options.api, outcome: timedOut ? 'timeout' : 'network' });
      throw new ApiRetriableError({
        reason: 'microsoft_unavailable',
        code: timedOut ? 'timeout' : 'network_error',
        httpStatus: null,
        retriable: true,
        message: timedOut
          ? `request to ${safeOrigin(url)} timed out after ${this.deps.timeoutMs} ms`
          : scrubSecrets(`request to ${safeOrigin(url)} failed: ${causeText(error)}`),
      });
    } finally {
      // Headers in (or the request failed): Microsoft has counted it by now, if it ever will.
      answered();
      this.deps.metrics.httpInFlight.dec();
      release();
    }
  }
}

export function abortedError(): ApiRetriableError {
  return new ApiRetriableError({ reason: 'microsoft_unavailable', code: 'aborted', httpStatus: null, retriable: true, message: 'aborted' });
}

function causeText(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
