/**
 * The control plane API's failures: a closed list (issue 14 item 2, decision 0195). Every error body the API sends
 * is `{ error: { code, message, field? } }` with a code from this table; `retriable` says whether the same request
 * may succeed later without a change (after the Retry-After delay where one is sent). docs/error-codes.md is
 * generated from it (`npm run docs:generate`) and checked by a test.
 */
export const API_ERROR_CODES = {
  invalid_request: { status: 400, retriable: false, meaning: 'A request field is missing or invalid; `field` names it.' },
  invalid_json: { status: 400, retriable: false, meaning: 'The request body is not valid JSON.' },
  bad_request: { status: 400, retriable: false, meaning: 'The request was refused before it reached an endpoint (e.g. by the body parser).' },
  unauthenticated: { status: 401, retriable: false, meaning: 'No bearer token, or one that is not valid.' },
  forbidden: { status: 403, retriable: false, meaning: "The token's role does not allow this action." },
  not_found: { status: 404, retriable: false, meaning: 'No such organization or endpoint (also for an organization the token may not see).' },
  conflict: { status: 409, retriable: true, meaning: 'The request collided with another one (a generated organization id already taken); retry it.' },
  already_connected: { status: 409, retriable: false, meaning: 'The organization is already connected; use repair to consent again.' },
  not_connected: { status: 409, retriable: false, meaning: 'The action needs a connected organization.' },
  disconnected: { status: 409, retriable: false, meaning: 'The organization is disconnected; reconnect it first.' },
  not_polling: { status: 409, retriable: false, meaning: 'The organization is not being polled, so nothing would re-fetch.' },
  no_pending_upgrade: { status: 409, retriable: false, meaning: 'There is no permission upgrade to approve.' },
  tenant_pinned: { status: 409, retriable: false, meaning: 'The organization is pinned to another tenant or cloud; a different one needs a new organization.' },
  tenant_in_use: { status: 409, retriable: false, meaning: 'The tenant is already connected to another organization.' },
  too_large: { status: 413, retriable: false, meaning: 'The request body is larger than 64 kB.' },
  tenant_not_found: { status: 422, retriable: false, meaning: 'Entra ID does not know the tenant named.' },
  cloud_not_configured: { status: 422, retriable: false, meaning: 'The cloud has no application registration configured.' },
  rate_limited: { status: 429, retriable: true, meaning: 'Too many failed authentications from this address; wait for Retry-After.' },
  internal_error: { status: 500, retriable: true, meaning: 'An error nobody classified; the message carries the id under which the control-plane log has it.' },
  not_implemented: { status: 501, retriable: false, meaning: 'The endpoint is not wired in this control plane (e.g. re-fetch without ingest).' },
  microsoft_unavailable: { status: 502, retriable: true, meaning: "Microsoft's sign-in service did not answer or answered with an error." },
  kafka_unavailable: { status: 503, retriable: true, meaning: 'The state store (Kafka) is unavailable; nothing was changed.' },
  opensearch_unavailable: { status: 503, retriable: true, meaning: 'OpenSearch is unavailable; the search can be retried.' },
} as const satisfies Record<string, { status: number; retriable: boolean; meaning: string }>;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;
export const API_ERROR_CODE_NAMES = Object.keys(API_ERROR_CODES) as [ApiErrorCode, ...ApiErrorCode[]];
