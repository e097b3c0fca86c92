import type { Command } from 'commander';
import { describeSettings } from '../runtime/index.ts';
import { ingestSettingsSpec } from './config.ts';

/** `m365-siem ingest settings`: the pollers' settings. The service itself runs with `m365-siem start ingest`. */
export function registerIngestCommands(program: Command): void {
  const ingest = program
    .command('ingest')
    .description('the ingest service: Management Activity API and Graph pollers into m365.raw (run it with `start ingest`)');
  ingest
    .command('settings')
    .description('list the ingest settings (env vars) with their meaning')
    .action(() => {
      for (const s of describeSettings(ingestSettingsSpec)) process.stdout.write(`${s.env}\t${s.description}\n`);
    });
}
