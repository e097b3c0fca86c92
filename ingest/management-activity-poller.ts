import { z } from 'zod';
import { managementContentType, type DeadLetterCode, type ManagementSource } from '../runtime/index.ts';
import { idHash } from './checkpoint-store.ts';
import type { DataLossCause } from '../runtime/index.ts';
import { ApiPermanentError, ApiRetriableError, failureOf, type RequestTarget } from './microsoft-http.ts';
import {
  attempt,
  canonicalJson,
  countCommitted,
  emptyReport,
  guardPage,
  recordGap,
  runPool,
  type CycleReport,
  type Poller,
  type PollerContext,
} from './poller.ts';
import type { RefusedRecord } from './source-progress.ts';
import { formatManagementTime, parseMicrosoftDate, planWindows, type TimeWindow } from './windows.ts';

/**
 * Office 365 Management Activity API, one content type of one organization (reference/microsoft-apis.md §1).
 *
 * Each cycle lists /subscriptions/content in windows on contentCreated (≤ 24 h, ≥ now − 7 days, start
 * inclusive / end exclusive) from `cursor − overlap` to now, following NextPageUri; fetches the blobs not yet in
 * the ledger with bounded concurrency; publishes each blob's records in the transaction that records the blob as
 * done; and moves the cursor to a window's end only once every blob of the window is committed.
 */

// Liberal: extra fields pass, optional ones may be missing (contentUri is rebuilt from contentId).
const contentItemSchema = z.looseObject({
  contentId: z.string().min(1),
  contentUri: z.string().optional(),
  contentCreated: z.string().optional(),
  contentExpiration: z.string().optional(),
  contentType: z.string().optional(),
});
const contentListSchema = z.array(z.unknown()).nullable();
const blobSchema = z.array(z.unknown());
const subscriptionListSchema = z.array(z.looseObject({ contentType: z.string().optional(), status: z.string().optional() })).nullable();

/**
 * "Once you submit a subscription request, a waiting period of 15 minutes is required before another request can be
 * made" (Activity API reference, "Working with the Office 365 Management Activity API"); stop is not throttled.
 */
export const SUBSCRIPTION_START_INTERVAL_MS = 15 * 60_000;

/**
 * The wait a start refusal names ("Too many frequent subscription start requests. Please retry again after 14m 56s",
 * reported by peers, elastic/integrations#15476), or undefined.
 */
