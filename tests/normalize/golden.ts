/** The golden corpus: tests/normalize/golden/<source>/<case>.input.json (an m365.raw envelope) + <case>.expected.json. */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSiemEvent, toPlainJson } from '../../schemas/index.ts';
import { encodeEvent, normalizeValue } from '../../normalize/mapper.ts';

export const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
/** event.ingested is the only clock-dependent field; golden runs pin it. */
export const GOLDEN_NOW_MICROS = Date.UTC(2026, 10, 20, 12, 0, 0) * 1000;

export interface GoldenCase {
  name: string;
  inputPath: string;
  expectedPath: string;
  input: string;
}

export function goldenCases(): GoldenCase[] {
  const out: GoldenCase[] = [];
  for (const dir of readdirSync(GOLDEN_DIR, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const file of readdirSync(join(GOLDEN_DIR, dir.name)).sort()) {
      if (!file.endsWith('.input.json')) continue;
      const inputPath = join(GOLDEN_DIR, dir.name, file);
      out.push({
        name: `${dir.name}/${file.slice(0, -'.input.json'.length)}`,
        inputPath,
        expectedPath: inputPath.replace(/\.input\.json$/, '.expected.json'),
        input: readFileSync(inputPath, 'utf8'),
      });
    }
  }
  return out;
}

/** What a consumer of siem.events sees for an input: map → Avro encode → decode → plain JSON. */
export function goldenOutput(input: string): unknown {
  // Golden files show the full view, m365.fields included (NORMALIZE_VENDOR_FIELDS=true), so the flattening of
  // Name/Value lists and stringified JSON is pinned too.
  const mapped = normalizeValue(input, { nowMicros: () => GOLDEN_NOW_MICROS, vendorFields: true });
  if (mapped.kind !== 'ok') return { deadLetter: mapped };
  const encoded = encodeEvent(mapped.value);
  if (encoded.kind !== 'ok') return { deadLetter: encoded };
  return toPlainJson(decodeSiemEvent(encoded.value));
}

export function readExpected(c: GoldenCase): unknown {
  return existsSync(c.expectedPath) ? JSON.parse(readFileSync(c.expectedPath, 'utf8')) : undefined;
}

export function writeExpected(c: GoldenCase, value: unknown): void {
  writeFileSync(c.expectedPath, `${JSON.stringify(value, null, 2)}\n`);
}
