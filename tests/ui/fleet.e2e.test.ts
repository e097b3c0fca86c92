/**
 * The fleet view with 300 organizations, in Debian's Chromium against the real control plane on real Kafka and
 * OpenSearch (issue 17 item 6): counts by status, filter by name, sort by last event, the organization that went
 * quiet, an activity chart drawn from OpenSearch aggregations, and screenshots checked for layout — nothing
 * overflowing the viewport or its container horizontally — at 1280×800 and 390×844.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installIndexTemplate } from '../../index/index.ts';
import { DEFAULT_TEMPLATE_OPTIONS, dailyIndexName } from '../../schemas/opensearch/index.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../control-plane/helpers/harness.ts';
import { testOpenSearchClient } from '../helpers/clients.ts';
import { launchBrowser, screenshot, signIn, type TestBrowser } from './support/browser.ts';

const ORGS = 300;
const HOUR = 3_600_000;

/** Elements sticking out of the viewport or of a clipping ancestor, and text cut by its own box. */
async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width + 1) problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    const describe = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ')[0]}` : ''} "${(el.textContent ?? '').trim().slice(0, 30)}"`;
    for (const el of Array.from(document.querySelectorAll('main *'))) {
      const r = el.getBoundingClientRect();
      // Zero-size boxes and the 1 px screen-reader-only pattern (clip: rect(0 0 0 0)) show nothing to cut.
      const hidden = (e: Element | null): boolean => !!e && (getComputedStyle(e).clip === 'rect(0px, 0px, 0px, 0px)' || hidden(e.parentElement));
      if (r.width === 0 || r.height === 0 || hidden(el)) continue;
      if (r.left < -1 || r.right > width + 1) problems.push(`outside the viewport: ${describe(el)} (${Math.round(r.left)}–${Math.round(r.right)} of ${width})`);
      const style = getComputedStyle(el);
      if (el instanceof HTMLElement && style.overflowX !== 'visible' && !['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
        problems.push(`text clipped: ${describe(el)}`);
    }
    return problems.slice(0, 10);
  });
}

