/**
 * Operator scopes in the UI, in Debian's Chromium against the real control plane (UI on) on real Kafka: an MSP
 * analyst's token sees its customers only, is told its scope, and is offered no "Add organization" form; the
 * unscoped admin still sees every organization and the form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../control-plane/auth.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../control-plane/helpers/harness.ts';
import { launchBrowser, screenshot, signIn, type TestBrowser } from './support/browser.ts';

const ANALYST_TOKEN = 'ui-msp-analyst-token-0123456789';

describe('operator UI with a scoped token (Chromium, real control plane)', () => {
  let h: Harness;
  let browser: TestBrowser;
  let orgs: string[];

  beforeAll(async () => {
    h = await startHarness({ env: { CONTROL_PLANE_UI: 'true' } });
    orgs = [];
    for (const name of ['Scope Alpha', 'Scope Bravo', 'Scope Charlie', 'Scope Delta']) orgs.push(await h.createOrg(name));
    await h.restart({ CONTROL_PLANE_TOKENS: `${h.env.CONTROL_PLANE_TOKENS},viewer:msp-analyst:${hashToken(ANALYST_TOKEN)}:${orgs.slice(0, 3).join('+')}` });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  const rowIds = async (page: import('playwright-core').Page) => {
    await page.locator('tr[data-org-id]').first().waitFor();
    return (await page.locator('tr[data-org-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-org-id')))).sort();
  };

  it('shows the analyst its three organizations, its scope, and no form to add one', async () => {
    const page = await browser.context.newPage();
    await signIn(page, h.cp.url, ANALYST_TOKEN);
    expect(await rowIds(page)).toEqual(orgs.slice(0, 3).sort());
    await page.getByTestId('signed-in').filter({ hasText: 'msp-analyst' }).waitFor();
    expect(await page.getByTestId('signed-in').textContent()).toBe('Signed in as msp-analyst · 3 organizations (viewer)');
    await page.getByRole('heading', { name: 'Your organizations' }).waitFor();
    expect(await page.getByRole('button', { name: 'Add organization' }).count()).toBe(0);
    await screenshot(page, 'scoped-organizations');
    // A deep link to another customer shows nothing of it.
    await page.goto(`${h.cp.url}/organizations/${orgs[3]}`);
    await page
      .getByText(/does not exist/)
      .first()
      .waitFor();
    expect(await page.content()).not.toContain('Scope Delta');
    await page.close();
  });

  it('still shows the unscoped admin every organization and the form', async () => {
    const page = await browser.context.newPage();
    await signIn(page, h.cp.url, ADMIN_TOKEN);
    expect(await rowIds(page)).toEqual([...orgs].sort());
    await page.getByTestId('signed-in').filter({ hasText: 'every organization (admin)' }).waitFor();
    expect(await page.getByRole('button', { name: 'Add organization' }).count()).toBe(1);
    await page.close();
  });
});
