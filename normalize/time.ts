/**
 * Microsoft timestamps → microseconds since the epoch. Management API `CreationTime` has no zone (UTC by contract)
 * and whole seconds; Graph has `Z` and up to 7 fractional digits (100-ns ticks), which we keep to the microsecond.
 * Parsed by hand (this runs once per record); anything unusual falls back to the regular expression path.
 */
const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;

function digits(s: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), without a Date call. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Fast path: `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z]`. Returns null when the text is anything else. */
function fastMicros(s: string): number | null {
  const len = s.length;
  if (len < 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58)
    return null;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
    return null;
  let pos = 19;
  let micros = 0;
  if (pos < len && s.charCodeAt(pos) === 46) {
    pos++;
    let scale = 100_000;
    const start = pos;
    while (pos < len) {
      const c = s.charCodeAt(pos) - 48;
      if (c < 0 || c > 9) break;
      if (scale >= 1) micros += c * scale;
      scale /= 10;
      pos++;
    }
    if (pos === start) return null;
    micros = Math.floor(micros);
  }
  if (pos < len) {
    const c = s.charCodeAt(pos);
    if ((c !== 90 && c !== 122) || pos !== len - 1) return null; // only Z here; offsets take the slow path
  }
  if (day > 28 && day > daysInMonth(year, month)) return null; // e.g. 2026-02-31
  // Years below 100 go through Date.UTC, which reads them as 19xx; the arithmetic gives the same for the rest.
  const ms =
    year < 100
      ? Date.UTC(year, month - 1, day, hour, minute, second)
      : daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000;
  return ms * 1000 + micros;
}

export function toMicros(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const fast = fastMicros(value);
  if (fast !== null) return fast;
  const m = ISO.exec(value.trim());
  if (!m) return null;
  const zone = m[4] === undefined || m[4].toUpperCase() === 'Z' ? 'Z' : m[4].length === 5 ? `${m[4].slice(0, 3)}:${m[4].slice(3)}` : m[4];
  const time = (m[2] as string).length === 5 ? `${m[2]}:00` : (m[2] as string);
  const ms = Date.parse(`${m[1]}T${time}${zone}`);
  if (Number.isNaN(ms)) return null;
  const fraction = m[3] ? Number(m[3].slice(0, 6).padEnd(6, '0')) : 0;
  return ms * 1000 + fraction;
}
