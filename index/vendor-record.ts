/**
 * Microsoft's record, searchable with Microsoft's own names: the JSON text of `event.original` is spliced into the
 * document as the object `"m365.record"` (a dotted key: OpenSearch files it under `m365.record`, mapped
 * `flat_object`). The text is copied as bytes, not parsed and re-serialized, so it costs the indexer a validation
 * scan per document instead of the normalizer's flattening (decision 0120 has the measurements).
 *
 * A text that is not one valid JSON object (another producer, an older event, a truncated value) is left out: the
 * event is still indexed, with `event.original` as stored text, rather than the whole document being refused.
 */
import { isUtf8 } from 'node:buffer';

/** `,"m365.record":` — the key (the document's last member) and its separator. */
export const VENDOR_RECORD_KEY = Buffer.from(',"m365.record":');

// biome-ignore lint/suspicious/noConstEnum: a hot loop over character codes; esbuild inlines a const enum declared in the same file
const enum C {
  Space = 0x20,
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  Colon = 0x3a,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
  Minus = 0x2d,
}

function isSpace(b: number): boolean {
  return b === C.Space || b === C.Lf || b === C.Cr || b === C.Tab;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** Index after the literal `true`/`false`/`null` at `i`, or -1. */
function skipLiteral(buf: Uint8Array, i: number, to: number): number {
  const b = buf[i];
  const literal = b === 0x74 ? TRUE : b === 0x66 ? FALSE : b === 0x6e ? NULL : null;
  if (literal === null || i + literal.length > to) return -1;
  for (let k = 1; k < literal.length; k++) if (buf[i + k] !== literal[k]) return -1;
  return i + literal.length;
}

const HEX_DIGIT = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX_DIGIT[c.charCodeAt(0)] = 1;

/**
 * Whether `buf[from, to)` is exactly one JSON object (RFC 8259: strings without raw control characters and with
 * valid escapes, numbers, literals, nesting up to `maxDepth`) in valid UTF-8. One pass, no allocation.
 */
export function isJsonObjectText(buf: Uint8Array, from: number, to: number, maxDepth = 64): boolean {
  let i = from;
  while (i < to && isSpace(buf[i]!)) i++;
  if (i >= to || buf[i] !== C.OpenBrace) return false;
  // Container stack as a bit string: 1 = object, 0 = array (depth ≤ 64 fits two 32-bit words).
  let stackLo = 0;
  let stackHi = 0;
  let depth = 0;
  let highBytes = false;
  // States: expecting a value / a key or '}' / a ':' / a ',' or closer / the first key or '}' / the first value or ']'
  let expect: 'value' | 'key' | 'colon' | 'next' | 'firstKey' | 'firstValue' = 'value';
  while (i < to) {
    const b = buf[i]!;
    if (isSpace(b)) {
      i++;
      continue;
    }
    if (depth === 0 && expect === 'next') return false; // something after the top-level object
    switch (expect) {
      case 'colon':
        if (b !== C.Colon) return false;
        i++;
        expect = 'value';
        continue;
      case 'next': {
        const inObject = depth <= 32 ? (stackLo >>> (depth - 1)) & 1 : (stackHi >>> (depth - 33)) & 1;
        if (b === C.Comma) {
          i++;
          expect = inObject ? 'key' : 'value';
          continue;
        }
        if (b !== (inObject ? C.CloseBrace : C.CloseBracket)) return false;
        i++;
        depth--;
        continue;
      }
      case 'key':
      case 'firstKey':
        if (b === C.CloseBrace && expect === 'firstKey') {
          i++;
          depth--;
          expect = 'next';
          continue;
        }
        if (b !== C.Quote) return false;
        i = skipString(buf, i, to);
        if (i < 0) return false;
        expect = 'colon';
        continue;
      default: {
        if (b === C.CloseBracket && expect === 'firstValue') {
          i++;
          depth--;
          expect = 'next';
          continue;
        }
        if (b === C.OpenBrace || b === C.OpenBracket) {
          if (depth >= maxDepth || depth >= 64) return false;
          const bit = b === C.OpenBrace ? 1 : 0;
          if (depth < 32) stackLo = (stackLo & ~(1 << depth)) | (bit << depth);
          else stackHi = (stackHi & ~(1 << (depth - 32))) | (bit << (depth - 32));
          depth++;
          i++;
          expect = bit ? 'firstKey' : 'firstValue';
          continue;
        }
        if (b === C.Quote) {
          const end = skipString(buf, i, to);
          if (end < 0) return false;
          for (let k = i; k < end; k++) if (buf[k]! >= 0x80) highBytes = true;
          i = end;
        } else if (b === C.Minus || (b >= 0x30 && b <= 0x39)) {
          i = skipNumber(buf, i, to);
          if (i < 0) return false;
        } else {
          i = skipLiteral(buf, i, to);
          if (i < 0) return false;
        }
        expect = 'next';
      }
    }
  }
  if (depth !== 0 || expect !== 'next') return false;
  // Keys too may hold non-ASCII text; one check over the whole range is cheaper than tracking every string.
  for (let k = from; !highBytes && k < to; k++) if (buf[k]! >= 0x80) highBytes = true;
  return !highBytes || isUtf8(buf.subarray(from, to));
}

/** Index after the closing quote of the string opening at `i`, or -1. */
function skipString(buf: Uint8Array, i: number, to: number): number {
  for (let k = i + 1; k < to; k++) {
    const b = buf[k]!;
    if (b === C.Quote) return k + 1;
    if (b < 0x20) return -1;
    if (b === C.Backslash) {
      const e = buf[k + 1];
      if (e === 0x75) {
        // \uXXXX
        if (k + 5 >= to) return -1;
        for (let h = k + 2; h < k + 6; h++) if (!HEX_DIGIT[buf[h]!]) return -1;
        k += 5;
      } else if (e === C.Quote || e === C.Backslash || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        k++;
      } else return -1;
    }
  }
  return -1;
}

/** Index after the JSON number starting at `i`, or -1. */
function skipNumber(buf: Uint8Array, i: number, to: number): number {
  let k = i;
  if (buf[k] === C.Minus) k++;
  if (k >= to) return -1;
  if (buf[k] === 0x30) k++;
  else if (buf[k]! >= 0x31 && buf[k]! <= 0x39) while (k < to && buf[k]! >= 0x30 && buf[k]! <= 0x39) k++;
  else return -1;
  if (buf[k] === 0x2e) {
    k++;
    const start = k;
    while (k < to && buf[k]! >= 0x30 && buf[k]! <= 0x39) k++;
    if (k === start) return -1;
  }
  if (buf[k] === 0x65 || buf[k] === 0x45) {
    k++;
    if (buf[k] === 0x2b || buf[k] === C.Minus) k++;
    const start = k;
    while (k < to && buf[k]! >= 0x30 && buf[k]! <= 0x39) k++;
    if (k === start) return -1;
  }
  return k;
}

/**
 * The object path's version: `_source` text of a whole event plus its `event.original`, with the record spliced in
 * as the document's last member when it is a JSON object (same bytes as the transcoder's splice).
 */
export function withVendorRecord(source: string, original: unknown): string {
  if (typeof original !== 'string' || source.length < 2 || source.charCodeAt(source.length - 1) !== C.CloseBrace) return source;
  const bytes = Buffer.from(original, 'utf8');
  if (!isJsonObjectText(bytes, 0, bytes.length)) return source;
  return `${source.slice(0, -1)},"m365.record":${original}}`;
}
