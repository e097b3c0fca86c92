import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../runtime/index.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

describe('logger redaction', () => {
  it('censors secrets and tokens in structured fields', () => {
    const { lines, destination } = capture();
    const logger = createLogger('test', { destination });
    logger.info({ clientSecret: 's3cr3t', config: { password: 'hunter2', token: 'abc' }, headers: { authorization: 'Bearer eyJx' } }, 'hello');
    const out = lines.join('');
    expect(out).toContain('hello');
    expect(out).not.toContain('s3cr3t');
    expect(out).not.toContain('hunter2');
    expect(out).not.toContain('eyJx');
    expect(out).toContain('[redacted]');
  });

  it('scrubs bearer tokens, JWTs and form secrets from free text', () => {
    const jwt = 'eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.sig';
    const text = `POST client_id=1&client_secret=abc123&scope=x Authorization: Bearer ${jwt} and ${jwt}`;
    const scrubbed = scrubSecrets(text);
    expect(scrubbed).not.toContain('abc123');
    expect(scrubbed).not.toContain(jwt);
    expect(scrubbed).toContain('client_id=1');
  });
});
