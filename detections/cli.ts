/**
 * `npm run sigma -- setup | coverage <rules dir>`: the Sigma toolchain's commands. They live beside the detection
 * content rather than in the `m365-siem` CLI because the production image carries neither the rules nor Python.
 */
import { Command } from 'commander';
import { registerSigmaCommands } from './sigma-toolchain.ts';

const program = new Command().name('npm run sigma --').description('Sigma detections for m365-siem (docs/detections.md)').showHelpAfterError();
registerSigmaCommands(program, { asRoot: true });
await program.parseAsync(process.argv);
