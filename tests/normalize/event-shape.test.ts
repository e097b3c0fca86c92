/**
 * Every event the normalizer builds has all fields of the root, `event` and `m365` records, in the schema's order
 * (null when unset): one hidden class per record for all mappings keeps the mapping and the encoder fast (issue 15,
 * decision 0205). A field added to the schema but not to EventDraft fails here.
 */
import { describe, expect, it } from 'vitest';
import { normalizeValue } from '../../normalize/mapper.ts';
import { latestSiemEventSchema } from '../../schemas/index.ts';
import { goldenCases } from './golden.ts';
import { simulatedEnvelopes } from './simulated-envelopes.ts';

type Field = { name: string; type: unknown };
const root = latestSiemEventSchema.schema as { fields: Field[] };

function fieldsOf(name: string): string[] {
  const field = root.fields.find((f) => f.name === name);
  const type = (Array.isArray(field?.type) ? field?.type[1] : field?.type) as { fields: Field[] };
  return type.fields.map((f) => f.name);
}

describe('event shape', () => {
  it('root, event and m365 carry every schema field in schema order, for every source', () => {
    const inputs = [...goldenCases().map((c) => c.input), ...simulatedEnvelopes(200, 'org-shape').map((e) => JSON.stringify(e))];
    let checked = 0;
    for (const input of inputs) {
      for (const vendorFields of [false, true]) {
        const out = normalizeValue(input, { vendorFields });
        if (out.kind !== 'ok') continue;
        expect(Object.keys(out.value)).toEqual(root.fields.map((f) => f.name));
        expect(Object.keys(out.value.event)).toEqual(fieldsOf('event'));
        expect(Object.keys(out.value.m365 ?? {})).toEqual(fieldsOf('m365'));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(400);
  });
});
