/**
 * The `m365-siem` command: one entry, subcommands registered by each part. This is an entry point, so it is one
 * of the few places allowed to import several services.
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError } from '../runtime/index.ts';
import { registerNormalizeCommands } from '../normalize/index.ts';
import { registerIndexCommands } from '../index/index.ts';
import { registerControlPlaneCommands } from '../control-plane/index.ts';
import { recordedStack, registerStackCommands, withRecordedStack } from '../stack/index.ts';
import { registerIngestCommands } from '../ingest/index.ts';
import { registerStartCommand } from './start.ts';
import { registerReplayCommand } from './replay.ts';

const program = new Command();
program.name('m365-siem').description('Microsoft 365 and Entra ID telemetry into Kafka and OpenSearch').showHelpAfterError();

/**
 * Commands that dial Kafka or OpenSearch find the stack `npm start` or `stack up` recorded when no endpoint is set,
 * and say so on stderr; explicit settings win. The entry point fills the environment once, before the command
 * parses its settings, so every command's own settings module stays the one reader of the environment.
 */
const COMMANDS_USING_THE_STACK = new Set(['tail', 'replay', 'index', 'ingest', 'normalize']);
program.hook('preAction', async (_program, action) => {
  let top = action;
  while (top.parent && top.parent !== program) top = top.parent;
  if (!COMMANDS_USING_THE_STACK.has(top.name())) return;
  if (process.env.KAFKA_BROKERS && process.env.OPENSEARCH_URL) return;
  const stack = await recordedStack(process.env);
  const { filled } = withRecordedStack(process.env, stack);
  if (Object.keys(filled).length === 0) return;
  Object.assign(process.env, filled);
  const what = Object.entries(filled)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stderr.write(`m365-siem: using the stack recorded in ${stack.stackDir} (${what}); set the variables to use another\n`);
});

// --- command registrations (one line per part) ---
registerStartCommand(program);
registerReplayCommand(program);
registerStackCommands(program);
// The production image ships no simulator (Dockerfile): its commands exist where its code does.
const simulator = await import('../simulator/index.ts').catch((error: NodeJS.ErrnoException) => {
  if (error.code === 'ERR_MODULE_NOT_FOUND' && /simulator[\\/]index\.[jt]s/.test(error.message)) return null;
  throw error;
});
simulator?.registerSimulatorCommands(program);
registerControlPlaneCommands(program);
registerIngestCommands(program);
registerIndexCommands(program);
registerNormalizeCommands(program);
program
  .command('config')
  .description('print the configuration reference (every setting, its default and meaning) as Markdown')
  .option('--write <file>', 'write it to a file instead (docs/configuration.md)')
  .action(async (options: { write?: string }) => {
    // Loaded on use: the reference covers the simulator's settings, and the production image has no simulator.
    const { renderConfigurationReference } = await import('./config-reference.ts');
    const text = renderConfigurationReference();
    if (options.write) writeFileSync(options.write, text);
    else process.stdout.write(text);
  });
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
