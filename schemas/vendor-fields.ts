/**
 * The vendor view of a Microsoft record (`m365.fields`): the record flattened to dotted path → string. Name/Value
 * lists are keyed by Name (`ExtendedProperties.RequestType`, `Parameters.ForwardTo`,
 * `ModifiedProperties.Role.DisplayName.NewValue`), stringified JSON is parsed (`Data.f3u`), other arrays are keyed by
 * index (`Actor.0.ID`). Bounded so one huge record cannot blow up an index mapping; `event.original` stays complete.
 *
 * It lives in schemas/ because it is a view of the event, not a mapping rule: the normalizer fills `m365.fields` with
 * it when NORMALIZE_VENDOR_FIELDS=true, and the indexer can derive the same view from `event.original` at index time.
 * Hot path: no closures (the TypeScript loader wraps each closure creation in a naming helper).
 */
export const MAX_VENDOR_FIELDS = 256;
export const MAX_VENDOR_VALUE_CHARS = 4096;
const MAX_DEPTH = 6;

type Json = Record<string, unknown>;

interface Sink {
  out: Record<string, string>;
  count: number;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a string that looks like a JSON object or array; anything else passes through. */
export function parseStringifiedJson(value: unknown): unknown {
  if (typeof value !== 'string' || value.length < 2) return value;
  let first = value.charCodeAt(0);
  let last = value.charCodeAt(value.length - 1);
  if (first <= 32 || last <= 32) {
    const t = value.trim();
    first = t.charCodeAt(0);
    last = t.charCodeAt(t.length - 1);
  }
  if ((first === 123 && last === 125) || (first === 91 && last === 93)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

function nameOf(item: Json): string | null {
  const n = item.Name ?? item.name ?? item.Key ?? item.key ?? item.displayName;
  return typeof n === 'string' && n.length > 0 ? n : null;
}

function isNameValueList(list: unknown[]): boolean {
  const first = list[0];
  return isObject(first) && nameOf(first) !== null && ('Value' in first || 'value' in first || 'NewValue' in first || 'newValue' in first);
}

function put(sink: Sink, key: string, value: string): void {
  if (sink.count >= MAX_VENDOR_FIELDS) return;
  sink.out[key] = value.length > MAX_VENDOR_VALUE_CHARS ? value.slice(0, MAX_VENDOR_VALUE_CHARS) : value;
  sink.count++;
}

function walk(sink: Sink, value: unknown, path: string, depth: number): void {
  if (sink.count >= MAX_VENDOR_FIELDS || value === null || value === undefined) return;
  const v = typeof value === 'string' ? parseStringifiedJson(value) : value;
  if (typeof v !== 'object' || v === null) {
    const t = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
    if (t !== null && t.length > 0) put(sink, path, t);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return;
    if (depth >= MAX_DEPTH) return put(sink, path, JSON.stringify(v));
    if (isNameValueList(v)) {
      for (const item of v) {
        if (!isObject(item)) continue;
        const name = nameOf(item);
        if (name === null) continue;
        if ('Value' in item || 'value' in item) walk(sink, item.Value ?? item.value, `${path}.${name}`, depth + 1);
        else {
          walk(sink, item.OldValue ?? item.oldValue, `${path}.${name}.OldValue`, depth + 1);
          walk(sink, item.NewValue ?? item.newValue, `${path}.${name}.NewValue`, depth + 1);
        }
      }
      return;
    }
    for (let i = 0; i < v.length; i++) walk(sink, v[i], `${path}.${i}`, depth + 1);
    return;
  }
  if (depth >= MAX_DEPTH) return put(sink, path, JSON.stringify(v));
  const obj = v as Json;
  for (const key in obj) walk(sink, obj[key], path ? `${path}.${key}` : key, depth + 1);
}

/** The record (an object, or its JSON text such as `event.original`) flattened; {} for anything else. */
export function flattenVendorRecord(record: Json | string): Record<string, string> {
  const value = typeof record === 'string' ? parseStringifiedJson(record) : record;
  const sink: Sink = { out: {}, count: 0 };
  if (!isObject(value)) return sink.out;
  for (const key in value) walk(sink, value[key], key, 1);
  return sink.out;
}
