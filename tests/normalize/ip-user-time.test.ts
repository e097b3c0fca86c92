import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../normalize/ip.ts';
import { isGuid, parseIdentity } from '../../normalize/user.ts';
import { toMicros } from '../../normalize/time.ts';

describe('parseAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7', null],
    ['203.0.113.7:443', '203.0.113.7', 443],
    ['[2001:db8::1]:50000', '2001:db8::1', 50000],
    ['[2001:db8::1]', '2001:db8::1', null],
    ['2001:db8:abcd:12::1', '2001:db8:abcd:12::1', null],
    ['2A01:111:F400::5', '2a01:111:f400::5', null],
    ['::ffff:198.51.100.23', '198.51.100.23', null],
    ['fe80::1%eth0', 'fe80::1', null],
    ['AM0PR04MB1234 (192.0.2.10)', '192.0.2.10', null],
    ['  198.51.100.4:8080 ', '198.51.100.4', 8080],
  ])('%s → ip %s port %s', (raw, ip, port) => {
    expect(parseAddress(raw)).toEqual({ ip, port });
  });

  it.each(['', 'null', '<null>', '   '])('treats %j as absent', (raw) => {
    expect(parseAddress(raw)).toBeNull();
  });

  it('keeps unparseable text out of ip but reports it was present', () => {
    expect(parseAddress('not-an-ip')).toEqual({ ip: null, port: null });
    expect(parseAddress('300.1.1.1:80')).toEqual({ ip: null, port: null });
    expect(parseAddress('1.2.3.4:99999')).toEqual({ ip: '1.2.3.4', port: null });
  });

  it('ignores non-strings', () => {
    expect(parseAddress(null)).toBeNull();
    expect(parseAddress(42)).toBeNull();
  });
});

describe('parseIdentity', () => {
  it('lower-cases a UPN and splits it at the last @', () => {
    expect(parseIdentity('Jürgen.Müller@Contoso.DE')).toEqual({ email: 'jürgen.müller@contoso.de', name: 'jürgen.müller', domain: 'contoso.de' });
    expect(parseIdentity('ann_fabrikam.com#EXT#@contoso.onmicrosoft.com')?.name).toBe('ann_fabrikam.com#ext#');
  });
  it('treats account names as names, not emails', () => {
    expect(parseIdentity('NT AUTHORITY\\SYSTEM (w3wp)')).toEqual({ email: null, name: 'NT AUTHORITY\\SYSTEM (w3wp)', domain: null });
    expect(parseIdentity('')).toBeNull();
  });
  it('recognizes only object GUIDs as ids', () => {
    expect(isGuid('8a1e3b4c-5d6f-4a7b-8c9d-0e1f2a3b4c5d')).toBe(true);
    expect(isGuid('User_8a1e3b4c-5d6f-4a7b-8c9d-0e1f2a3b4c5d')).toBe(false);
    expect(isGuid('megan@contoso.com')).toBe(false);
    expect(isGuid('10037FFE8F3B2C41')).toBe(false);
  });
});

describe('toMicros', () => {
  it('reads zone-less CreationTime as UTC', () => {
    expect(toMicros('2026-11-20T09:58:12')).toBe(Date.UTC(2026, 10, 20, 9, 58, 12) * 1000);
  });
  it('keeps Graph 100-ns ticks to the microsecond', () => {
    expect(toMicros('2026-11-20T10:20:11.0729893Z')).toBe(Date.UTC(2026, 10, 20, 10, 20, 11) * 1000 + 72989);
  });
  it('honours offsets', () => {
    expect(toMicros('2026-11-20T12:00:00+02:00')).toBe(Date.UTC(2026, 10, 20, 10, 0, 0) * 1000);
  });
  it('rejects garbage', () => {
    expect(toMicros('yesterday')).toBeNull();
    expect(toMicros(1700000000)).toBeNull();
  });
});
