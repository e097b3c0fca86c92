/**
 * `replay --refetch/--backfill --follow` (issue 17 item 7): after the request, the command watches the organization's
 * connection status until that re-fetch or back-fill is done, drawing its progress — a bar with rate and time left
 * on a terminal, a plain line every few seconds elsewhere. The figures are the control plane's (the same reading as
 * the UI's progress bars, workProgressOf); stopping the command stops the watching, never the work.
 */
import { ConfigError, parseSettings } from '../runtime/index.ts';
import { cliSettingsSpec, workProgressOf, type ConnectionResponse, type WorkProgress } from '../control-plane/index.ts';
import { ProgressReporter, type ProgressOutput, type ProgressSnapshot } from './progress.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface FollowOptions {
  out: ProgressOutput;
  fetchImpl?: typeof fetch;
  /** Pause between two status reads (the control plane's status moves once per ingest cycle). */
  pollMs?: number;
  now?: () => number;
  /** The wait between reads; a test passes one that returns at once. */
  pause?: (ms: number) => Promise<void>;
  plainEveryMs?: number;
}

/** The progress as the reporter draws it; while nothing reports the requested generation, words that say so. */
export function workSnapshot(work: WorkProgress | undefined): ProgressSnapshot {
  if (!work) return { done: 0, unit: 'records', detail: 'waiting for ingest to pick the request up (its next poll cycle)', ratePerSecond: null, etaMs: null };
  return {
    done: work.done,
    ...(work.total !== null ? { total: work.total } : {}),
    unit: work.unit,
    detail: work.summary,
    ratePerSecond: work.ratePerSecond,
    etaMs: work.etaMs,
  };
}

/** The organization's connection, as GET …/applications/microsoft-manage answers it. */
async function readConnection(env: Env, orgId: string, fetchImpl: typeof fetch): Promise<ConnectionResponse> {
  const s = parseSettings(cliSettingsSpec, env);
  if (!s.token) throw new ConfigError(['M365_SIEM_TOKEN: required (an API token of the control plane)']);
  const url = `${s.url}/api/v1/organizations/${encodeURIComponent(orgId)}/applications/microsoft-manage`;
  let res: Response;
  try {
    res = await fetchImpl(url, { headers: { authorization: `Bearer ${s.token}`, accept: 'application/json' } });
  } catch (error) {
    throw new Error(`cannot reach the control plane at ${s.url}: ${(error as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`status answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as ConnectionResponse;
}

/**
 * Watches one re-fetch or back-fill (`generation` or later) until it is no longer running; returns how it ended.
 * A read that fails is said on the output and retried at the next poll: the work goes on without the watcher.
 */
export async function followWork(env: Env, orgId: string, kind: WorkProgress['kind'], generation: number, options: FollowOptions): Promise<WorkProgress> {
  const now = options.now ?? Date.now;
  const pause = options.pause ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const label = kind === 'backfill' ? '[back-fill]' : '[re-fetch]';
  const reporter = new ProgressReporter(label, options.out, { plainEveryMs: options.plainEveryMs ?? 5_000, now });
  for (;;) {
    let work: WorkProgress | undefined;
    try {
      const connection = await readConnection(env, orgId, options.fetchImpl ?? fetch);
      work = workProgressOf(connection.sources, now()).find((w) => w.kind === kind && w.generation >= generation);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      options.out.write(`${label} ${(error as Error).message}; trying again\n`);
    }
    if (work && !work.running) {
      reporter.finish(workSnapshot(work));
      return work;
    }
    reporter.update(workSnapshot(work));
    await pause(options.pollMs ?? 2_000);
  }
}
