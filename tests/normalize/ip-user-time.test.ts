import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { derivedEventId } from '../../normalize/mappings/graph-common.ts';
import { isPlainIpv4, parseAddress } from '../../normalize/ip.ts';
import { isGuid, parseIdentity } from '../../normalize/user.ts';
import { daysFromCivil, toMicros } from '../../normalize/time.ts';

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

describe('hand-written checks agree with the library ones they stand in for (decision 0205)', () => {
  it('isGuid accepts exactly what /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i accepts', () => {
    const reference = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const alphabet = '0123456789abcdefABCDEFgG-@ zé`{/:';
    const base = '8a1e3b4c-5d6f-4a7b-8c9d-0e1f2a3b4c5d';
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const chars = base.split('');
      for (let k = 0; k < 1 + (n % 3); k++) chars[(n * 7 + k * 13) % 36] = alphabet[(n * 31 + k * 17) % alphabet.length] as string;
      const candidate = n % 5 === 0 ? chars.join('').toUpperCase() : chars.join('');
      expect(isGuid(candidate), candidate).toBe(reference.test(candidate));
      if (reference.test(candidate)) accepted++;
    }
    expect(accepted).toBeGreaterThan(1000);
    expect(isGuid(`${base} `)).toBe(false);
    expect(isGuid(42)).toBe(false);
  });

  it('isPlainIpv4 says yes only where net.isIPv4 does, and for every address it accepts', () => {
    const parts = ['0', '1', '9', '10', '99', '100', '199', '249', '255', '256', '300', '01', '001', '', '1a', '-1'];
    let agreed = 0;
    for (const a of parts)
      for (const b of parts)
        for (const c of ['0', '255', '01', ''])
          for (const d of parts) {
            const text = `${a}.${b}.${c}.${d}`;
            expect(isPlainIpv4(text), text).toBe(isIPv4(text));
            agreed++;
          }
    for (const odd of ['1.2.3', '1.2.3.4.5', '1.2.3.4.', '.1.2.3.4', '1..2.3', '1.2.3.4 ', '１.2.3.4', '1.2.3.4:80', '::1', ''])
      expect(isPlainIpv4(odd), odd).toBe(false);
    expect(agreed).toBe(parts.length ** 3 * 4);
  });

  it('daysFromCivil matches Date.UTC from year 100 to 9999', () => {
    for (let year = 100; year <= 9999; year += 7) {
      for (let month = 1; month <= 12; month++) {
        for (const day of [1, 15, 28, 29, 30, 31]) {
          expect(daysFromCivil(year, month, day) * 86_400_000, `${year}-${month}-${day}`).toBe(Date.UTC(year, month - 1, day));
        }
      }
    }
    expect(toMicros('0099-03-01T00:00:00Z')).toBe(Date.UTC(99, 2, 1) * 1000); // Date.UTC's two-digit years, as before
    expect(toMicros('2026-12-31T23:59:60Z')).toBe(Date.UTC(2027, 0, 1) * 1000); // a leap second rolls over, as before
  });
});

describe('derivedEventId', () => {
  it('is the RFC 4122 version-5 layout of the SHA-1 of the parts, as the byte-wise construction gives it', () => {
    const byteWise = (...parts: string[]): string => {
      const h = createHash('sha1').update(parts.join('\u001f')).digest();
      h[6] = ((h[6] as number) & 0x0f) | 0x50;
      h[8] = ((h[8] as number) & 0x3f) | 0x80;
      const hex = h.subarray(0, 16).toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
    };
    const variants = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const parts = ['graph:riskyUsers', `user-${i}`, `2026-11-${(i % 28) + 1}T08:00:00Z`, i % 3 === 0 ? 'atRisk' : 'remediated', 'é😀'];
      const id = derivedEventId(...parts);
      expect(id).toBe(byteWise(...parts));
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      variants.add(id.charAt(19));
    }
    expect(variants.size).toBe(4);
  });
});
