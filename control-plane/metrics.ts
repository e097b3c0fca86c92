import type { Counter, Gauge } from 'prom-client';
import { Metrics } from '../runtime/index.ts';

/** The control plane's metrics; labels are closed sets (outcomes, reasons, statuses, route templates). */
export interface ControlPlaneMetrics {
  metrics: Metrics;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  consentCallbacks: Counter<'outcome'>;
  consentLinksRefused: Counter<'problem'>;
  verifications: Counter<'outcome'>;
  roleAssignments: Counter<'outcome'>;
  connections: Gauge<'status'>;
}

export function createControlPlaneMetrics(withDefaults = true): ControlPlaneMetrics {
  const metrics = new Metrics('controlplane', withDefaults);
  return {
    metrics,
    httpRequests: metrics.counter('http_requests', 'REST API requests by route template, method and status', ['route', 'method', 'status']),
    consentCallbacks: metrics.counter('consent_callbacks', 'admin-consent callbacks by outcome', ['outcome']),
    consentLinksRefused: metrics.counter(
      'consent_links_refused',
      'replayed, expired, forged or unknown consent links, refused without writing anything, by problem',
      ['problem'],
    ),
    verifications: metrics.counter('verifications', 'connection verifications with fresh tokens by outcome (ok or status reason)', ['outcome']),
    roleAssignments: metrics.counter('role_assignments', 'application roles assigned by auto-upgrade, by outcome', ['outcome']),
    connections: metrics.gauge('connections', 'count', 'organizations by connection status at the last periodic verification', ['status']),
  };
}
