/**
 * The shapes of the control plane's REST API as the UI reads them, derived from the zod schemas that generate the
 * OpenAPI document (control-plane/openapi.ts): the UI, the CLI, the UI test stub and the server share one contract
 * (decision 0196). Type-only imports: nothing of the server enters the bundle.
 *
 * The UI reads leniently (`Lenient`): every field optional and every closed list widened to its base type, so a
 * control plane one version older or newer never breaks a screen; a field the API does not have is a type error.
 */
import type {
  ConnectionResponse,
  ConnectionStatusName,
  EventSummary as ApiEventSummary,
  EventsPage as ApiEventsPage,
  FleetActivity as ApiFleetActivity,
  HourlyActivity as ApiHourlyActivity,
  HistoryEntryResponse,
  OrganizationResponse,
  PendingUpgradeResponse,
  PipelineStallResponse,
  PrincipalResponse,
  SourceViewResponse,
} from '../../../openapi.ts';

/** An API type as the UI reads it: fields optional, string/number unions widened, recursively. */
export type Lenient<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends ReadonlyArray<infer U>
        ? Array<Lenient<U>>
        : T extends object
          ? { [K in keyof T]?: Lenient<T[K]> }
          : T;

export type ConnectionStatus = ConnectionStatusName;
export type Cloud = NonNullable<ConnectionResponse['cloud']>;

/** GET /api/v1/me: the signed-in token's label and scope (read exactly: the UI decides what it may show). */
export type Principal = PrincipalResponse;
export type Organization = Lenient<OrganizationResponse> & Pick<OrganizationResponse, 'id' | 'name'>;
export type SourceView = Lenient<SourceViewResponse> & { name: string; state: string };
/** The index signature is only for `pendingRoles`' reading of older key names (`missing`, `roles`). */
export type PendingUpgrade = Lenient<PendingUpgradeResponse> & Record<string, unknown>;
export type MicrosoftManageApplication = Omit<Lenient<ConnectionResponse>, 'status' | 'sources' | 'pipelineStalls' | 'pendingUpgrade'> & {
  status: string;
  sources?: SourceView[];
  pipelineStalls?: PipelineStallView[];
  pendingUpgrade?: PendingUpgrade | null;
};
/** A stalled pipeline stage holding up this organization's data (reason pipeline_stalled). */
export type PipelineStallView = Lenient<PipelineStallResponse> & { stage: string; since: string };
/** One history entry: when, who (actor), what (action), and its message and detail. */
export type HistoryEntry = Lenient<HistoryEntryResponse>;
export type EventSummary = Lenient<ApiEventSummary> & { id: string; document: unknown };
export type EventsPage = { total: number; events: EventSummary[] };
export type OrganizationActivity = Lenient<ApiFleetActivity['items'][number]> & Pick<ApiFleetActivity['items'][number], 'orgId'>;
export type FleetActivity = Lenient<Omit<ApiFleetActivity, 'items'>> & { items: OrganizationActivity[] };
/** Read exactly: the chart's geometry needs every field (a missing `hours` would draw nothing sensible). */
export type HourlyActivity = ApiHourlyActivity;

/** The exact response types, for code that builds responses (the UI test stub). */
export type { ConsentUrlResponse } from '../../../openapi.ts';
export type {
  ApiEventsPage,
  ApiEventSummary,
  ApiFleetActivity,
  ApiHourlyActivity,
  ConnectionResponse,
  HistoryEntryResponse,
  OrganizationResponse,
  PendingUpgradeResponse,
  PipelineStallResponse,
  PrincipalResponse,
  SourceViewResponse,
};
