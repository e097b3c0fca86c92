import { afterEach, describe, expect, it } from 'vitest';
import type { SourceName } from '../../runtime/index.ts';
import { GRAPH_SOURCE_SPECS, type WindowedGraphSource } from '../../ingest/graph-poller.ts';
import type { FetchFn } from '../../ingest/microsoft-http.ts';
import type { FaultRequest, TenantCreateRequest } from '../../simulator/control-client.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil, type IngestFixture } from './helpers/ingest-fixture.ts';

/**
 * The contract every poller family passes (STYLE.md practice 8, issue 14 item 4), run against the simulator and real
 * Kafka with the whole ingest service: (a) a result spread over several pages is read completely, once; (b) a throttled
 * request is waited out, nothing lost or duplicated; (c) an invalid or truncated page is a clear error (source status)
 * and a broken record a dead letter with its reason, losing nothing else; (d) a poller stopped in the middle of a
 * window and started again from its checkpoint publishes each record once. Every clause compares m365.raw with the
 * simulator's ledger. Faults are injected the moment the first page with a next link is answered, so they always hit
 * the middle of a paged window, with no timing guess.
 */
export interface PollerFamily {
  /** The source polled; one source per test so the simulator's faults (per tenant and API) hit only it. */
  source: SourceName;
  api: 'management' | 'graph';
  /** Tenant settings that make `records` span at least `minPages` pages. */
  tenant: Partial<TenantCreateRequest>;
  records: number;
  minPages: number;
  /** Whether a response is a page that names a next page (Management: NextPageUri header; Graph: @odata.nextLink). */
  isPagedResponse(url: string, res: Response, body: string): boolean;
  /** Whether a response carries records (a content blob; a Graph page), and how to add a non-object record to it. */
  isRecordPage(url: string): boolean;
  withBrokenRecord(body: string): string;
  recordsIn(body: string): number;
  /**
   * The least pause (ms) between a throttled answer and the tenant's next request (to the same path, with
   * `samePathOnly`), as the simulator's request log times them: Graph's Retry-After; the Management API's AF429
   * carries none (Activity API reference, "Errors"), so only that the client backs off instead of retrying at once.
   */
  minThrottlePauseMs: number;
  /** Whether the pause is owed per path (Graph: the throttled collection) or by every request to the API (Management). */
  samePathOnly: boolean;
  /**
   * Whether each throttled answer is followed by the pause, not only the last one: true where the poller asks one
   * page at a time; the Management poller fetches a listing page's blobs at once, so a blob request already on its
   * way when another was throttled may arrive just after that answer.
   */
  everyThrottledAnswer: boolean;
}

/** The tenant a request is for: in the path of the Management API, in the bearer token's `tid` claim for Graph. */
function tenantOfRequest(family: PollerFamily, url: string, init: RequestInit): string | null {
  if (family.api === 'management') return /\/api\/v1\.0\/([0-9a-f-]{36})\//i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? null;
  const auth = new Headers(init.headers).get('authorization') ?? '';
  const payload = auth.replace(/^Bearer\s+/i, '').split('.')[1];
  if (!payload) return null;
  const tid = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { tid?: unknown }).tid;
  return typeof tid === 'string' ? tid.toLowerCase() : null;
}

/**
 * Wraps fetch: calls `onResponse` with each answer of the family's API for `tenantId` before the poller sees it.
 * Only that tenant: the instance also polls organizations connected by earlier tests until their removal reaches it.
 */
function observingFetch(
  family: PollerFamily,
  tenantId: string,
  onResponse: (url: string, res: Response, body: string) => Promise<string | undefined> | string | undefined,
): FetchFn {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (!isApiUrl(family, url) || tenantOfRequest(family, url, init) !== tenantId.toLowerCase()) return res;
    const text = await res.text();
    const replaced = await onResponse(url, res, text);
    return new Response(replaced ?? text, { status: res.status, headers: res.headers });
  };
}

const isApiUrl = (family: PollerFamily, url: string) =>
  family.api === 'management' ? url.includes('/activity/feed/') : /\/(v1\.0|beta)\//.test(url) && !url.includes('/oauth2/');