describe('fleet view with 300 organizations (Chromium, real control plane and OpenSearch)', () => {
  let h: Harness;
  let browser: TestBrowser;
  const ids: string[] = [];
  const now = Date.now();

  beforeAll(async () => {
    h = await startHarness({ env: { CONTROL_PLANE_UI: 'true' } });
    for (let i = 0; i < ORGS; i++) ids.push(await h.createOrg(`Fleet ${String(i).padStart(3, '0')}`));
    // Events as the indexer writes them: the real template, daily indices, the read alias.
    const client = testOpenSearchClient();
    const prefix = h.env.INDEX_PREFIX!;
    await installIndexTemplate(client, { ...DEFAULT_TEMPLATE_OPTIONS, prefix });
    const events: Array<Record<string, unknown>> = [];
    const event = (org: string, dataset: string, at: number) => ({
      '@timestamp': new Date(at).toISOString(),
      organization: { id: org },
      event: { dataset, action: 'x' },
    });
    // Fleet 000: busy in two sources up to now; Fleet 001: hourly for days, silent for the last 20 h (quiet:
    // 52 events in 7 days is a usual gap of 3.2 h, four of them 12.9 h);
    // Fleet 002: a few events yesterday.
    for (let hr = 0; hr < 72; hr++) {
      events.push(event(ids[0]!, 'azure.signinlogs', now - hr * HOUR - 60_000));
      if (hr % 3 === 0) events.push(event(ids[0]!, 'o365.audit', now - hr * HOUR - 120_000));
      if (hr >= 20) events.push(event(ids[1]!, 'o365.audit', now - hr * HOUR));
    }
    for (let n = 0; n < 3; n++) events.push(event(ids[2]!, 'o365.audit', now - 24 * HOUR - n * 60_000));
    await client.bulk({
      refresh: true,
      body: events.flatMap((e) => [{ index: { _index: dailyIndexName(prefix, new Date(String(e['@timestamp']))) } }, e]) as never,
    });
    await client.close();
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('counts, filters and sorts 300 organizations, shows the quiet one, and fits at 1280×800', async () => {
    const page = await browser.context.newPage();
    await signIn(page, h.cp.url, ADMIN_TOKEN);
    await page
      .getByTestId('fleet-shown')
      .filter({ hasText: `${ORGS} of ${ORGS}` })
      .waitFor();
    expect(await page.locator('[data-bucket="all"] .fleet-count-number').textContent()).toBe(String(ORGS));
    expect(await page.locator('[data-bucket="not_connected"] .fleet-count-number').textContent()).toBe(String(ORGS));
    expect(await page.locator('[data-bucket="quiet"] .fleet-count-number').textContent()).toBe('1');
    expect(
      await page
        .getByTestId('quiet-list')
        .locator('li')
        .evaluateAll((li) => li.map((l) => l.getAttribute('data-org-id'))),
    ).toEqual([ids[1]]);
    // 100 rows at a time.
    expect(await page.locator('tr[data-org-id]').count()).toBe(100);
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'fleet-1280');

    await page.getByRole('combobox', { name: 'Sort' }).selectOption('last-event-newest');
    const firstThree = () => page.locator('tr[data-org-id]').evaluateAll((rows) => rows.slice(0, 3).map((r) => r.getAttribute('data-org-id')));
    await expect.poll(firstThree).toEqual([ids[0], ids[1], ids[2]]);
    await page.getByRole('combobox', { name: 'Sort' }).selectOption('last-event-oldest');
    await expect.poll(firstThree).toEqual([ids[2], ids[1], ids[0]]);

    await page.getByRole('searchbox', { name: 'Find' }).fill('Fleet 29');
    await page
      .getByTestId('fleet-shown')
      .filter({ hasText: `10 of ${ORGS}` })
      .waitFor();
    await page.getByRole('searchbox', { name: 'Find' }).fill(ids[7]!);
    await page
      .getByTestId('fleet-shown')
      .filter({ hasText: `1 of ${ORGS}` })
      .waitFor();
    await page.getByRole('searchbox', { name: 'Find' }).fill('');
    await page.locator('[data-bucket="quiet"]').click();
    await page
      .getByTestId('fleet-shown')
      .filter({ hasText: `1 of ${ORGS}` })
      .waitFor();
    expect(await page.locator('tr[data-org-id]').getAttribute('data-org-id')).toBe(ids[1]);
    await page.getByRole('combobox', { name: 'Status' }).selectOption('active');
    await page
      .getByTestId('fleet-shown')
      .filter({ hasText: `0 of ${ORGS}` })
      .waitFor();
    await page.close();
  });

  it('draws the events per hour per source from OpenSearch on the Analysis tab', async () => {
    const page = await browser.context.newPage();
    await signIn(page, h.cp.url, ADMIN_TOKEN);
    await page.goto(`${h.cp.url}/organizations/${ids[0]}/analysis`);
    const chart = page.getByTestId('activity-chart');
    await chart.waitFor();
    expect((await chart.locator('polyline').evaluateAll((p) => p.map((l) => l.getAttribute('data-dataset')))).sort()).toEqual([
      'azure.signinlogs',
      'o365.audit',
    ]);
    await expect(chart.locator('figcaption').textContent()).resolves.toMatch(/azure\.signinlogs: 72.*o365\.audit: 24/);
    expect(await layoutProblems(page)).toEqual([]);
    // SVG text is not in the layout check: every axis label lies inside the chart.
    const outside = await chart.locator('svg.activity-svg').evaluate((svg) => {
      const box = svg.getBoundingClientRect();
      return Array.from(svg.querySelectorAll('text'))
        .filter((t) => {
          const r = t.getBoundingClientRect();
          return r.left < box.left - 0.5 || r.right > box.right + 0.5;
        })
        .map((t) => t.textContent);
    });
    expect(outside).toEqual([]);
    await screenshot(page, 'fleet-chart-1280');
    await page.close();
  });

  it('fits at 390×844', async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page, h.cp.url, ADMIN_TOKEN);
    await page
      .getByTestId('fleet-shown')
      .filter({ hasText: `${ORGS} of ${ORGS}` })
      .waitFor();
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'fleet-390');
    await page.goto(`${h.cp.url}/organizations/${ids[0]}/analysis`);
    await page.getByTestId('activity-chart').locator('polyline').first().waitFor();
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'fleet-chart-390');
    await page.close();
  });
});
