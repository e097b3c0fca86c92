/**
 * Public surface of the control plane: start it (the entry point wires Kafka, msal and HTTP together), build its
 * express app for in-process tests, and register its CLI commands.
 */
import { createServer, type Server } from 'node:http';
import type { RequestHandler } from 'express';
import {
  AppTokenProvider,
  createKafkaClient,
  createLogger,
  createOpenSearchClient,
  parseCommonSettings,
  Shutdown,
  startOpsServer,
  topicSpecs,
  withRetry,
  type KafkaClient,
  type Logger,
} from '../runtime/index.ts';
import type { SchemaRegistryView } from '../schemas/index.ts';
import { buildControlPlaneApp } from './app.ts';
import { ApiError, requireOrganizationRole, requireToken, roleFor } from './auth.ts';
import { activityRouter } from './events-activity.ts';
import { eventsRouter } from './events-api.ts';
import { parseControlPlaneConfig, type ControlPlaneConfig } from './config.ts';
import { ConsentStateSigner } from './consent-state.ts';
import { ConnectionService, SYSTEM_ACTOR, type TokenSource } from './connection-service.ts';
import { createControlPlaneMetrics } from './metrics.ts';
import { OrganizationStore } from './organization-store.ts';
import { PipelineHealth } from './pipeline-health.ts';
import { requestBackfill } from './backfill.ts';
import { requestRefetch } from './refetch.ts';
import { SourceStatusView } from './source-status-view.ts';
import type { FetchLike } from './upgrades.ts';

export { buildControlPlaneApp, type ControlPlaneAppOptions } from './app.ts';
export { parseControlPlaneConfig, controlPlaneSettingsSpec, cliSettingsSpec, type ControlPlaneConfig } from './config.ts';
export { registerControlPlaneCommands } from './cli.ts';
export { hashToken } from './auth.ts';
export { ConnectionService } from './connection-service.ts';
export { manifestFor, LATEST_MANIFEST_VERSION, MANIFEST_VERSIONS, requiredRoles, diffPermissions } from './permission-manifest.ts';
export { REASONS, CONNECTION_REASONS, computeStatus, type PipelineStall } from './status.ts';
export { PipelineHealth } from './pipeline-health.ts';
export { formatDuration, progressFigures, workProgressOf, type WorkProgress } from './ui/app/logic/work-progress.ts';
export type { ConnectionResponse } from './openapi.ts';
export { organizationRecordSchema, type OrganizationRecord } from './organization-store.ts';

export interface ControlPlaneDeps {
  kafka?: KafkaClient;
  tokens?: TokenSource;
  logger?: Logger;
  fetchImpl?: FetchLike;
  schemaRegistry?: SchemaRegistryView;
  now?: () => number;
  propagationDelayMs?: number;
}

