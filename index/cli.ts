import type { Command } from 'commander';
import { createOpenSearchClient, parseOpenSearchSettings } from '../runtime/index.ts';
import { parseIndexSettings } from './config.ts';
import { installIndexTemplate } from './index-template.ts';
import { applyRetention } from './retention.ts';

/** `m365-siem index …`: install the template, apply the retention. The service runs with `m365-siem start index`. */
export function registerIndexCommands(program: Command): void {
  const index = program.command('index').description('the index service: siem.events into OpenSearch siem-events-*');

  index
    .command('install-template')
    .description('install or update the index template <INDEX_PREFIX> (mappings, settings, alias) and exit')
    .action(async () => {
      const s = parseIndexSettings(process.env);
      const client = createOpenSearchClient(parseOpenSearchSettings(process.env));
      try {
        const result = await installIndexTemplate(client, { prefix: s.prefix, shards: s.shards, replicas: s.replicas, refreshInterval: s.refreshInterval });
        process.stdout.write(`${JSON.stringify({ installed: result.template, pattern: `${s.prefix}-*`, alias: s.prefix })}\n`);
      } finally {
        await client.close();
      }
    });

  index
    .command('retention')
    .description('delete daily indices <INDEX_PREFIX>-YYYY.MM.DD older than N days and exit')
    .option('--days <n>', 'retention in days (default INDEX_RETENTION_DAYS)')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .action(async (opts: { days?: string; dryRun?: boolean }) => {
      const s = parseIndexSettings(process.env);
      let days = s.retentionDays;
      if (opts.days !== undefined) {
        days = Number(opts.days);
        if (!Number.isInteger(days) || days < 1) throw new Error(`--days: expected a positive integer, got "${opts.days}"`);
      }
      const client = createOpenSearchClient(parseOpenSearchSettings(process.env));
      try {
        const result = await applyRetention(client, { prefix: s.prefix, days, dryRun: opts.dryRun === true });
        process.stdout.write(`${JSON.stringify({ prefix: s.prefix, days, dryRun: opts.dryRun === true, ...result })}\n`);
      } finally {
        await client.close();
      }
    });
}
