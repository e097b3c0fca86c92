/**
 * One benchmark result. Absolute numbers drift on shared machines, so every result is a ratio against a
 * baseline measured in the same run.
 */
export interface BenchResult {
  /** Stable name, e.g. `normalize.throughput`. */
  name: string;
  value: number;
  unit: string;
  /** What the value was compared with, in words (e.g. "JSON.parse + JSON.stringify of the same records"). */
  baseline: string;
  baselineValue: number;
  /** value / baselineValue (or the inverse for lower-is-better metrics; the goal says which). */
  ratio: number;
  /** The target, in words, e.g. "ratio >= 0.33". */
  goal: string;
  /** Whether the goal was met in this run. */
  met?: boolean;
  notes?: string;
  /** Values sampled over the run (e.g. the soak's lag over time), written to bench-results.json as they are. */
  series?: ReadonlyArray<Record<string, number>>;
}

export interface BenchContext {
  kafkaBrokers: string;
  opensearchUrl: string;
}

export type BenchFn = (ctx: BenchContext) => Promise<BenchResult[]>;
