import { Metrics } from '../runtime/index.ts';

/** The ingest service's metrics; labels are bounded (source names, API, outcome codes, status reasons). */
export function createIngestMetrics(withDefaults = true) {
  const m = new Metrics('ingest', withDefaults);
  return {
    registry: m.registry,
    requests: m.counter('microsoft_requests', 'Microsoft API requests by API and outcome', ['api', 'outcome']),
    backfillRecords: m.counter('backfill_records_fetched', 'Audit Search back-fill records fetched from Microsoft (published or found in the ledger)'),
    backfillQueries: m.counter('backfill_queries', 'Audit Search back-fills by outcome (succeeded, failed, not_offered, not_permitted)', ['outcome']),
    throttled: m.counter('throttled', 'throttling answers from Microsoft (429, AF429)', ['api']),
    recordsPublished: m.counter('records_published', 'records published to m365.raw', ['source']),
    duplicatesSkipped: m.counter('duplicates_skipped', 'records skipped because their id was already published within the horizon', ['source']),
    oversizedRecords: m.counter('oversized_records', 'records larger than m365.raw accepts even alone: dead-lettered instead (record_too_large)'),
    deadLettered: m.counter('dead_lettered', 'records or blobs dead-lettered by ingest', ['source', 'code']),
    tenantMismatch: m.counter('tenant_mismatch', "ALARM: records whose tenant is not the organization's tenant (refused)", ['source']),
    foreignUrls: m.counter('foreign_urls_refused', 'ALARM: content or next-page URLs outside the cloud profile host (refused)', ['api']),
    quotaWaits: m.counter('quota_waits', 'cycles delayed because the organization was past INGEST_TENANT_RECORDS_PER_HOUR', ['kind']),
    cycles: m.counter('cycles', 'poll cycles by source kind and outcome', ['kind', 'outcome']),
    transactions: m.counter('transactions', 'Kafka transactions by outcome', ['outcome']),
    windowsCompleted: m.counter('windows_completed', 'Management API windows completed (cursor advanced)', ['source']),
    dataLost: m.counter(
      'content_past_retention',
      'ALARM: data-loss markers recorded: intervals Microsoft will never serve (retention passed, subscription started or restarted)',
      ['source'],
    ),
    assignedTenants: m.gauge('assigned_tenants', 'count', 'organizations this instance polls'),
    runningSources: m.gauge('running_sources', 'count', '(organization, source) loops running'),
    httpInFlight: m.gauge('http_in_flight', 'count', 'Microsoft requests in flight'),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