export interface RunningControlPlane {
  url: string;
  port: number;
  /** Base URL of the ops listener: /healthz, /readyz, /metrics. */
  opsUrl: string;
  config: ControlPlaneConfig;
  service: ConnectionService;
  /** Runs the periodic re-verification of every connected organization now. */
  verifyNow(): Promise<void>;
  /** Runs the pipeline stall check now (it runs every CONTROL_PLANE_PIPELINE_CHECK_SECONDS). */
  checkPipelineNow(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startControlPlane(env: Readonly<Record<string, string | undefined>>, deps: ControlPlaneDeps = {}): Promise<RunningControlPlane> {
  const config = parseControlPlaneConfig(env);
  const logger = deps.logger ?? createLogger('control-plane', { level: config.logLevel });
  const kafka = deps.kafka ?? createKafkaClient(config.kafka, logger, 'control-plane');
  const topics = topicSpecs(config.topics);
  // Fresh topics can answer "not the leader" / "unknown partition" for a moment after creation, and a broker may be
  // restarting: start steps are retried (bounded) before the service gives up.
  const startStep = <T>(name: string, step: () => Promise<T>) =>
    withRetry(step, {
      attempts: 8,
      initialMs: 250,
      maxMs: 4_000,
      onRetry: (error, attempt) => logger.warn({ err: error, step: name, attempt }, 'start step failed; retrying'),
    });
  // The history topic is compacted and partitioned like the tenants topic, but only the control plane reads it.
  const historyTopic = { ...topics.tenants, name: config.historyTopic };
  await startStep('ensure topics', () => kafka.ensureTopics([topics.tenants, topics.status, historyTopic]));

  const store = new OrganizationStore({
    kafka,
    topic: topics.tenants.name,
    historyTopic: historyTopic.name,
    historyMaxBytes: config.historyMaxBytes,
    logger,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const statuses = new SourceStatusView(kafka, topics.status.name, logger);
  // A data-loss marker enters the organization's history once (issue 18): keyed by source and interval, checked
  // against the history kept (so a restart replaying m365.status adds nothing) and against markers being written.
  const gapsWriting = new Set<string>();
  statuses.onNewGaps = (orgId, source, gaps) => {
    if (!store.get(orgId)) return;
    const keyOf = (g: { from: string; to: string; cause: string }) => `${orgId}|${source}|${g.from}|${g.to}|${g.cause}`;
    const known = new Set(
      store
        .history(orgId)
        .filter((e) => e.action === 'data_loss.recorded')
        .map((e) => keyOf(e.detail as { from: string; to: string; cause: string })),
    );
    const fresh = gaps.filter((g) => !known.has(keyOf(g)) && !gapsWriting.has(keyOf(g)));
    if (fresh.length === 0) return;
    for (const g of fresh) gapsWriting.add(keyOf(g));
    void store
      .mutate(orgId, SYSTEM_ACTOR, () => ({
        record: undefined,
        result: undefined,
        history: fresh.map((g) => ({
          action: 'data_loss.recorded',
          message: `data lost on ${source}: Microsoft will never serve ${g.from} – ${g.to} (${g.cause})`,
          detail: { source, from: g.from, to: g.to, cause: g.cause },
        })),
      }))
      .catch((error: unknown) => logger.error({ err: error, orgId }, 'data-loss history entry not written'))
      .finally(() => {
        for (const g of fresh) gapsWriting.delete(keyOf(g));
      });
  };
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'error while closing'));
  };
  try {
    await startStep('rebuild organizations', () => store.start());
    closers.push(() => store.close());
    await startStep('start status consumer', () => statuses.start());
    closers.push(() => statuses.close());
  } catch (error) {
    await closeAll();
    throw error;
  }

  const metrics = createControlPlaneMetrics();
  const pipeline = new PipelineHealth({
    kafka,
    stages: [
      { stage: 'normalize', groupId: config.pipeline.groups.normalize, topic: topics.raw.name },
      { stage: 'index', groupId: config.pipeline.groups.index, topic: topics.events.name },
    ],
    stallAfterMs: config.pipeline.stallSeconds * 1000,
    intervalMs: config.pipeline.checkSeconds * 1000,
    logger,
    metrics: metrics.metrics,
  });
  pipeline.start();
  closers.push(() => pipeline.stop());
  const service = new ConnectionService({
    store,
    tokens: deps.tokens ?? new AppTokenProvider(config.registrations, config.clouds, logger),
    statuses,
    pipeline,
    signer: new ConsentStateSigner(config.stateSecret, deps.now),
    clouds: config.clouds,
    publicUrl: config.publicUrl,
    manifestVersion: config.manifestVersion,
    expectedLagSeconds: config.expectedLagSeconds,
    logger,
    metrics,
    ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.propagationDelayMs !== undefined ? { propagationDelayMs: deps.propagationDelayMs } : {}),
  });
  closers.push(() => service.close());
  const extraRouters = [];
  if (config.eventsApi && config.openSearch) {
    const openSearch = createOpenSearchClient(config.openSearch);
    closers.push(() => openSearch.close());
    const token = requireToken(config.tokens);
    const orgViewer = requireOrganizationRole('viewer');
    // Authenticated, and viewer (or more) on this very organization: an MSP analyst never searches another customer.
    // A token on every organization passes the role check for any id; an organization that does not exist is still
    // 404, as the contract says, not an empty answer that looks like a quiet customer.
    const existing: RequestHandler = (req, _res, next) =>
      store.get(String(req.params.id ?? ''))
        ? next()
        : next(new ApiError(404, 'not_found', `organization ${String(req.params.id ?? '').slice(0, 64)} does not exist`));
    const requireViewer: RequestHandler = (req, res, next) =>
      token(req, res, (error?: unknown) =>
        error ? next(error) : orgViewer(req, res, (denied?: unknown) => (denied ? next(denied) : existing(req, res, next))),
      );
    extraRouters.push(
      eventsRouter({
        openSearch,
        indexAlias: config.eventsIndex,
        requireViewer,
      }),
      activityRouter({
        openSearch,
        indexAlias: config.eventsIndex,
        requireViewer,
        requireToken: token,
        visibleOrganizationIds: (req) =>
          store
            .list()
            .filter((o) => roleFor(req.principal!, o.orgId) !== null)
            .map((o) => o.orgId),
      }),
    );
  }
  const readiness = () => (!store.loaded ? 'organization state not loaded' : !statuses.isRunning ? 'status consumer not running' : null);
  const ui = config.ui ? (await import('./ui/index.ts')).uiRouter() : undefined;
  const app = buildControlPlaneApp({
    extraRouters,
    ...(ui ? { ui } : {}),
    service,
    tokens: config.tokens,
    metrics,
    logger,
    publicUrl: config.publicUrl,
    rateLimits: config.rateLimits,
    trustProxy: config.trustProxy,
    refetch: (actor, orgId, from) => requestRefetch(store, actor, orgId, from, (deps.now ?? Date.now)()),
    backfill: (actor, orgId, from) => requestBackfill(store, actor, orgId, from, (deps.now ?? Date.now)()),
    readiness,
    ...(deps.schemaRegistry ? { schemaRegistry: deps.schemaRegistry } : {}),
  });

