/**
 * Daily index names `<prefix>-YYYY.MM.DD`, chosen by the event's own time in UTC so that a re-served or replayed
 * event always lands in the index (and on the document) of its first write.
 */
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function dailyIndexName(prefix: string, eventTime: Date): string {
  return `${prefix}-${pad(eventTime.getUTCFullYear(), 4)}.${pad(eventTime.getUTCMonth() + 1)}.${pad(eventTime.getUTCDate())}`;
}

/** The wildcard that matches every daily index of a prefix (and is the template's pattern). */
export function dailyIndexPattern(prefix: string): string {
  return `${prefix}-*`;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The UTC day (midnight) of a daily index of this prefix, or null when the name is not exactly
 * `<prefix>-YYYY.MM.DD` with a real calendar date. Retention deletes only names that parse here.
 */
export function parseDailyIndexName(prefix: string, name: string): Date | null {
  const match = new RegExp(`^${escapeRegExp(prefix)}-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`).exec(name);
  if (!match) return null;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return null;
  return day;
}