export function describePollerContract(name: string, family: PollerFamily): void {
  describe(`poller contract: ${name} (${family.source})`, () => {
    const fx = useIngestFixture();
    let orgs = 0;
    const connected: string[] = [];

    // Each test's organization is removed after it: later tests' instances poll only their own (and cost less).
    afterEach(async () => {
      for (const orgId of connected.splice(0)) await fx().disconnect(orgId);
    });

    async function setUp(
      hook: (tenantId: string) => Parameters<typeof observingFetch>[2] = () => () => undefined,
    ): Promise<{ orgId: string; tenantId: string; ingest: Awaited<ReturnType<IngestFixture['startIngest']>> }> {
      const tenant = await fx().sim.tenant({ publicationDelayMs: [0, 0], ...family.tenant });
      const orgId = `org-contract-${++orgs}`;
      const ingest = await fx().startIngest({}, { fetch: observingFetch(family, tenant.tenantId, hook(tenant.tenantId)) });
      connected.push(orgId);
      await fx().connect(orgId, tenant.tenantId, [family.source]);
      if (family.api === 'management') await fx().waitForSubscriptions(tenant.tenantId);
      await fx().sim.control.addRecords(tenant.tenantId, family.source, family.records);
      return { orgId, tenantId: tenant.tenantId, ingest };
    }

    /** Waits for every ledger record in m365.raw, lets two more cycles run and read back, then checks each once. */
    async function expectEachRecordOnce(orgId: string, tenantId: string, ingest: Awaited<ReturnType<IngestFixture['startIngest']>>) {
      await waitUntil(
        async () => {
          const ledger = await fx().sim.control.ledger(tenantId, family.source);
          const got = new Set(publishedIds(fx().raw.values(), orgId, family.source));
          return ledger.pending === 0 && ledger.records.length > 0 && ledger.records.every((r) => got.has(r.id));
        },
        30_000,
        `every ledger record of ${family.source} in m365.raw`,
      );
      await fx().settle(ingest, orgId, [family.source]);
      const expected = await fx().ledgerIds(tenantId, family.source);
      const got = publishedIds(fx().raw.values(), orgId, family.source);
      expect(expected).toHaveLength(family.records);
      expect(duplicatesOf(got)).toEqual([]);
      expect(new Set(got)).toEqual(new Set(expected));
    }

    /**
     * Injects `fault` on this tenant's API once, when its first page naming a next page is answered (or, with
     * `onRecords`, its first answer carrying records).
     */
    const faultOnFirstPage =
      (fault: Omit<FaultRequest, 'tenantId' | 'target'>, onRecords = false) =>
      (tenantId: string) => {
        let injected = false;
        return async (url: string, res: Response, body: string) => {
          const trigger = onRecords ? res.status === 200 && family.isRecordPage(url) && family.recordsIn(body) > 0 : family.isPagedResponse(url, res, body);
          if (injected || !trigger) return undefined;
          injected = true;
          await fx().sim.control.injectFault({ tenantId, target: family.api, ...fault });
          return undefined;
        };
      };

    it('(a) paging: a result over several pages is read completely, once', async () => {
      let paged = 0;
      const { orgId, tenantId, ingest } = await setUp(() => (url, res, body) => {
        if (family.isPagedResponse(url, res, body)) paged++;
        return undefined;
      });
      await expectEachRecordOnce(orgId, tenantId, ingest);
      // The window really was paged: at least minPages − 1 answers named a next page.
      expect(paged).toBeGreaterThanOrEqual(family.minPages - 1);
    });

    it('(b) throttling: a throttled request is waited out, nothing lost or duplicated', async () => {
      const s = await setUp(faultOnFirstPage({ kind: 'throttle', count: 2 }));
      await expectEachRecordOnce(s.orgId, s.tenantId, s.ingest);
      // Timed by the simulator's own log of this tenant's requests: when a throttled answer was sent, when the
      // next request arrived. The client can only receive the answer later and send later, so load only widens it.
      const log = (await fx().sim.control.requestLog(s.tenantId)).requests.filter((r) => r.api === family.api);
      const throttled = log.filter((r) => r.fault === 'throttle');
      expect(throttled).toHaveLength(2);
      const checked = family.everyThrottledAnswer ? throttled : throttled.slice(-1);
      const pauses = checked.map((t) => {
        const answeredAt = t.answeredAtMs as number;
        // A throttled sibling that reached the simulator by the time this answer left was sent before the client
        // could know of it (the same millisecond, on a busy machine): it is company, not the retry.
        const sibling = (r: (typeof log)[number]) => r.fault === 'throttle' && r.receivedAtMs <= answeredAt;
        const next = log.find((r) => r.receivedAtMs >= answeredAt && r !== t && !sibling(r) && (!family.samePathOnly || r.path === t.path));
        return { pauseMs: next === undefined ? null : next.receivedAtMs - answeredAt, what: JSON.stringify({ throttled: t, next }) };
      });
      // Every throttled request was asked again (its records are all in m365.raw), after the pause.
      for (const p of pauses) {
        expect(p.pauseMs, `pause after the throttled answer ${p.what}`).not.toBeNull();
        // 10 ms for the millisecond rounding of the two readings; a pause cut short is a bug.
        expect(p.pauseMs as number, `pause after the throttled answer ${p.what}`).toBeGreaterThanOrEqual(family.minThrottlePauseMs - 10);
      }
    });

    for (const kind of ['malformed', 'truncated'] as const) {
      it(`(c) ${kind} page: a clear error in the source's status, then everything once`, async () => {
        // Every answer is bad until the cycle has failed and said why, however many requests a cycle makes at once
        // (the Management poller fetches a page's blobs together, so a count of bad answers would not be enough).
        const s = await setUp(faultOnFirstPage({ kind, durationMs: 120_000 }));
        const reason = kind === 'malformed' ? 'malformed_response' : 'microsoft_unavailable';
        // The status the instance reports (and publishes): read where it is made, so the fault ends right after
        // the failed cycle — a blob malformed for several cycles is dead-lettered by design, which is not this case.
        await waitUntil(() => s.ingest.service.statusOf(s.orgId, family.source)?.reason === reason, 30_000, `a failed cycle with ${reason}`);
        const failed = s.ingest.service.statusOf(s.orgId, family.source);
        for (const f of await fx().sim.control.listFaults()) if (f.tenantId === s.tenantId) await fx().sim.control.clearFault(f.id);
        expect(failed?.state).not.toBe('ok');
        expect(failed?.message).toBeTruthy();
        if (kind === 'malformed') expect(failed?.message).toMatch(/not JSON/);
        await expectEachRecordOnce(s.orgId, s.tenantId, s.ingest);
      });
    }

    it('(c) a broken record becomes a dead letter with its reason; its page-mates are published', async () => {
      let planted = false;
      const { orgId, tenantId, ingest } = await setUp(() => (url, res, body) => {
        if (planted || res.status !== 200 || !family.isRecordPage(url) || family.recordsIn(body) === 0) return undefined;
        planted = true;
        return family.withBrokenRecord(body);
      });
      await expectEachRecordOnce(orgId, tenantId, ingest);
      expect(planted).toBe(true);
      const dead = fx()
        .dlq.values()
        .filter((d) => d.orgId === orgId);
      expect(dead.map((d) => d.errorCode)).toEqual(['malformed_record']);
      expect(String(dead[0]?.errorMessage)).toMatch(/not an object/);
    });

    it('(d) restart in the middle of a window: stopped after a page, started from its checkpoint, each record once', async () => {
      // Every request after the first answer carrying records hangs: the poller is inside the window.
      const first = await setUp(faultOnFirstPage({ kind: 'slow', delayMs: 20_000, durationMs: 60_000 }, true));
      const tenantId = first.tenantId;
      await waitUntil(() => publishedIds(fx().raw.values(), first.orgId, family.source).length > 0, 30_000, 'a first page in m365.raw');
      await waitUntil(async () => (await fx().sim.control.listFaults()).some((f) => f.tenantId === tenantId), 10_000, 'the slow fault');
      const before = publishedIds(fx().raw.values(), first.orgId, family.source).length;
      expect(before).toBeLessThan(family.records);
      await first.ingest.close();
      for (const f of await fx().sim.control.listFaults()) if (f.tenantId === tenantId) await fx().sim.control.clearFault(f.id);
      const restarted = await fx().startIngest();
      await expectEachRecordOnce(first.orgId, first.tenantId, restarted);
    });
  });
}