  const server: Server = createServer(app);
  let opsPort: number;
  try {
    // The ops listener (loopback only) is the one place /metrics is served: docs/security.md.
    const ops = await startOpsServer({ port: config.opsPort, registry: metrics.metrics.registry, readiness });
    closers.push(() => ops.close());
    opsPort = ops.port;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await closeAll();
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );

  let verifying: Promise<void> | null = null;
  const verifyNow = () => {
    verifying ??= service.verifyAll().finally(() => {
      verifying = null;
    });
    return verifying;
  };
  if (config.verifyIntervalSeconds > 0) {
    const timer = setInterval(() => {
      void verifyNow().catch((error: unknown) => logger.error({ err: error }, 'periodic verification failed'));
    }, config.verifyIntervalSeconds * 1000);
    timer.unref();
    closers.push(async () => {
      clearInterval(timer);
      await verifying?.catch(() => undefined);
    });
  }

  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  logger.info({ url, opsUrl, publicUrl: config.publicUrl, manifestVersion: config.manifestVersion }, 'control plane listening');
  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    opsUrl,
    config,
    service,
    verifyNow,
    checkPipelineNow: () => pipeline.checkNow(),
    close: () => (closed ??= closeAll()),
  };
}

/** `m365-siem start control-plane`: runs until SIGINT/SIGTERM. */
export async function runControlPlane(env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const logger = createLogger('control-plane', { level: parseCommonSettings(env).logLevel });
  const running = await startControlPlane(env, { logger });
  const shutdown = new Shutdown(logger);
  shutdown.register('control-plane', () => running.close());
  shutdown.installSignalHandlers();
  process.stdout.write(`${JSON.stringify({ service: 'control-plane', url: running.url, opsUrl: running.opsUrl, ready: true })}\n`);
}
