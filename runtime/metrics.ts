import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Metric names follow one scheme: `m365siem_<component>_<what>_<unit|total>`; labels must be bounded
 * (source names, outcome codes, status reasons — never org ids of unbounded sets, user names or record ids).
 */
export type Component = 'controlplane' | 'ingest' | 'normalize' | 'index' | 'simulator' | 'runtime';

const NAME = /^[a-z][a-z0-9_]*$/;

export class Metrics {
  readonly registry = new Registry();

  constructor(
    readonly component: Component,
    withDefaults = true,
  ) {
    if (withDefaults) collectDefaultMetrics({ register: this.registry, prefix: `m365siem_${component}_process_` });
  }

  private name(what: string, suffix: string): string {
    if (!NAME.test(what)) throw new Error(`metric part "${what}" must be snake_case`);
    return `m365siem_${this.component}_${what}_${suffix}`;
  }

  counter<L extends string>(what: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name: this.name(what, 'total'), help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(what: string, unit: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name: this.name(what, unit), help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(what: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    return new Histogram({
      name: this.name(what, 'seconds'),
      help,
      labelNames,
      registers: [this.registry],
      ...(buckets ? { buckets } : {}),
    });
  }
}
