import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/index.ts';
import { RecentKeys } from '../../normalize/dedup.ts';
import { parseNormalizeConfig } from '../../normalize/config.ts';
import { registerSiemEventSchema } from '../../normalize/schema-registration.ts';
import { SIEM_EVENT_SUBJECT, decodeSiemEvent, encodeSiemEvent, latestSiemEventSchema } from '../../schemas/index.ts';

describe('RecentKeys (dedup horizon)', () => {
  it('remembers at most `capacity` keys, evicting the least recently seen', () => {
    const r = new RecentKeys(3);
    r.addAll(['a', 'b', 'c']);
    expect(r.has('a')).toBe(true); // refreshes a
    r.addAll(['d']); // evicts b, the least recent
    expect(r.has('b')).toBe(false);
    expect(r.has('a')).toBe(true);
    expect(r.has('c')).toBe(true);
    expect(r.has('d')).toBe(true);
    expect(r.size).toBe(3);
  });
  it('capacity 0 turns dedup off', () => {
    const r = new RecentKeys(0);
    r.addAll(['a']);
    expect(r.has('a')).toBe(false);
  });
});

describe('normalize settings', () => {
  it('have defaults', () => {
    const c = parseNormalizeConfig({});
    expect(c.settings.groupId).toBe('m365-siem-normalize');
    expect(c.settings.transactionalIdPrefix).toBe('m365-siem-normalize');
    expect(c.settings.vendorFields).toBe(false);
    expect(c.settings.schemaRegistryUrl).toBeUndefined();
    expect(c.topics.raw.name).toBe('m365.raw');
    expect(c.topics.events.name).toBe('siem.events');
  });
  it('name the bad env var', () => {
    expect(() => parseNormalizeConfig({ NORMALIZE_MAX_TRANSACTION_RECORDS: '0', SCHEMA_REGISTRY_URL: 'not a url' })).toThrow(ConfigError);
    try {
      parseNormalizeConfig({ NORMALIZE_MAX_TRANSACTION_RECORDS: '0', SCHEMA_REGISTRY_URL: 'not a url' });
    } catch (error) {
      expect(String(error)).toContain('NORMALIZE_MAX_TRANSACTION_RECORDS');
      expect(String(error)).toContain('SCHEMA_REGISTRY_URL');
    }
  });
});

describe('registering with a real schema registry', () => {
  it('POSTs the latest schema to the subject and remembers the returned id for decoding', async () => {
    const calls: Array<{ url: string; body: string; auth: string | null }> = [];
    const fetchImpl = (async (url: URL | string, init?: RequestInit) => {
      calls.push({ url: String(url), body: String(init?.body), auth: new Headers(init?.headers).get('authorization') });
      return new Response(JSON.stringify({ id: 5150 }), { status: 200 });
    }) as typeof fetch;
    const id = await registerSiemEventSchema({ url: 'http://registry.example:8081/base', username: 'u', password: 'p', fetchImpl });
    expect(id).toBe(5150);
    expect(calls[0]?.url).toBe(`http://registry.example:8081/base/subjects/${SIEM_EVENT_SUBJECT}/versions`);
    expect(JSON.parse(JSON.parse(calls[0]?.body ?? '{}').schema)).toEqual(latestSiemEventSchema.schema);
    expect(calls[0]?.auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const framed = encodeSiemEvent({ timestamp: 1, event: { id: 'r', dataset: 'd' }, organization: { id: 'o' } }, id);
    expect(decodeSiemEvent(framed).event.id).toBe('r');
  });
  it('gives up at once when the registry refuses the schema (4xx)', async () => {
    let n = 0;
    const fetchImpl = (async () => {
      n++;
      return new Response('{"error_code":409,"message":"incompatible"}', { status: 409 });
    }) as typeof fetch;
    await expect(registerSiemEventSchema({ url: 'http://r.example', fetchImpl })).rejects.toThrow(/refused/);
    expect(n).toBe(1);
  });
});
