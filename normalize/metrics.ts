import { Metrics, consumerLagGauges } from '../runtime/index.ts';

export type NormalizeMetrics = ReturnType<typeof createNormalizeMetrics>;

/** Metrics of the normalizer; labels are bounded (source names, dead-letter codes, fixed results). */
export function createNormalizeMetrics(withDefaults = true) {
  const m = new Metrics('normalize', withDefaults);
  return {
    registry: m.registry,
    records: m.counter('records', 'input records by outcome (ok, dead_letter, duplicate) and source', ['outcome', 'source']),
    deadLetters: m.counter('dead_letters', 'records sent to siem.events.dlq by error code', ['code']),
    transactions: m.counter('transactions', 'Kafka transactions by result (committed, aborted)', ['result']),
    transactionSeconds: m.histogram(
      'transaction',
      'time from first send to commit of one transaction',
      [],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    assignedPartitions: m.gauge('assigned_partitions', 'count', 'm365.raw partitions assigned to this instance'),
    /** Lag of the group on m365.raw: `m365siem_normalize_consumer_lag_records` / `_seconds` (docs/pipeline-health.md). */
    consumerLag: consumerLagGauges(m),
    consumerRestarts: m.counter('consumer_restarts', 'times the m365.raw consumer stopped for good (client crash without restart) and was started again'),
  };
}
