/**
 * Turns whatever an API call produced into one sentence an operator can read. The control plane answers errors as
 * `{"error": {"code", "message"}}`; proxies, crashes and network failures do not, and none of them may reach the
 * screen as raw JSON (issue 9, quality).
 */

export interface ApiErrorBody {
  error: { code?: string; message?: string; field?: string; details?: unknown };
}

/** Thrown by the API client for any non-2xx answer or network failure; `message` is already readable. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const STATUS_FALLBACK: Record<number, string> = {
  400: 'The request was not accepted.',
  401: 'Your operator token was not accepted. Sign in again with a valid token.',
  403: 'Your operator token may only read; this action needs an admin token.',
  404: 'Not found.',
  409: 'The request conflicts with the current state. Reload and try again.',
  413: 'The request is too large.',
  429: 'Too many requests. Wait a moment and try again.',
  500: 'The control plane hit an internal error. Try again; if it persists, check its logs.',
  502: 'The control plane is unreachable behind its proxy.',
  503: 'The control plane is not ready yet. Try again in a moment.',
  504: 'The control plane did not answer in time.',
};

function fallbackFor(status: number): string {
  return STATUS_FALLBACK[status] ?? (status >= 500 ? `The control plane answered with an error (HTTP ${status}).` : `The request failed (HTTP ${status}).`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A message must be prose: strip anything that looks like a JSON dump or HTML page and keep it short. */
function readable(text: string): string | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  if (/^[[{]/.test(trimmed) || /^<(!doctype|html)/i.test(trimmed)) return null;
  return trimmed.length > 500 ? `${trimmed.slice(0, 497)}…` : trimmed;
}

/**
 * The readable message of an error answer. `body` is the response text (possibly empty, possibly JSON, possibly
 * HTML from a proxy).
 */
export function errorMessageFromResponse(status: number, body: string): { code: string; message: string } {
  let parsed: unknown;
  try {
    parsed = body ? JSON.parse(body) : undefined;
  } catch {
    parsed = undefined;
  }
  if (isRecord(parsed) && isRecord(parsed.error)) {
    const code = typeof parsed.error.code === 'string' ? parsed.error.code : `http_${status}`;
    const raw = typeof parsed.error.message === 'string' ? readable(parsed.error.message) : null;
    const field = typeof parsed.error.field === 'string' ? parsed.error.field : null;
    const message = raw ?? fallbackFor(status);
    return { code, message: field && !message.includes(field) ? `${message} (field: ${field})` : message };
  }
  if (isRecord(parsed) && typeof parsed.message === 'string') {
    return { code: `http_${status}`, message: readable(parsed.message) ?? fallbackFor(status) };
  }
  if (parsed === undefined && body) {
    const text = readable(body);
    if (text && text.length <= 200 && !/[<>{}]/.test(text)) return { code: `http_${status}`, message: text };
  }
  return { code: `http_${status}`, message: fallbackFor(status) };
}

/** The readable message of anything thrown (ApiError, fetch's TypeError, a bug). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError && /fetch|network|load failed/i.test(error.message)) {
    return 'The control plane could not be reached. Check that it is running and that your network allows it.';
  }
  if (error instanceof Error) return readable(error.message) ?? 'Something went wrong.';
  return 'Something went wrong.';
}
