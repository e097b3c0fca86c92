/**
 * Progress of long work in the operator UI (issue 17 item 7), in Debian's Chromium against the real control plane
 * and ingest on real Kafka and the simulator: an operator's Audit Search back-fill shows an indeterminate bar while
 * Microsoft runs the query, then a bar with records of Microsoft's count, the rate and the time left, then how it
 * ended; a re-fetch shows the history re-polled of all the sources' spans with rate and ETA until every cursor is
 * back. The simulator's `slow` fault stretches the work so the running states stay on screen long enough to be read
 * (the waits are on what the page shows, never on time). Screenshots go to test-artifacts/ui/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionResponse } from '../../control-plane/openapi.ts';
import type { SimTenant } from '../../simulator/index.ts';
import { startWholePipeline, waitUntil, type Pipeline } from '../e2e/harness.ts';
import { launchBrowser, screenshot, signIn, type TestBrowser } from './support/browser.ts';

const DAY = 24 * 3_600_000;
const SOURCE = 'management:Audit.Exchange';
/** A figures line of a running job: percent, done of total, rate, time left. */
const RUNNING_FIGURES = /^\d{1,2}% · [\d,.]+ of ~?[\d,.]+ (records|h of history) · [\d,.]+ (records|h)\/s · ETA \d/;

