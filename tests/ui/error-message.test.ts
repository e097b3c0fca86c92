import { describe, expect, it } from 'vitest';
import { ApiError, describeError, errorMessageFromResponse } from '../../control-plane/ui/app/logic/error-message.ts';

describe('errorMessageFromResponse', () => {
  it('takes the message of the API error envelope', () => {
    const body = JSON.stringify({ error: { code: 'organization_not_found', message: 'Organization org-1 does not exist.' } });
    expect(errorMessageFromResponse(404, body)).toEqual({ code: 'organization_not_found', message: 'Organization org-1 does not exist.' });
  });

  it('names the field at fault when the API gives one', () => {
    const body = JSON.stringify({ error: { code: 'invalid_request', message: 'expected a GUID or a domain', field: 'tenant' } });
    expect(errorMessageFromResponse(400, body).message).toBe('expected a GUID or a domain (field: tenant)');
  });

  it('never shows raw JSON: a JSON-looking message falls back to words for the status', () => {
    const body = JSON.stringify({ error: { code: 'x', message: '{"nested":"json"}' } });
    const { message } = errorMessageFromResponse(500, body);
    expect(message).not.toMatch(/[{}]/);
    expect(message).toMatch(/internal error/);
  });

  it('turns an HTML proxy page or garbage into words for the status', () => {
    expect(errorMessageFromResponse(502, '<html><body>Bad gateway</body></html>').message).toMatch(/unreachable/);
    expect(errorMessageFromResponse(418, '').message).toBe('The request failed (HTTP 418).');
    expect(errorMessageFromResponse(403, '{"unexpected":true}').message).toMatch(/admin token/);
  });

  it('keeps a short plain-text body', () => {
    expect(errorMessageFromResponse(503, 'Service starting').message).toBe('Service starting');
  });
});

describe('describeError', () => {
  it('uses the ApiError message and explains network failures', () => {
    expect(describeError(new ApiError(401, 'unauthorized', 'Token refused.'))).toBe('Token refused.');
    expect(describeError(new TypeError('Failed to fetch'))).toMatch(/could not be reached/);
    expect(describeError('weird')).toBe('Something went wrong.');
  });
});
