import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseSimulatorSettings } from './config.ts';
import { startSimulator } from './server.ts';

/** `m365-siem sim [--port N] [--state-dir DIR] [--seed S]`: prints one JSON line when ready, runs until a signal. */
export function registerSimulatorCommands(program: Command): void {
  program
    .command('sim')
    .description('run the Microsoft 365 simulator (Entra ID, Management Activity API, Graph) over HTTPS')
    .option('--port <n>', 'HTTPS port (0 = any free port)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535');
      return n;
    })
    .option('--state-dir <dir>', 'directory for the CA and certificates')
    .option('--seed <seed>', 'seed of the deterministic generators')
    .option('--host <host>', 'listen address')
    .action(async (opts: { port?: number; stateDir?: string; seed?: string; host?: string }) => {
      const settings = parseSimulatorSettings(process.env);
      const sim = await startSimulator({
        port: opts.port ?? settings.port,
        stateDir: opts.stateDir ?? settings.stateDir,
        seed: opts.seed ?? settings.seed,
        host: opts.host ?? settings.host,
      });
      process.stdout.write(
        `${JSON.stringify({ url: sim.url, caFile: sim.caFile, clientId: sim.clientId, clientSecret: sim.clientSecret, usGovClientId: sim.usGovClientId, usGovClientSecret: sim.usGovClientSecret })}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await sim.close();
    });
}
