import { describe, expect, it } from 'vitest';
import { KafkaError, PermanentError, RetriableError, TokenError } from '../../runtime/index.ts';
import { classifyResponse, errorBodyOf, failureOf } from '../../ingest/microsoft-http.ts';
import { parseRetryAfter } from '../../runtime/index.ts';
import { nextPageUri, withPublisher } from '../../ingest/management-activity-poller.ts';
import { graphDedupKey, graphQueryUrl, GRAPH_SOURCE_SPECS } from '../../ingest/graph-poller.ts';

const af = (code: string, message = 'x') => JSON.stringify({ error: { code, message } });
const graph = (code: string, message = 'x') => JSON.stringify({ error: { code, message, innerError: { date: '2021-09-02T14:32:39', 'request-id': 'r' } } });

describe('response classification (fact sheet §1.7, §2.4)', () => {
  it.each([
    [403, af('AF429', 'Too many requests. Method=GetBlob, PublisherId=…'), 'throttled', true],
    [429, graph('TooManyRequests'), 'throttled', true],
    [429, '', 'throttled', true],
    [
      403,
      graph('Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Neither tenant is B2C or tenant doesn't have premium license"),
      'licence_missing',
      false,
    ],
    [403, graph('Authentication_MSGraphPermissionMissing'), 'permission_missing', false],
    [403, graph('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'), 'permission_missing', false],
    [401, af('AF10001'), 'permission_missing', false],
    [400, af('AF20023'), 'subscription_disabled', false],
    [400, af('AF20011'), 'audit_logging_off', false],
    [
      500,
      '{"Message":"ListContent failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant x does not exist."}',
      'audit_logging_off',
      false,
    ],
    [401, af('AF20010'), 'tenant_mismatch', false],
    [500, af('AF50000'), 'microsoft_unavailable', true],
    [503, '<html>Service Unavailable</html>', 'microsoft_unavailable', true],
    [401, '{"Message":"Authorization has been denied for this request."}', 'consent_revoked', false],
    [400, af('AF20055'), 'microsoft_unavailable', false],
  ])('HTTP %i %s → %s', (status, body, reason, retriable) => {
    const f = classifyResponse(status, body, null);
    expect(f.reason).toBe(reason);
    expect(f.retriable).toBe(retriable);
  });

  it('keeps Microsoft codes and Retry-After (seconds or HTTP date)', () => {
    const f = classifyResponse(429, graph('TooManyRequests'), '7');
    expect(f.code).toBe('TooManyRequests');
    expect(f.retryAfterMs).toBe(7_000);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('reads error bodies of every shape', () => {
    expect(errorBodyOf(af('AF20022', 'No subscription'))).toEqual({ code: 'AF20022', message: 'No subscription' });
    expect(errorBodyOf('{"error":"invalid_client","error_description":"AADSTS7000215: bad"}')).toEqual({
      code: 'invalid_client',
      message: 'AADSTS7000215: bad',
    });
    expect(errorBodyOf('not json').code).toBe('');
  });

  it('turns token errors into their status reasons and scrubs secrets from messages', () => {
    const f = failureOf(new TokenError('AADSTS7000229: missing service principal', 'consent_revoked', 7000229, false));
    expect(f).toMatchObject({ reason: 'consent_revoked', code: 'AADSTS7000229', retriable: false });
    expect(failureOf(new Error('Bearer eyJabcdefghij.abc.def failed')).message).not.toContain('eyJabcdefghij');
  });

  it('never calls a bug or a Kafka failure a Microsoft outage: internal_error with an id, kafka_unavailable', () => {
    const bug = failureOf(new TypeError("Cannot read properties of undefined (reading 'value')"), () => 'err-7');
    expect(bug).toMatchObject({ reason: 'internal_error', code: 'internal_error', errorId: 'err-7', retriable: true });
    expect(bug.message).toBe("internal error err-7: Cannot read properties of undefined (reading 'value')");
    const kafka = new KafkaError('Connection timeout', 'connection', true);
    expect(failureOf(kafka)).toMatchObject({ reason: 'kafka_unavailable', retriable: true });
    expect(failureOf(new RetriableError('Kafka transaction failed: timeout', 'kafka_unavailable'))).toMatchObject({ reason: 'kafka_unavailable' });
    expect(failureOf(new PermanentError('access token is not a JWT', 'malformed_token'))).toMatchObject({ reason: 'malformed_response', retriable: false });
    expect(failureOf(new PermanentError('odd', 'no_such_code'), () => 'err-8')).toMatchObject({ reason: 'internal_error', errorId: 'err-8', retriable: false });
  });
});

describe('paging helpers', () => {
  it('read NextPageUri case-insensitively and under the NextPageUrl name, ignoring empty values', () => {
    expect(nextPageUri(new Headers({ NextPageUri: 'https://m/next' }))).toBe('https://m/next');
    expect(nextPageUri(new Headers({ nextpageuri: 'https://m/a' }))).toBe('https://m/a');
    expect(nextPageUri(new Headers({ NEXTPAGEURL: 'https://m/b' }))).toBe('https://m/b');
    expect(nextPageUri(new Headers({ NextPageUri: '  ' }))).toBeNull();
    expect(nextPageUri(new Headers())).toBeNull();
  });

  it('add PublisherIdentifier only when missing, keeping $ in content ids literal', () => {
    expect(withPublisher('https://m/api/v1.0/t/activity/feed/audit/1$2$3', 'P')).toBe('https://m/api/v1.0/t/activity/feed/audit/1$2$3?PublisherIdentifier=P');
    expect(withPublisher('https://m/x?nextPage=1&publisheridentifier=Q', 'P')).toBe('https://m/x?nextPage=1&publisheridentifier=Q');
  });

  it('ask Graph from watermark minus lag on the documented field, and version state-like ids', () => {
    const url = graphQueryUrl('https://graph.microsoft.us', GRAPH_SOURCE_SPECS['graph:signIns'], Date.parse('2024-01-13T14:13:32.5Z'));
    expect(decodeURIComponent(url)).toBe('https://graph.microsoft.us/v1.0/auditLogs/signIns?$filter=createdDateTime ge 2024-01-13T14:13:32Z');
    const spec = GRAPH_SOURCE_SPECS['graph:riskyUsers'];
    expect(graphDedupKey({ id: 'u1', riskLastUpdatedDateTime: 'a' }, spec)).not.toBe(graphDedupKey({ id: 'u1', riskLastUpdatedDateTime: 'b' }, spec));
    expect(graphDedupKey({ id: 's1', x: 1 }, GRAPH_SOURCE_SPECS['graph:signIns'])).toBe('s1');
  });
});
