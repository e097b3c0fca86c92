/**
 * Browser smoke test of the operator UI against a STUB of the control-plane API (support/stub-control-plane.ts):
 * proves the screens, the consent pop-up mechanics and the blocked pop-up fallback in a real Chromium without the
 * rest of the system. The real end-to-end tests are ui.e2e.test.ts.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, signIn, type TestBrowser } from './support/browser.ts';
import { startStubControlPlane, type StubControlPlane } from './support/stub-control-plane.ts';

const TOKEN = 'stub-admin-token';
const VIEWER = 'stub-viewer-token';

describe('operator UI against the stub API (smoke)', () => {
  let stub: StubControlPlane;
  let browser: TestBrowser;

  beforeAll(async () => {
    stub = await startStubControlPlane({ adminToken: TOKEN, viewerToken: VIEWER, activateAfterMs: 1500 });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stub?.close();
  });

  async function addOrganization(page: Page, name: string): Promise<void> {
    await page.getByLabel('Organization name').fill(name);
    await page.getByRole('button', { name: 'Add organization' }).click();
    await page.getByRole('row', { name: new RegExp(name) }).waitFor();
  }

  async function openConnectForm(page: Page, name: string): Promise<void> {
    await page.getByRole('button', { name: `Edit ${name}` }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByRole('button', { name: '+ New Application' }).click();
    await page.getByRole('button', { name: /Microsoft Manage/ }).click();
  }

  it('refuses a wrong token with words', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stub.url}/`);
    await page.getByLabel('Operator token').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Missing or unknown bearer token.');
    await page.close();
  });

  it('adds an organization, connects through the pop-up and shows Active live', async () => {
    const page = await browser.context.newPage();
    await signIn(page, stub.url, TOKEN);
    await addOrganization(page, 'Contoso');
    await screenshot(page, 'stub-organizations');
    await openConnectForm(page, 'Contoso');
    expect(await page.getByLabel('Enable Auto-Upgrade (Recommended)').isChecked()).toBe(true);
    await expect(page.locator('.reminder').textContent()).resolves.toMatch(/Global Administrator of the customer tenant.*never with a CSP partner account/);
    await screenshot(page, 'stub-connect-form');
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Connect' }).click()]);
    await popup.waitForURL(/stub-consent/);
    await popup.locator('#accept').click();
    await popup.waitForEvent('close', { timeout: 10_000 });
    await page
      .getByText('Waiting for first events')
      .first()
      .waitFor()
      .catch(() => undefined);
    await page.locator('[data-testid="application-status"][data-status="active"]').waitFor({ timeout: 15_000 });
    await expect(page.locator('[data-testid="consent-result"]').textContent()).resolves.toMatch(/Consent granted/);
    await expect(page.locator('tr[data-source="graph:riskyUsers"]').textContent()).resolves.toMatch(/Microsoft Entra ID P2 licence/);
    await screenshot(page, 'stub-application-active');
    await page.close();
  }, 60_000);

  it('explains a blocked pop-up and works through the offered link', async () => {
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      window.open = () => null;
    });
    await signIn(page, stub.url, TOKEN);
    await addOrganization(page, 'Fabrikam');
    await openConnectForm(page, 'Fabrikam');
    await page.getByRole('button', { name: 'Connect' }).click();
    const notice = page.locator('[data-testid="popup-blocked"]');
    await notice.waitFor();
    await expect(notice.textContent()).resolves.toMatch(/blocked the consent pop-up.*Always allow pop-ups/s);
    await screenshot(page, 'stub-popup-blocked');
    const [tab] = await Promise.all([page.waitForEvent('popup'), notice.getByRole('link', { name: /consent page/ }).click()]);
    await tab.locator('#accept').click();
    await page.locator('[data-testid="application-status"][data-status="active"]').waitFor({ timeout: 15_000 });
    await tab.close().catch(() => undefined);
    await page.close();
  }, 60_000);

  it('reports a cancelled consent and keeps the connection unconnected', async () => {
    const page = await browser.context.newPage();
    await signIn(page, stub.url, TOKEN);
    await addOrganization(page, 'Northwind');
    await openConnectForm(page, 'Northwind');
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Connect' }).click()]);
    await popup.locator('#cancel').click();
    const result = page.locator('[data-testid="consent-result"]');
    await result.waitFor({ timeout: 10_000 });
    await expect(result.textContent()).resolves.toMatch(/Consent was not completed\. The administrator declined/);
    await screenshot(page, 'stub-consent-cancelled');
    await page.close();
  }, 60_000);

  it('learns the outcome from the callback page itself when it carries no script', async () => {
    stub.setCallbackScript(false);
    try {
      const page = await browser.context.newPage();
      await signIn(page, stub.url, TOKEN);
      await addOrganization(page, 'Litware');
      await openConnectForm(page, 'Litware');
      const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Connect' }).click()]);
      await popup.locator('#cancel').click();
      await popup.waitForEvent('close', { timeout: 10_000 });
      const result = page.locator('[data-testid="consent-result"]');
      await result.waitFor();
      await expect(result.textContent()).resolves.toMatch(/Consent was not completed\. Consent declined: AADSTS65004/);

      await page.getByRole('button', { name: 'Connect again' }).click();
      const [again] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Connect' }).click()]);
      await again.locator('#accept').click();
      await again.waitForEvent('close', { timeout: 10_000 });
      await page.locator('[data-testid="application-status"][data-status="active"]').waitFor({ timeout: 15_000 });
      await page.close();
    } finally {
      stub.setCallbackScript(true);
    }
  }, 60_000);

  it('approves a pending upgrade and repairs a revoked consent through the pop-up', async () => {
    const page = await browser.context.newPage();
    await signIn(page, stub.url, TOKEN);
    await page.getByRole('button', { name: 'Edit Contoso' }).click();
    const auto = page.getByLabel('Enable Permissions Auto-Upgrade');
    await auto.uncheck();
    await page.getByText('Auto-upgrade is off').waitFor();
    stub.requireNewRole('org_stub1', 'UserAuthenticationMethod.Read.All');
    const pending = page.locator('[data-testid="pending-upgrade"]');
    await pending.waitFor({ timeout: 15_000 });
    await expect(pending.textContent()).resolves.toContain('UserAuthenticationMethod.Read.All');
    await screenshot(page, 'stub-pending-upgrade');
    const [popup] = await Promise.all([page.waitForEvent('popup'), pending.getByRole('button', { name: 'Approve' }).click()]);
    await popup.locator('#accept').click();
    await pending.waitFor({ state: 'detached', timeout: 15_000 });

    stub.revokeConsent('org_stub1');
    const repair = page.getByRole('button', { name: 'Repair' });
    await repair.waitFor({ timeout: 15_000 });
    await expect(page.locator('[data-testid="application-status"]').textContent()).resolves.toMatch(/revoked/);
    await screenshot(page, 'stub-needs-repair');
    const [popup2] = await Promise.all([page.waitForEvent('popup'), repair.click()]);
    await popup2.locator('#accept').click();
    await page.locator('[data-testid="application-status"][data-status="active"]').waitFor({ timeout: 15_000 });

    // A stalled stage: never Active, the stage and since when on the status card, Active again when it runs on.
    stub.stallPipeline('org_stub1', { stage: 'normalize', since: '2026-12-02T04:31:10.000Z' });
    const stall = page.locator('[data-testid="pipeline-stalls"] li[data-stage="normalize"]');
    await stall.waitFor({ timeout: 15_000 });
    await expect(stall.textContent()).resolves.toMatch(
      /^Normalize stage stalled since .*2026-12-02 04:31:10 UTC.* on m365\.raw partition 1; 5,000 records wait\.$/,
    );
    await page.locator('[data-testid="application-status"][data-status="needs_attention"]').waitFor();
    await expect(page.locator('[data-testid="application-status"] .reason').textContent()).resolves.toMatch(/pipeline stage/);
    expect(await page.getByRole('button', { name: 'Repair' }).count()).toBe(0);
    await screenshot(page, 'stub-pipeline-stalled');
    stub.stallPipeline('org_stub1', null);
    await page.locator('[data-testid="application-status"][data-status="active"]').waitFor({ timeout: 15_000 });
    expect(await stall.count()).toBe(0);
    await page.close();
  }, 90_000);

  it('shows a viewer token’s refused change as a readable message, not JSON', async () => {
    const page = await browser.context.newPage();
    await signIn(page, stub.url, VIEWER);
    await page.getByLabel('Organization name').fill('Not allowed');
    await page.getByRole('button', { name: 'Add organization' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).toBe('this token has the viewer role and may only read; changes need an admin token');
    expect(text).not.toMatch(/[{}]/);
    await page.close();
  });

  it('shows events with their JSON detail and reads well on a narrow window', async () => {
    const page = await browser.context.newPage();
    await signIn(page, stub.url, TOKEN);
    await page.getByRole('button', { name: 'Edit Contoso' }).click();
    await page.getByRole('link', { name: 'Analysis' }).click();
    await page.locator('tr.event-row').first().waitFor();
    expect(await page.locator('tr.event-row').count()).toBe(2);
    await page.getByLabel('Dataset').selectOption('azure.signinlogs');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForFunction(() => document.querySelectorAll('tr.event-row').length === 1);
    const details = page.getByRole('button', { name: 'Details' }).first();
    await details.click();
    expect(await details.getAttribute('aria-expanded')).toBe('true');
    await expect(page.locator('tr.event-detail pre').first().textContent()).resolves.toContain('"organization"');
    await screenshot(page, 'stub-analysis');
    await page.setViewportSize({ width: 420, height: 800 });
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(440);
    await screenshot(page, 'stub-analysis-narrow');
    // Keyboard: from a fresh load, Tab past the skip link to the navigation link and follow it with Enter.
    await page.reload();
    await page.locator('tr.event-row').first().waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Organizations');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
    await page.close();
  }, 60_000);
});
