/**
 * Reading values out of Microsoft records defensively: records are untyped JSON and fields come as strings, numbers,
 * booleans, stringified JSON or Name/Value lists depending on workload and age.
 */
import { parseStringifiedJson as maybeJson } from '../schemas/index.ts';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-empty string (numbers and booleans are rendered), else null. */
export function str(value: unknown): string | null {
  if (typeof value === 'string') return value.length > 0 && value.trim().length > 0 ? value : null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return null;
}

export function int(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) return Number(value.trim());
  return null;
}

/** true/false from booleans and the strings True/False/true/false/1/0. */
export function bool(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
  }
  if (value === 1) return true;
  if (value === 0) return false;
  return null;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Parses a string that looks like a JSON object or array (stringified JSON); other values pass through. The same
 * parse the vendor view of the record (`m365.fields`) uses, so both read a record alike.
 */
export { maybeJson };

/** Renders any JSON value as a string for map values (null → null). */
export function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

const NAME_KEYS = ['Name', 'name', 'Key', 'key', 'displayName'] as const;

function nameOf(item: Json): string | null {
  for (const k of NAME_KEYS) {
    const v = item[k];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return null;
}

/**
 * A Name/Value list (`[{Name, Value}]`, `[{key, value}]`, also delivered as a JSON string) as ordered pairs.
 * Items without a name are skipped; non-string values are rendered as JSON text.
 */
export function nameValues(value: unknown): Array<[string, string]> {
  const list = maybeJson(value);
  if (!Array.isArray(list)) return [];
  const out: Array<[string, string]> = [];
  for (const item of list) {
    if (!isObject(item)) continue;
    const name = nameOf(item);
    if (name === null) continue;
    const v = 'Value' in item ? item.Value : item.value;
    out.push([name, text(v) ?? '']);
  }
  return out;
}

/** True when a list looks like a Name/Value (or Name/OldValue/NewValue) list. */
export function isNameValueList(list: unknown[]): boolean {
  const first = list[0];
  return isObject(first) && nameOf(first) !== null && ('Value' in first || 'value' in first || 'NewValue' in first || 'newValue' in first);
}

export function lookup(pairs: Array<[string, string]>, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [k, v] of pairs) if (k.toLowerCase() === lower && v.length > 0) return v;
  return null;
}

/** First non-null result of `str` over several fields of a record. */
export function firstStr(record: Json, ...keys: string[]): string | null {
  for (const k of keys) {
    const v = str(record[k]);
    if (v !== null) return v;
  }
  return null;
}

/**
 * Bounds of the fields the normalizer derives from a record for search (m365.parameters, m365.parameters_text,
 * m365.modified_properties_text). The whole record always travels as event.original and is searchable as
 * m365.record (decision 0120); a derived copy of a multi-megabyte value only doubles or triples the event until it
 * no longer fits siem.events (decision 0091: a 3 MB cmdlet record became a 9.4 MB event and was dead-lettered).
 */
export const DERIVED_VALUE_MAX_CHARS = 4_096;
export const DERIVED_TEXT_MAX_CHARS = 32_768;
export const DERIVED_MAP_MAX_CHARS = 65_536;

/** `text` cut to `max` characters, saying how much was left out and where the whole value is. */
export function boundDerived(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…[${text.length - max} more characters in event.original]`;
}
