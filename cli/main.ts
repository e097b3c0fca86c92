/**
 * The `m365-siem` command: one entry, subcommands registered by each part. This is an entry point, so it is one
 * of the few places allowed to import several services.
 */
import { Command } from 'commander';
import { ConfigError } from '../runtime/index.ts';

const program = new Command();
program
  .name('m365-siem')
  .description('Microsoft 365 and Entra ID telemetry into Kafka and OpenSearch')
  .showHelpAfterError();

// --- command registrations (one line per part) ---
// --- end of command registrations ---

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
