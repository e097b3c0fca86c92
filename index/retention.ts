import type { Logger, OpenSearchClient } from '../runtime/index.ts';
import { dailyIndexPattern, parseDailyIndexName } from '../schemas/opensearch/index.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The daily indices of a prefix that retention removes: `<prefix>-YYYY.MM.DD` whose whole day ended at least
 * `days` days before `now` (every event in it is older than the retention). Names that are not exactly a daily
 * index of this prefix are never selected. `days = 0` keeps everything.
 */
export function expiredIndices(prefix: string, names: readonly string[], days: number, now: Date): string[] {
  if (days <= 0) return [];
  const cutoff = now.getTime() - days * DAY_MS;
  return names
    .filter((name) => {
      const day = parseDailyIndexName(prefix, name);
      return day !== null && day.getTime() + DAY_MS <= cutoff;
    })
    .sort();
}

/** Lists the daily indices of a prefix (open and closed), names only. */
export async function listDailyIndices(client: OpenSearchClient, prefix: string): Promise<string[]> {
  const response = await client.cat.indices({
    index: dailyIndexPattern(prefix),
    format: 'json',
    h: 'index',
    expand_wildcards: 'open,closed',
  } as never);
  const rows = (response.body ?? []) as Array<{ index?: string }>;
  return rows.map((r) => r.index).filter((n): n is string => typeof n === 'string' && parseDailyIndexName(prefix, n) !== null);
}

/** Deletes the expired daily indices by exact name (never a wildcard); returns what it deleted. */
export async function applyRetention(
  client: OpenSearchClient,
  options: { prefix: string; days: number; now?: Date; dryRun?: boolean },
  logger?: Logger,
): Promise<{ deleted: string[]; kept: number }> {
  const names = await listDailyIndices(client, options.prefix);
  const expired = expiredIndices(options.prefix, names, options.days, options.now ?? new Date());
  if (!options.dryRun) {
    for (let i = 0; i < expired.length; i += 50) {
      const chunk = expired.slice(i, i + 50);
      await client.indices.delete({ index: chunk.join(','), ignore_unavailable: true } as never);
    }
    if (expired.length > 0) logger?.info({ prefix: options.prefix, days: options.days, deleted: expired }, 'retention deleted daily indices');
  }
  return { deleted: expired, kept: names.length - expired.length };
}