/** Management Activity API: content listings paged with the NextPageUri header; records in content blobs. */
export const MANAGEMENT_FAMILY = (source: SourceName): PollerFamily => ({
  source,
  api: 'management',
  // 60 records, 10 a blob, 2 blobs a listing page: 3 listing pages.
  tenant: { recordsPerBlob: 10, contentPageSize: 2 },
  records: 60,
  minPages: 3,
  isPagedResponse: (url, res) => url.includes('/subscriptions/content') && res.status === 200 && res.headers.get('NextPageUri') !== null,
  isRecordPage: (url) => url.includes('/activity/feed/audit/'),
  withBrokenRecord: (body) => JSON.stringify([...(JSON.parse(body) as unknown[]), 'not a record']),
  recordsIn: (body) => {
    const parsed = JSON.parse(body) as unknown;
    return Array.isArray(parsed) ? parsed.length : 0;
  },
  // AF429 names no wait (Activity API reference, "Errors"): a client without a Retry-After backs off (Microsoft's
  // throttling guidance: exponential backoff); the suite asks only that it is not an immediate retry, a second at least.
  minThrottlePauseMs: 1_000,
  samePathOnly: false,
  everyThrottledAnswer: false,
});

const isCollectionUrl = (url: string, source: WindowedGraphSource) => new URL(url).pathname.endsWith(`/${GRAPH_SOURCE_SPECS[source].path}`);

/** Graph: pages linked by @odata.nextLink; `top` is the page size the source is served at. */
export const GRAPH_FAMILY = (source: WindowedGraphSource, records: number, top: number): PollerFamily => ({
  source,
  api: 'graph',
  // Graph's own service limits off: the only throttling is the contract's injected 429 with its Retry-After.
  tenant: { graphThrottling: false },
  records,
  minPages: Math.ceil(records / top),
  // Only the source's own collection: the ingest service asks Graph other things too (the licence tier).
  isPagedResponse: (url, res, body) => res.status === 200 && isCollectionUrl(url, source) && body.includes('"@odata.nextLink"'),
  isRecordPage: (url) => isCollectionUrl(url, source),
  withBrokenRecord: (body) => {
    const page = JSON.parse(body) as { value?: unknown[] };
    return JSON.stringify({ ...page, value: [...(page.value ?? []), 'not a record'] });
  },
  recordsIn: (body) => {
    const page = JSON.parse(body) as { value?: unknown };
    return Array.isArray(page.value) ? page.value.length : 0;
  },
  // The simulator's 429 carries Retry-After: 2; "Wait the number of seconds specified in the Retry-After field.
  // Retry the request." (Graph throttling guidance, "Best practices to handle throttling").
  minThrottlePauseMs: 2_000,
  samePathOnly: true,
  everyThrottledAnswer: true,
});
