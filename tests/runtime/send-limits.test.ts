import { describe, expect, it } from 'vitest';
import {
  buildDeadLetter,
  DEAD_LETTER_HEADERS,
  deadLetterSchema,
  encodedRecordBytes,
  RecordTooLargeError,
  RECORD_BATCH_OVERHEAD_BYTES,
  SendLimits,
  type OutgoingMessage,
} from '../../runtime/index.ts';

const msg = (bytes: number, key = 'org-a'): OutgoingMessage => ({ key, value: 'x'.repeat(bytes), headers: { 'm365-source': 'management:Audit.Exchange' } });

describe('bounded sends (SendLimits)', () => {
  it('counts key, value, headers and record framing, multi-byte characters as bytes', () => {
    const ascii = encodedRecordBytes({ key: 'k', value: 'abc' });
    expect(ascii).toBeGreaterThanOrEqual(4);
    expect(encodedRecordBytes({ key: 'k', value: 'ééé' }) - ascii).toBe(3);
    expect(encodedRecordBytes({ key: 'k', value: 'abc', headers: { h: 'v' } }) - ascii).toBeGreaterThanOrEqual(2);
  });

  it('cuts a list into sends that each fit one record batch, in order, and never leaves one over the limit', () => {
    const limits = new SendLimits(new Map([['t', 10_000]]));
    const messages = Array.from({ length: 100 }, (_, i) => msg(200 + (i % 7) * 50, `org-${i}`));
    const parts = limits.split('t', messages);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.flatMap((p) => p.messages)).toEqual(messages);
    for (const p of parts) {
      expect(p.bytes).toBeLessThanOrEqual(10_000);
      expect(p.bytes).toBe(RECORD_BATCH_OVERHEAD_BYTES + p.messages.reduce((n, m) => n + encodedRecordBytes(m), 0));
    }
  });

  it('refuses a record that does not fit even alone (the caller dead-letters it) and uses the fallback for unknown topics', () => {
    const limits = new SendLimits(new Map([['t', 5_000]]), 2_000);
    expect(limits.fits('t', msg(4_000))).toBe(true);
    expect(limits.fits('t', msg(5_000))).toBe(false);
    expect(() => limits.split('t', [msg(5_000)])).toThrow(RecordTooLargeError);
    expect(limits.limitOf('other')).toBe(2_000);
  });

  it('sends part after part through the target and remembers the largest', async () => {
    const limits = new SendLimits(new Map([['t', 3_000]]));
    const sent: number[] = [];
    await limits.send(
      { send: async (r) => void sent.push(r.messages.length) },
      't',
      Array.from({ length: 10 }, () => msg(900)),
    );
    expect(sent.reduce((a, b) => a + b, 0)).toBe(10);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(limits.largestSendBytes).toBeLessThanOrEqual(3_000);
  });
});

describe('the one dead-letter builder', () => {
  const facts = {
    stage: 'normalize' as const,
    orgId: 'org-a',
    source: 'management:Audit.Exchange',
    errorCode: 'mapping_error' as const,
    errorMessage: 'no Id',
    origin: { topic: 'raw', partition: 1, offset: '7' },
  };

  it('writes the contract value and the one header set', () => {
    const m = buildDeadLetter({ ...facts, input: '{"a":1}' }, 1_000_000);
    expect(m.key).toBe('org-a');
    expect(m.headers).toEqual({
      [DEAD_LETTER_HEADERS.stage]: 'normalize',
      [DEAD_LETTER_HEADERS.errorCode]: 'mapping_error',
      [DEAD_LETTER_HEADERS.source]: 'management:Audit.Exchange',
    });
    const value = deadLetterSchema.parse(JSON.parse(m.value));
    expect(value).toMatchObject({ input: '{"a":1}', inputEncoding: 'utf8', errorMessage: 'no Id', origin: facts.origin });
  });

  it('cuts an input too large for the dead-letter topic so the dead letter fits, and says so', () => {
    // Quotes and non-ASCII characters: JSON escaping and UTF-8 make bytes per character vary.
    const input = '"é\u0001'.repeat(400_000);
    const m = buildDeadLetter({ ...facts, input }, 100_000);
    expect(encodedRecordBytes(m)).toBeLessThanOrEqual(100_000);
    const value = deadLetterSchema.parse(JSON.parse(m.value));
    expect(value.input.length).toBeGreaterThan(10_000);
    expect(input.startsWith(value.input)).toBe(true);
    expect(value.errorMessage).toContain(`input truncated from ${input.length} characters`);
  });

  it('keeps binary input as base64 and omits the source header when the source is unknown', () => {
    const m = buildDeadLetter({ ...facts, source: null, input: Buffer.from([0, 255, 254]) }, 10_000);
    expect(m.headers[DEAD_LETTER_HEADERS.source]).toBeUndefined();
    expect(JSON.parse(m.value).inputEncoding).toBe('base64');
  });
});
