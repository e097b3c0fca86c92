/**
 * When `m365-siem start` starts an exited pipeline service again (docs/backpressure-and-recovery.md): after 1 s,
 * 2 s, 4 s … up to 30 s; more than `maxRestarts` exits within `windowMs` leaves it stopped, since a service that
 * cannot stay up needs a person, not a loop.
 */
export const RESTARTS_PER_WINDOW = 5;
export const RESTART_WINDOW_MS = 10 * 60_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

export type RestartDecision = { restart: true; delayMs: number; exitsInWindow: number } | { restart: false; exitsInWindow: number };

export class RestartPolicy {
  private readonly exits: number[] = [];

  constructor(
    readonly maxRestarts = RESTARTS_PER_WINDOW,
    readonly windowMs = RESTART_WINDOW_MS,
  ) {}

  /** Records an exit at `now` (ms) and says whether, and after how long, to start the service again. */
  onExit(now: number): RestartDecision {
    this.exits.push(now);
    while (this.exits.length > 0 && (this.exits[0] as number) < now - this.windowMs) this.exits.shift();
    const exitsInWindow = this.exits.length;
    if (exitsInWindow > this.maxRestarts) return { restart: false, exitsInWindow };
    return { restart: true, delayMs: Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (exitsInWindow - 1)), exitsInWindow };
  }
}
