import type { Logger } from './logger.ts';

type Closer = { name: string; close: () => Promise<void> };

/**
 * Graceful shutdown: closers run in reverse registration order (last started, first stopped) so a consumer stops
 * before the producer it writes through. A second signal forces exit.
 */
export class Shutdown {
  private readonly closers: Closer[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs = 30_000,
  ) {}

  register(name: string, close: () => Promise<void>): void {
    this.closers.push({ name, close });
  }

  get isShuttingDown(): boolean {
    return this.running !== null;
  }

  run(reason: string): Promise<void> {
    if (this.running !== null) return this.running;
    this.logger.info({ reason }, 'shutting down');
    this.running = (async () => {
      const timer = setTimeout(() => {
        this.logger.error({ timeoutMs: this.timeoutMs }, 'shutdown timed out; exiting');
        process.exit(1);
      }, this.timeoutMs);
      timer.unref();
      for (const closer of [...this.closers].reverse()) {
        try {
          await closer.close();
        } catch (error) {
          this.logger.error({ err: error, closer: closer.name }, 'error while closing');
        }
      }
      clearTimeout(timer);
    })();
    return this.running;
  }

  /** Installs SIGINT/SIGTERM handlers that run the closers and then exit. */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): void {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) exit(130);
      void this.run(signal).then(() => exit(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}
