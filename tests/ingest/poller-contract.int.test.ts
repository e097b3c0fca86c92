import { describePollerContract, GRAPH_FAMILY, MANAGEMENT_FAMILY } from './poller-contract.ts';

/**
 * The poller contract (tests/ingest/poller-contract.ts) for each poller family: the Management Activity API
 * (NextPageUri paging of content listings) and Graph at each paging shape it has — a report paged by Graph's
 * default page size (provisioning, 50) and identity protection (service principal risk detections, 20).
 */
describePollerContract('Management Activity API', MANAGEMENT_FAMILY('management:Audit.General'));
describePollerContract('Graph report', GRAPH_FAMILY('graph:provisioning', 120, 50));
describePollerContract('Graph identity protection', GRAPH_FAMILY('graph:servicePrincipalRiskDetections', 50, 20));
