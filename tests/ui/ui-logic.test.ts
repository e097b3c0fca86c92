import { describe, expect, it } from 'vitest';
import { parseConsentMessage } from '../../control-plane/ui/app/logic/consent-message.ts';
import { DEFAULT_FILTERS, eventsQueryString, validateFilters } from '../../control-plane/ui/app/logic/events-filter.ts';
import { formatTime } from '../../control-plane/ui/app/logic/format.ts';
import { parseRoute, routePath } from '../../control-plane/ui/app/logic/routes.ts';
import { parseTenantInput } from '../../control-plane/ui/app/logic/tenant-input.ts';

describe('routes', () => {
  it('parses and prints the UI paths', () => {
    expect(parseRoute('/')).toEqual({ view: 'organizations' });
    expect(parseRoute('/organizations')).toEqual({ view: 'organizations' });
    expect(parseRoute('/organizations/org%201')).toEqual({ view: 'organization', orgId: 'org 1', tab: 'applications' });
    expect(parseRoute('/organizations/a/analysis')).toEqual({ view: 'organization', orgId: 'a', tab: 'analysis' });
    expect(parseRoute('/organizations/a/nope')).toEqual({ view: 'not-found', path: '/organizations/a/nope' });
    expect(routePath({ view: 'organization', orgId: 'a/b', tab: 'history' })).toBe('/organizations/a%2Fb/history');
  });
});

describe('events filters', () => {
  it('sends only the filters that are set, times as UTC instants', () => {
    const q = new URLSearchParams(eventsQueryString({ ...DEFAULT_FILTERS, dataset: 'azure.signinlogs', user: ' alice ', from: '2026-11-26T07:00:00Z' }));
    expect(q.get('dataset')).toBe('azure.signinlogs');
    expect(q.get('user')).toBe('alice');
    expect(q.get('from')).toBe('2026-11-26T07:00:00.000Z');
    expect(q.has('action')).toBe(false);
    expect(q.get('size')).toBe('50');
  });

  it('complains in words about impossible times', () => {
    expect(validateFilters({ ...DEFAULT_FILTERS, from: 'yesterday-ish' })).toMatch(/From/);
    expect(validateFilters({ ...DEFAULT_FILTERS, from: '2026-11-26T08:00:00Z', to: '2026-11-26T07:00:00Z' })).toMatch(/after/);
    expect(validateFilters(DEFAULT_FILTERS)).toBeNull();
  });
});

describe('tenant input', () => {
  it('accepts empty, a GUID or a domain and refuses anything else with a sentence', () => {
    expect(parseTenantInput('  ')).toEqual({ tenant: undefined });
    expect(parseTenantInput('0B5C8F7A-1111-2222-3333-444455556666')).toEqual({ tenant: '0b5c8f7a-1111-2222-3333-444455556666' });
    expect(parseTenantInput('Contoso.onmicrosoft.com')).toEqual({ tenant: 'contoso.onmicrosoft.com' });
    expect(parseTenantInput('not a tenant')).toHaveProperty('error');
    expect(parseTenantInput('https://contoso.com')).toHaveProperty('error');
  });
});

describe('consent message', () => {
  it('accepts only our message shape', () => {
    expect(parseConsentMessage({ type: 'm365-consent', ok: true, orgId: 'o1' })).toEqual({ type: 'm365-consent', ok: true, orgId: 'o1', message: null });
    expect(parseConsentMessage({ type: 'm365-consent', ok: 'yes' })).toBeNull();
    expect(parseConsentMessage({ type: 'other', ok: true })).toBeNull();
    expect(parseConsentMessage('m365-consent')).toBeNull();
  });
});

describe('formatTime', () => {
  it('gives a relative and an absolute UTC time', () => {
    const now = Date.parse('2026-11-26T07:10:00Z');
    expect(formatTime('2026-11-26T07:05:00Z', now)).toBe('5 min ago (2026-11-26 07:05:00 UTC)');
    expect(formatTime(null, now)).toBe('—');
    expect(formatTime('garbage', now)).toBe('garbage');
  });
});
