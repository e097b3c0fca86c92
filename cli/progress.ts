/**
 * Progress of long CLI work (replay, back-fill): on a terminal one line redrawn in place with a bar, the rate and the
 * time left; elsewhere (CI, a pipe, a log file) a plain line at most every `plainEveryMs`, so logs stay readable.
 */
import { formatDuration } from '../control-plane/index.ts';

export interface ProgressSnapshot {
  /** units done so far (e.g. offsets read) */
  readonly done: number;
  /** units in all, when known */
  readonly total?: number;
  /** what the numbers count, e.g. "records" */
  readonly unit: string;
  /** extra words after the figures, e.g. "1,200 events produced" */
  readonly detail?: string;
  /**
   * Rate and time left measured elsewhere (the control plane's status of a back-fill or re-fetch, which began
   * before this command watched it); otherwise both are measured from this reporter's start.
   */
  readonly ratePerSecond?: number | null;
  readonly etaMs?: number | null;
}

export interface ProgressOutput {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export { formatDuration };

const BAR_WIDTH = 24;
const count = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** One line describing a snapshot: bar (when the total is known), counts, rate and ETA. Pure, for the tests. */
export function renderProgress(p: ProgressSnapshot, elapsedMs: number, options: { bar: boolean }): string {
  const measured = p.ratePerSecond !== undefined;
  const rate = measured ? (p.ratePerSecond ?? 0) : elapsedMs > 0 ? (p.done / elapsedMs) * 1000 : 0;
  const parts: string[] = [];
  if (p.total !== undefined && p.total > 0) {
    const fraction = Math.min(1, p.done / p.total);
    if (options.bar) {
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
    }
    parts.push(`${(fraction * 100).toFixed(fraction >= 1 ? 0 : 1)}%`, `${count(p.done)}/${count(p.total)} ${p.unit}`);
  } else {
    parts.push(`${count(p.done)} ${p.unit}`);
  }
  parts.push(`${measured ? count(rate) : Math.round(rate).toLocaleString('en-US')} ${p.unit}/s`);
  const eta = measured ? (p.etaMs ?? null) : p.total !== undefined && p.total > p.done && rate > 0 ? ((p.total - p.done) / rate) * 1000 : null;
  if (eta !== null) parts.push(`ETA ${formatDuration(eta)}`);
  else parts.push(`elapsed ${formatDuration(elapsedMs)}`);
  if (p.detail) parts.push(`— ${p.detail}`);
  return parts.join('  ');
}

export class ProgressReporter {
  private readonly started: number;
  private lastPlainAt = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly out: ProgressOutput,
    private readonly options: { plainEveryMs?: number; now?: () => number } = {},
  ) {
    this.started = this.now();
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  update(p: ProgressSnapshot): void {
    const elapsed = this.now() - this.started;
    if (this.out.isTTY) {
      const line = `${this.label} ${renderProgress(p, elapsed, { bar: true })}`;
      const width = this.out.columns ?? 120;
      this.out.write(`\r${line.slice(0, width - 1).padEnd(width - 1)}`);
      this.drawn = true;
      return;
    }
    if (this.now() - this.lastPlainAt < (this.options.plainEveryMs ?? 5_000)) return;
    this.lastPlainAt = this.now();
    this.out.write(`${this.label} ${renderProgress(p, elapsed, { bar: false })}\n`);
  }

  /** The last state, always written, and the terminal line closed. */
  finish(p: ProgressSnapshot): void {
    const elapsed = this.now() - this.started;
    const line = `${this.label} ${renderProgress(p, elapsed, { bar: this.out.isTTY === true })}`;
    this.out.write(this.out.isTTY && this.drawn ? `\r${line}\n` : `${line}\n`);
  }
}
