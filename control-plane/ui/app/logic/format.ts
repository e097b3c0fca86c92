/** Formatting shared by the views; pure. */

/** "3 min ago (2026-11-26 07:12:03 UTC)"; "—" for nothing. */
export function formatTime(value: string | null | undefined, now: number = Date.now()): string {
  if (!value) return '—';
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const iso = new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
    .replace(/Z$/, ' UTC');
  return `${relative(now - ms)} (${iso})`;
}

/** Compact absolute UTC time for table cells: "2026-11-26 07:05:00Z"; the caller puts the relative time in a title. */
export function formatTimeShort(value: string | null | undefined): string {
  if (!value) return '—';
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** Long text from Microsoft (error messages) shortened for a table cell; the full text goes in a title. */
export function shorten(text: string, max = 180): string {
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}

function relative(deltaMs: number): string {
  const future = deltaMs < 0;
  const s = Math.round(Math.abs(deltaMs) / 1000);
  let text: string;
  if (s < 10) return 'just now';
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 86_400) text = `${Math.round(s / 3600)} h`;
  else text = `${Math.round(s / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function formatCount(value: number | null | undefined): string {
  return typeof value === 'number' ? value.toLocaleString('en-US') : '—';
}

export const CLOUD_LABELS: Record<string, string> = {
  commercial: 'Commercial',
  gcc: 'GCC',
  'gcc-high': 'GCC High',
  dod: 'DoD',
};
