import { describe, expect, it } from 'vitest';
import {
  classifyTokenError,
  isSameOrigin,
  missingRegistrationMessage,
  parseCloudProfiles,
  parseMicrosoftApp,
  parseMicrosoftRegistrations,
} from '../../runtime/index.ts';

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
    [700027, 'certificate_invalid'],
    [700024, 'certificate_invalid'],
    [7000112, 'application_disabled'],
    [53003, 'conditional_access'],
    [90038, 'wrong_cloud'],
    [900432, 'wrong_cloud'],
    [650052, 'service_not_subscribed'],
  ] as const)('AADSTS%s → %s', (code, reason) => {
    const e = classifyTokenError(msal(code));
    expect(e.reason).toBe(reason);
    expect(e.retriable).toBe(false);
    expect(e.aadsts).toBe(code);
  });

  it('reports an AADSTS code nobody classified as internal_error with an error id, never as Microsoft unavailable', () => {
    const e = classifyTokenError(msal(1234567), () => 'err-42');
    expect(e.reason).toBe('internal_error');
    expect(e.errorId).toBe('err-42');
    expect(e.message).toContain('err-42');
    expect(classifyTokenError(new Error('something odd'), () => 'err-43').reason).toBe('internal_error');
  });

  it('treats network failures as retriable service trouble', () => {
    const e = classifyTokenError(new Error('ECONNRESET'));
    expect(e.reason).toBe('microsoft_unavailable');
    expect(e.retriable).toBe(true);
  });
});

describe('microsoft app settings', () => {
  const ID = '11111111-1111-1111-1111-111111111111';
  const GOV = '22222222-2222-2222-2222-222222222222';
  it('reads one registration per cloud: GCC falls back to commercial, DoD to GCC High', () => {
    expect(parseMicrosoftRegistrations({ M365_CLIENT_ID: ID, M365_CLIENT_SECRET: 'x' })).toMatchObject({ commercial: { clientId: ID }, gcc: { clientId: ID } });
    const both = parseMicrosoftRegistrations({ M365_CLIENT_ID: ID, M365_CLIENT_SECRET: 'x', M365_GCC_HIGH_CLIENT_ID: GOV, M365_GCC_HIGH_CLIENT_SECRET: 'y' });
    expect(both['gcc-high']?.clientId).toBe(GOV);
    expect(both.dod?.clientId).toBe(GOV);
    expect(parseMicrosoftRegistrations({ M365_CLIENT_ID: ID, M365_CLIENT_SECRET: 'x' })['gcc-high']).toBeUndefined();
    expect(() => parseMicrosoftRegistrations({ M365_GCC_HIGH_CLIENT_ID: GOV })).toThrow(/M365_GCC_HIGH_CLIENT_SECRET/);
    expect(missingRegistrationMessage('gcc-high')).toContain('M365_GCC_HIGH_CLIENT_ID');
    expect(missingRegistrationMessage('dod')).toContain('M365_DOD_CLIENT_ID');
  });

  it('is absent without a client id and requires a credential with one', () => {
    expect(parseMicrosoftApp({})).toBeNull();
    expect(() => parseMicrosoftApp({ M365_CLIENT_ID: '11111111-1111-1111-1111-111111111111' })).toThrow(/M365_CLIENT_SECRET/);
    expect(() => parseMicrosoftApp({ M365_CLIENT_ID: 'nope', M365_CLIENT_SECRET: 'x' })).toThrow(/M365_CLIENT_ID/);
    const app = parseMicrosoftApp({ M365_CLIENT_ID: '11111111-1111-1111-1111-111111111111', M365_CLIENT_SECRET: 'x' });
    expect(app?.kind).toBe('secret');
  });
});
