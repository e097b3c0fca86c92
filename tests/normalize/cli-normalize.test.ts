import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { normalizeLines } from '../../normalize/cli.ts';
import { goldenCases } from './golden.ts';

async function runLines(lines: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = await normalizeLines(Readable.from([lines.join('\n')]), out, err, { nowMicros: () => 0 });
  return { result, stdout, stderr };
}

describe('m365-siem normalize (line processing)', () => {
  it('writes one plain JSON event per good line and reports bad lines with their number, continuing after them', async () => {
    const good = goldenCases()
      .slice(0, 3)
      .map((c) => JSON.stringify(JSON.parse(c.input)));
    const lines = [good[0] as string, '{not json', '', good[1] as string, '{"orgId":"o"}', good[2] as string];
    const { result, stdout, stderr } = await runLines(lines);
    expect(result).toEqual({ lines: 6, events: 3, failed: 2 });
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(events).toHaveLength(3);
    expect(events.map((e) => e.event.id)).toEqual(good.map((g) => (JSON.parse(g).record.Id ?? JSON.parse(g).record.id) as string));
    // plain nested JSON: no Avro union wrappers, ECS paths as nested objects
    expect(events[0]?.event.dataset).toBe('o365.audit');
    expect(events[0]?.organization).toEqual({ id: 'org-contoso' });
    expect(JSON.stringify(events[0])).not.toMatch(/"(string|long|int|array)":/);
    expect(stderr).toContain('line 2: invalid_json');
    expect(stderr).toContain('line 5: invalid_envelope');
    expect(stderr).not.toContain('line 3');
  });

  it('accepts CRLF input', async () => {
    const [c] = goldenCases();
    const { result } = await runLines([`${JSON.stringify(JSON.parse(c?.input ?? '{}'))}\r`, '']);
    expect(result.failed).toBe(0);
    expect(result.events).toBe(1);
  });
});
