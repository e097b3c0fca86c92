/**
 * The `m365-siem` command: one entry, subcommands registered by each part. This is an entry point, so it is one
 * of the few places allowed to import several services.
 */
import { Command } from 'commander';
import { ConfigError } from '../runtime/index.ts';
import { registerNormalizeCommands } from '../normalize/index.ts';
import { registerIndexCommands } from '../index/index.ts';
import { registerControlPlaneCommands } from '../control-plane/index.ts';
import { registerSimulatorCommands } from '../simulator/index.ts';
import { registerStackCommands } from '../stack/index.ts';
import { registerIngestCommands } from '../ingest/index.ts';
import { registerStartCommand } from './start.ts';
import { registerReplayCommand } from './replay.ts';
import { registerConfigCommands } from './config-reference.ts';

const program = new Command();
program
  .name('m365-siem')
  .description('Microsoft 365 and Entra ID telemetry into Kafka and OpenSearch')
  .showHelpAfterError();

// --- command registrations (one line per part) ---
registerStartCommand(program);
registerReplayCommand(program);
registerStackCommands(program);
registerSimulatorCommands(program);
registerControlPlaneCommands(program);
registerIngestCommands(program);
registerIndexCommands(program);
registerNormalizeCommands(program);
registerConfigCommands(program);
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