export function startRetryAfterMs(message: string): number | undefined {
  const m = /after\s+(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?/i.exec(message);
  if (!m || (m[1] === undefined && m[2] === undefined)) return undefined;
  return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1_000;
}

/** Blobs that stay malformed for this many cycles are dead-lettered so one bad blob cannot block a tenant for 7 days. */
const MALFORMED_CYCLES_BEFORE_DEAD_LETTER = 5;

export type ContentItem = z.infer<typeof contentItemSchema>;

/** Reads the next-page header case-insensitively under both documented names. */
export function nextPageUri(headers: Headers): string | null {
  const v = headers.get('nextpageuri') ?? headers.get('nextpageurl');
  return v && v.trim() !== '' ? v.trim() : null;
}

/** Adds PublisherIdentifier to a Microsoft URL when it is missing (content URIs and next pages). */
export function withPublisher(url: string, publisherId: string): string {
  try {
    const u = new URL(url);
    for (const k of u.searchParams.keys()) if (k.toLowerCase() === 'publisheridentifier') return url;
  } catch {
    return url;
  }
  return `${url}${url.includes('?') ? '&' : '?'}PublisherIdentifier=${encodeURIComponent(publisherId)}`;
}

export class ManagementActivityPoller implements Poller {
  private subscriptionReady = false;
  private readonly contentType: string;
  private readonly root: string;
  private readonly target: RequestTarget;
  private readonly malformedCycles = new Map<string, number>();

  constructor(private readonly ctx: PollerContext) {
    this.contentType = managementContentType(ctx.source as ManagementSource);
    this.root = `${ctx.profile.managementHost}/api/v1.0/${ctx.tenantId}/activity/feed`;
    this.target = { tenantId: ctx.tenantId, cloud: ctx.profile.cloud, resource: 'management', base: ctx.profile.managementHost, budget: 'management' };
  }

  private get publisher(): string {
    return this.ctx.settings.publisherIdentifier;
  }

  async runCycle(signal: AbortSignal): Promise<CycleReport> {
    const report = emptyReport();
    if (!this.subscriptionReady) await this.ensureSubscription(signal);
    const s = this.ctx.settings;
    const now = this.ctx.now();
    const plan = planWindows({
      cursorMs: this.ctx.progress.effectiveCursorMs,
      nowMs: now,
      overlapMs: s.managementOverlapMs,
      maxWindowMs: s.managementWindowMs,
      initialLookbackMs: s.initialLookbackMs,
    });
    const cursor = this.ctx.progress.effectiveCursorMs;
    if (plan.lostMs > 0 && cursor !== null) {
      report.lostMs = plan.lostMs;
      await recordGap(this.ctx, { fromMs: cursor, toMs: cursor + plan.lostMs, cause: 'retention_passed', recordedAtMs: now });
    }
    for (const window of plan.windows) {
      report.oldestPendingMs = Math.max(window.startMs, this.ctx.progress.effectiveCursorMs ?? window.startMs);
      await this.processWindow(window, report, signal);
      // Every blob of the window is committed: the cursor may move to its end. Content ids that will no longer be
      // re-listed leave the ledger.
      await this.ctx.progress.advance(window.endMs, s.checkpointIntervalMs, {
        // The next listing starts at (this cursor or later) − overlap: older content ids are never listed again.
        pruneContentBeforeMs: window.endMs - s.managementOverlapMs,
      });
      this.ctx.metrics.windowsCompleted.inc({ source: this.ctx.source });
    }
    report.oldestPendingMs = null;
    return report;
  }

  private async ensureSubscription(signal: AbortSignal): Promise<void> {
    const list = await attempt(
      () =>
        this.ctx.http.json(this.target, `${this.root}/subscriptions/list?PublisherIdentifier=${this.publisher}`, subscriptionListSchema, {
          api: 'management',
          signal,
        }),
      signal,
    );
    const enabled = (list.body ?? []).some(
      (sub) => sub.contentType?.toLowerCase() === this.contentType.toLowerCase() && sub.status?.toLowerCase() === 'enabled',
    );
    if (!enabled) await this.startSubscription(signal);
    this.subscriptionReady = true;
  }

  /**
   * Starts (or re-enables) the subscription, at most once per 15 minutes per content type — the last request is kept
   * in the checkpoint, so a restart of ingest does not ask again early. A start that took effect records a data-loss
   * marker: Microsoft serves only content published after it (Activity API reference, "Stop a subscription"), so
   * [cursor, start) — or, on a first start, the initial look-back — is never served.
   */
  private async startSubscription(signal: AbortSignal): Promise<void> {
    const now = this.ctx.now();
    const cp = this.ctx.progress.checkpoint;
    const last = cp.subscription?.lastStartRequestMs ?? null;
    if (last !== null && now - last < SUBSCRIPTION_START_INTERVAL_MS) {
      const waitMs = SUBSCRIPTION_START_INTERVAL_MS - (now - last);
      // No Retry-After: the source backs off as usual and each cycle re-checks this, which costs one listing, no start.
      throw new ApiRetriableError({
        reason: 'subscription_disabled',
        code: 'subscription_start_wait',
        httpStatus: null,
        retriable: true,
        message: `the ${this.contentType} subscription is not enabled; Microsoft allows one start request per 15 minutes: asking again in ${Math.ceil(waitMs / 1000)} s`,
      });
    }
    // The request is recorded before it is sent: a crash right after it must not lead to a second one within 15 minutes.
    await this.ctx.progress.commit({ mutate: (c) => ({ ...c, subscription: { lastStartRequestMs: now, startedAtMs: c.subscription?.startedAtMs ?? null } }) });
    try {
      await this.ctx.http.json(
        this.target,
        `${this.root}/subscriptions/start?contentType=${this.contentType}&PublisherIdentifier=${this.publisher}`,
        z.unknown(),
        { api: 'management', method: 'POST', signal },
      );
    } catch (error) {
      const f = failureOf(error);
      // AF20024 "already enabled" (undocumented, HTTP 400): nothing stopped, nothing lost.
      if (f.code === 'AF20024') return;
      const named = f.reason === 'throttled' ? startRetryAfterMs(f.message) : undefined;
      if (named !== undefined) throw new ApiRetriableError({ ...f, retryAfterMs: Math.max(f.retryAfterMs ?? 0, named) });
      // Any other answer (a 5xx, a plain 429, a refusal) means the start did not take: it does not count towards
      // the 15 minutes, and the source retries with its usual backoff. Without an answer (a network error) the
      // request may have reached Microsoft, so it still counts.
      if (f.httpStatus !== null)
        await this.ctx.progress.commit({
          mutate: (c) => ({ ...c, subscription: { lastStartRequestMs: last, startedAtMs: c.subscription?.startedAtMs ?? null } }),
        });
      throw error;
    }
    const first = cp.cursorMs === null && (cp.subscription?.startedAtMs ?? null) === null;
    const cause: DataLossCause = first ? 'subscription_started' : 'subscription_restarted';
    const from = first ? now - this.ctx.settings.initialLookbackMs : (this.ctx.progress.effectiveCursorMs ?? now - this.ctx.settings.initialLookbackMs);
    await recordGap(this.ctx, { fromMs: from, toMs: now, cause, recordedAtMs: now });
    await this.ctx.progress.commit({ mutate: (c) => ({ ...c, subscription: { lastStartRequestMs: now, startedAtMs: now } }) });
    this.ctx.logger.info({ orgId: this.ctx.orgId, contentType: this.contentType, cause }, 'subscription started');
  }

  /** Lists one window page by page, handling each page's blobs before asking for the next. */
  private async processWindow(window: TimeWindow, report: CycleReport, signal: AbortSignal): Promise<void> {
    let url: string | null =
      `${this.root}/subscriptions/content?contentType=${this.contentType}&startTime=${formatManagementTime(window.startMs)}` +
      `&endTime=${formatManagementTime(window.endMs)}&PublisherIdentifier=${this.publisher}`;
    const seen = new Set<string>();
    let retriedSubscription = false;
    while (url !== null) {
      if (seen.has(url) || seen.size > 10_000)
        throw new ApiPermanentError({
          reason: 'malformed_response',
          code: 'paging_loop',
          httpStatus: null,
          retriable: false,
          message: 'NextPageUri repeats a page already read',
        });
      seen.add(url);
      const pageUrl: string = url;
      let page;
      try {
        page = await attempt(() => this.ctx.http.json(this.target, pageUrl, contentListSchema, { api: 'management', signal }), signal);
      } catch (error) {
        // AF20022 (no subscription) or AF20023 (stopped, or disabled by an admin): start it and list again, once.
        const code = failureOf(error).code;
        if ((code === 'AF20022' || code === 'AF20023') && !retriedSubscription) {
          retriedSubscription = true;
          seen.delete(pageUrl);
          await this.startSubscription(signal);
          continue;
        }
        throw error;
      }
      const next = nextPageUri(page.headers);
      url = next === null ? null : withPublisher(next, this.publisher);
      const items: ContentItem[] = [];
      const refused: RefusedRecord[] = [];
      for (const raw of page.body ?? []) {
        const parsed = contentItemSchema.safeParse(raw);
        if (parsed.success) items.push(parsed.data);
        else refused.push({ errorCode: 'malformed_content_item', errorMessage: 'listing item without contentId', input: raw });
      }
      if (refused.length > 0) {
        const r = await this.ctx.progress.commit({ deadLetters: refused });
        report.deadLettered += r.deadLettered;
      }
      await this.processBlobs(items, window, report, signal);
    }
  }

  private async processBlobs(items: ContentItem[], window: TimeWindow, report: CycleReport, signal: AbortSignal): Promise<void> {
    const done = this.ctx.progress.checkpoint.contentIds;
    const todo = items.filter((i) => done[idHash(i.contentId)] === undefined);
    const unique = [...new Map(todo.map((i) => [i.contentId, i])).values()];
    const errors = await runPool(unique, this.ctx.settings.blobConcurrency, (item) => this.processBlob(item, window, report, signal));
    if (errors.length > 0) throw errors[0];
  }

  private contentUriOf(item: ContentItem): string {
    return withPublisher(item.contentUri && item.contentUri.trim() !== '' ? item.contentUri.trim() : `${this.root}/audit/${item.contentId}`, this.publisher);
  }

  private async processBlob(item: ContentItem, window: TimeWindow, report: CycleReport, signal: AbortSignal): Promise<void> {
    const created = parseMicrosoftDate(item.contentCreated) ?? window.startMs;
    const uri = this.contentUriOf(item);
    const doneWith = async (errorCode: DeadLetterCode, errorMessage: string, input: unknown) => {
      const r = await this.ctx.progress.commit({ deadLetters: [{ errorCode, errorMessage, input }], contentIdsDone: { [idHash(item.contentId)]: created } });
      report.deadLettered += r.deadLettered;
    };
    // Guarantee 3: content is fetched only from this organization's tenant on its cloud's Management host.
    let path = '';
    try {
      path = new URL(uri).pathname.toLowerCase();
    } catch {
      return doneWith('malformed_content_item', 'contentUri is not a URL', item);
    }
    if (!path.includes(`/${this.ctx.tenantId.toLowerCase()}/`)) {
      this.ctx.metrics.foreignUrls.inc({ api: 'management' });
      this.ctx.logger.error({ orgId: this.ctx.orgId, source: this.ctx.source }, 'ALARM: contentUri names another tenant; refused');
      return doneWith('foreign_content_uri', 'contentUri points at another tenant; not fetched', item);
    }
    let body: unknown[];
    try {
      body = (await attempt(() => this.ctx.http.json(this.target, uri, blobSchema, { api: 'management', signal }), signal)).body;
    } catch (error) {
      const f = failureOf(error);
      if (f.code === 'foreign_host') {
        this.ctx.logger.error({ orgId: this.ctx.orgId, source: this.ctx.source }, 'ALARM: contentUri outside the cloud profile host; refused');
        return doneWith('foreign_content_uri', f.message, item);
      }
      if (f.code === 'AF20051' || f.code === 'AF20050' || f.code === 'AF20052') {
        // Expired or gone at Microsoft: nothing left to fetch; the loss is made visible, not silent.
        this.ctx.logger.error({ orgId: this.ctx.orgId, source: this.ctx.source, code: f.code }, 'content blob no longer retrievable');
        return doneWith(f.code === 'AF20051' ? 'content_expired' : 'content_missing', f.message, item);
      }
      if (f.reason === 'malformed_response') {
        const n = (this.malformedCycles.get(item.contentId) ?? 0) + 1;
        this.malformedCycles.set(item.contentId, n);
        if (n >= MALFORMED_CYCLES_BEFORE_DEAD_LETTER) {
          this.malformedCycles.delete(item.contentId);
          return doneWith('malformed_blob', `blob stayed malformed for ${n} cycles: ${f.message}`, item);
        }
      }
      throw error;
    }
    this.malformedCycles.delete(item.contentId);
    const { records, refused } = guardPage(this.ctx, report, 'management', body, (r) => {
      const id = typeof r.Id === 'string' && r.Id !== '' ? r.Id : typeof r.id === 'string' && r.id !== '' ? r.id : `sha:${canonicalJson(r)}`;
      return { dedupKey: id, record: r, contentId: item.contentId, eventMs: parseMicrosoftDate(r.CreationTime) };
    });
    if (refused.some((x) => x.errorCode === 'tenant_mismatch')) {
      this.ctx.logger.error(
        { orgId: this.ctx.orgId, source: this.ctx.source, refused: refused.length },
        'ALARM: records of another tenant refused and dead-lettered',
      );
    }
    countCommitted(report, await this.ctx.progress.commit({ records, deadLetters: refused, contentIdsDone: { [idHash(item.contentId)]: created } }));
  }
}
