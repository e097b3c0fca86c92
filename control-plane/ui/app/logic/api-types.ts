/**
 * The shapes of the control plane's REST API (issue 4) as the UI reads them. Fields the UI does not strictly need
 * are optional so a newer control plane never breaks the screen.
 */

export type ConnectionStatus = 'not_connected' | 'connecting' | 'waiting_for_first_events' | 'active' | 'needs_attention' | 'disconnected';

export type Cloud = 'commercial' | 'gcc' | 'gcc-high' | 'dod';

/** GET /api/v1/me: the signed-in token's label and scope. */
export interface Principal {
  label: string;
  allOrganizations: 'admin' | 'viewer' | null;
  organizations: Array<{ id: string; role: 'admin' | 'viewer' }>;
  canCreateOrganizations: boolean;
}

export interface Organization {
  id: string;
  name: string;
  /** The list carries a summary of the connection (null: none); without it the UI asks the application endpoint. */
  connection?: { status: string; reason?: string | null; tenantId?: string | null; cloud?: string } | null;
  status?: string;
  createdAt?: string;
}

export interface SourceView {
  name: string;
  state: string;
  reason?: string | null;
  message?: string | null;
  licenceRequired?: string | null;
  lastEventAt?: string | null;
  events24h?: number | null;
}

export interface PendingUpgrade {
  missing?: string[];
  roles?: string[];
  consentUrl?: string;
  requestedAt?: string;
  manifestVersion?: number;
  [key: string]: unknown;
}

export interface MicrosoftManageApplication {
  status: ConnectionStatus | string;
  reason?: string | null;
  remedy?: string | null;
  tenantId?: string | null;
  cloud?: Cloud | string;
  autoUpgrade?: boolean;
  permissions?: { required?: string[]; granted?: string[]; missing?: string[] };
  pendingUpgrade?: PendingUpgrade | null;
  sources?: SourceView[];
  connectedAt?: string | null;
  firstEventAt?: string | null;
  lastEventAt?: string | null;
  /** Stalled pipeline stages holding up this organization's data (reason pipeline_stalled). */
  pipelineStalls?: PipelineStallView[];
}

export interface PipelineStallView {
  stage: string;
  topic?: string;
  partition?: number;
  since: string;
  lagRecords?: number;
}

export interface HistoryEntry {
  at?: string;
  time?: string;
  timestamp?: string;
  actor?: string;
  who?: string;
  action?: string;
  what?: string;
  type?: string;
  details?: unknown;
  [key: string]: unknown;
}

export interface EventSummary {
  id: string;
  '@timestamp'?: string | null;
  dataset?: string | null;
  action?: string | null;
  outcome?: string | null;
  category?: string[] | string | null;
  user?: string | null;
  sourceIp?: string | null;
  document: unknown;
}

export interface EventsPage {
  total: number;
  events: EventSummary[];
}