describe('progress of a back-fill and a re-fetch in the UI (Chromium, control plane, ingest, simulator)', () => {
  let p: Pipeline;
  let browser: TestBrowser;
  let page: Page;
  let tenant: SimTenant;
  let orgId: string;

  beforeAll(async () => {
    p = await startWholePipeline({
      CONTROL_PLANE_UI: 'true',
      // No automatic back-fill at connection: the test asks for one while the page is open.
      INGEST_BACKFILL_MAX_DAYS: '0',
      INGEST_BACKFILL_POLL_MS: '300',
      INGEST_STATUS_INTERVAL_MS: '1000',
    });
    tenant = await p.control.createTenant({
      name: 'UI long work',
      domain: `ui-long-work-${Date.now().toString(36)}.example`,
      users: 5,
      publicationDelayMs: [0, 0],
      auditSearch: { queuedMs: 2_000, runningMs: 3_000, outcome: 'succeeded' },
    });
    // Yesterday's history, ten pages of the Audit Search records list.
    await p.control.addRecords(tenant.tenantId, SOURCE, 1_500, { eventsSpanMs: DAY });
    orgId = (await p.connect(tenant, 'Long work Ltd')).orgId;
    await waitUntil('the Exchange source to run a cycle', async () => (await status())?.sources.find((s) => s.name === SOURCE)?.state === 'ok', 90_000);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await signIn(page, p.controlPlaneUrl, p.operatorToken);
    await page.goto(`${p.controlPlaneUrl}/organizations/${orgId}/applications`);
    await page.locator('[data-testid="application-status"]').waitFor({ timeout: 60_000 });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await p?.close();
  }, 120_000);

  async function status(): Promise<ConnectionResponse | null> {
    const r = await p.api<ConnectionResponse>('GET', `/organizations/${orgId}/applications/microsoft-manage`);
    return r.status === 200 ? r.body : null;
  }
  const job = (kind: string) => page.locator(`[data-testid="work-progress"][data-kind="${kind}"]`);
  const figures = (kind: string) => job(kind).getByTestId('work-progress-figures');
  const noSidewaysScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

  it('shows a requested back-fill querying, then fetching with rate and ETA, then done', async () => {
    // Every Graph answer of this tenant (the Audit Search pages among them) takes 1.2 s longer.
    const slow = await p.control.injectFault({ tenantId: tenant.tenantId, target: 'graph', kind: 'slow', delayMs: 1_200 });
    const asked = await p.api<{ backfillGeneration: number }>('POST', `/organizations/${orgId}/applications/microsoft-manage/backfill`, {
      from: new Date(Date.now() - 2 * DAY).toISOString(),
    });
    expect(asked.status).toBe(200);

    // While Microsoft runs the query there are no figures to measure: an indeterminate bar (no value).
    await job('backfill').and(page.locator('[data-phase="querying"]')).waitFor({ timeout: 60_000 });
    expect(await job('backfill').locator('progress').getAttribute('value')).toBeNull();
    await expect(job('backfill').textContent()).resolves.toMatch(/Microsoft is running the audit log query/);
    await screenshot(page, 'work-backfill-querying');

    await figures('backfill').filter({ hasText: RUNNING_FIGURES }).waitFor({ timeout: 60_000 });
    const running = (await figures('backfill').textContent()) ?? '';
    expect(running).toMatch(/ of ~[\d,]+ records · /);
    const value = Number(await job('backfill').locator('progress').getAttribute('value'));
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThan(100);
    expect(await noSidewaysScroll()).toBe(true);
    await screenshot(page, 'work-backfill-fetching');
    await p.control.clearFault(slow.id);

    await job('backfill').and(page.locator('[data-phase="done"]')).waitFor({ timeout: 60_000 });
    const fetched = (await status())?.sources.find((s) => s.name === SOURCE)?.backfill;
    expect(fetched).toMatchObject({ generation: asked.body.backfillGeneration, state: 'succeeded' });
    expect(fetched?.recordsFetched).toBeGreaterThanOrEqual(1_500);
    expect(fetched?.recordsExpected).toBe(fetched?.recordsFetched);
    const n = fetched?.recordsFetched.toLocaleString('en-US') ?? '?';
    await expect(figures('backfill').textContent()).resolves.toMatch(new RegExp(`^100% · ${n} of ${n} records · [\\d,.]+ records/s · took \\d`));
    expect(await job('backfill').locator('progress').getAttribute('value')).toBe('100');
    await screenshot(page, 'work-backfill-done');
  }, 180_000);

  it('shows a re-fetch re-polling with rate and ETA until every source is back, at 1280 and 390 wide', async () => {
    const asked = await p.api<{ refetchGeneration: number }>('POST', `/organizations/${orgId}/applications/microsoft-manage/refetch`, {
      from: new Date(Date.now() - 5 * DAY).toISOString(),
    });
    expect(asked.status).toBe(200);
    // Management answers of this tenant take 5 s longer (below ingest's 10 s request timeout): its sources re-poll
    // five days window by window while the Graph sources are done, so the organization's re-fetch is part-way for
    // tens of seconds even on a loaded machine. Ingest rewinds at its next cycle, after the request reached it.
    const slow = await p.control.injectFault({ tenantId: tenant.tenantId, target: 'management', kind: 'slow', delayMs: 5_000 });

    await figures('refetch').filter({ hasText: RUNNING_FIGURES }).waitFor({ timeout: 90_000 });
    expect(await job('refetch').getAttribute('data-running')).toBe('true');
    await expect(figures('refetch').textContent()).resolves.toMatch(/ h of history · [\d,.]+ h\/s · ETA /);
    await expect(job('refetch').textContent()).resolves.toMatch(/re-polling Microsoft from .* on \d+ sources/);
    expect(await noSidewaysScroll()).toBe(true);
    await screenshot(page, 'work-refetch-running');
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await noSidewaysScroll()).toBe(true);
    await screenshot(page, 'work-refetch-running-390');
    await page.setViewportSize({ width: 1280, height: 800 });
    await p.control.clearFault(slow.id);

    await job('refetch').and(page.locator('[data-phase="done"]')).waitFor({ timeout: 120_000 });
    await expect(job('refetch').textContent()).resolves.toMatch(/done: \d+ sources caught up/);
    const refetched = (await status())?.sources.filter((s) => s.refetch) ?? [];
    expect(refetched.length).toBeGreaterThan(1);
    for (const s of refetched) {
      expect(s.refetch?.generation).toBe(asked.body.refetchGeneration);
      expect(Date.parse(s.refetch?.cursorAt ?? '')).toBeGreaterThanOrEqual(Date.parse(s.refetch?.until ?? ''));
    }
    await screenshot(page, 'work-refetch-done');
  }, 240_000);
});
