import { describe, expect, it } from 'vitest';
import { classifyTokenError, isSameOrigin, parseCloudProfiles, parseMicrosoftApp } from '../../runtime/index.ts';

describe('cloud profiles', () => {
  it('has the documented hosts and resources per cloud', () => {
    const p = parseCloudProfiles({});
    expect(p.commercial.managementHost).toBe('https://manage.office.com');
    expect(p.gcc.managementHost).toBe('https://manage-gcc.office.com');
    expect(p['gcc-high'].authorityHost).toBe('https://login.microsoftonline.us');
    expect(p['gcc-high'].graphHost).toBe('https://graph.microsoft.us');
    expect(p.dod.managementHost).toBe('https://manage.protection.apps.mil');
    expect(p.dod.graphHost).toBe('https://dod-graph.microsoft.us');
  });

  it('overrides every host with M365_ALL_HOSTS and lets per-host settings win, keeping token resources', () => {
    const p = parseCloudProfiles({ M365_ALL_HOSTS: 'https://localhost:8443/', M365_DOD_GRAPH_HOST: 'https://localhost:9443' });
    expect(p.gcc.managementHost).toBe('https://localhost:8443');
    expect(p.commercial.authorityHost).toBe('https://localhost:8443');
    expect(p.dod.graphHost).toBe('https://localhost:9443');
    expect(p.dod.graphResource).toBe('https://dod-graph.microsoft.us');
  });

  it('refuses http hosts naming the setting', () => {
    expect(() => parseCloudProfiles({ M365_GCC_MANAGEMENT_HOST: 'http://localhost:1' })).toThrow(/M365_GCC_MANAGEMENT_HOST/);
  });

  it('follows only same-origin URLs', () => {
    expect(isSameOrigin('https://manage.office.com/api/v1.0/x?y', 'https://manage.office.com')).toBe(true);
    expect(isSameOrigin('https://manage.office.com.evil.example/x', 'https://manage.office.com')).toBe(false);
    expect(isSameOrigin('https://localhost:8444/x', 'https://localhost:8443')).toBe(false);
    expect(isSameOrigin('not a url', 'https://manage.office.com')).toBe(false);
  });
});

describe('token error classification', () => {
  const msal = (code: number, error = 'invalid_client') => ({
    errorCode: error,
    errorMessage: `Error(s): ${code} - Timestamp: x - Description: AADSTS${code}: something happened. - Correlation ID: y`,
  });
  it.each([
    [700016, 'consent_revoked'],
    [7000229, 'consent_revoked'],
    [7000215, 'secret_invalid'],
    [7000222, 'secret_expired'],
    [90002, 'tenant_not_found'],
  ] as const)('AADSTS%s → %s', (code, reason) => {
    const e = classifyTokenError(msal(code));
    expect(e.reason).toBe(reason);
    expect(e.retriable).toBe(false);
    expect(e.aadsts).toBe(code);
  });

  it('treats unknown failures as retriable service trouble', () => {
    const e = classifyTokenError(new Error('ECONNRESET'));
    expect(e.reason).toBe('microsoft_unavailable');
    expect(e.retriable).toBe(true);
  });
});

describe('microsoft app settings', () => {
  it('is absent without a client id and requires a credential with one', () => {
    expect(parseMicrosoftApp({})).toBeNull();
    expect(() => parseMicrosoftApp({ M365_CLIENT_ID: '11111111-1111-1111-1111-111111111111' })).toThrow(/M365_CLIENT_SECRET/);
    expect(() => parseMicrosoftApp({ M365_CLIENT_ID: 'nope', M365_CLIENT_SECRET: 'x' })).toThrow(/M365_CLIENT_ID/);
    const app = parseMicrosoftApp({ M365_CLIENT_ID: '11111111-1111-1111-1111-111111111111', M365_CLIENT_SECRET: 'x' });
    expect(app?.kind).toBe('secret');
  });
});
