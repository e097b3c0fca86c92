/**
 * The operator UI end to end in Debian's Chromium (issue 9, "done when"): the real control plane, the simulator's
 * consent pages, ingest, normalize and index on real Kafka and OpenSearch. The tests run in order and share one
 * pipeline; each organization has its own simulated tenant. Screenshots of each main screen go to
 * test-artifacts/ui/.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimTenant } from '../../simulator/index.ts';
import { launchBrowser, screenshot, signIn, type TestBrowser } from './support/browser.ts';
import { ADMIN_TOKEN, V1_APP_ROLES, startPipeline, type Pipeline } from './support/pipeline.ts';

const ACTIVE_TIMEOUT_MS = 120_000;

describe('operator UI end to end (control plane, simulator, Kafka, OpenSearch)', () => {
  let p: Pipeline;
  let browser: TestBrowser;
  let context: BrowserContext;
  const orgs: Record<string, { id: string; name: string; tenant: SimTenant }> = {};

  beforeAll(async () => {
    // Manifest version 1 in force, so a later release (version 2) can change the required permissions.
    p = await startPipeline({ env: { PERMISSION_MANIFEST_VERSION: '1' }, appRoles: V1_APP_ROLES });
    browser = await launchBrowser();
    context = browser.context;
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await p?.close();
  }, 120_000);

  const statusOf = async (orgId: string) =>
    (
      await p.api<{ status: string; reason: string | null; pendingUpgrade: unknown; sources?: unknown }>(
        'GET',
        `/organizations/${orgId}/applications/microsoft-manage`,
      )
    ).body;

  async function newPage(): Promise<Page> {
    const page = await context.newPage();
    await signIn(page, p.url, ADMIN_TOKEN);
    return page;
  }

  /** Adds an organization through the UI and returns its id (read from the row). */
  async function addOrganization(page: Page, name: string): Promise<string> {
    await page.getByLabel('Organization name').fill(name);
    await page.getByRole('button', { name: 'Add organization' }).click();
    const row = page.locator('tr[data-org-id]', { hasText: name });
    await row.waitFor();
    const id = await row.getAttribute('data-org-id');
    if (!id) throw new Error('organization row without id');
    return id;
  }

  async function openConnectForm(page: Page, name: string, autoUpgrade: boolean): Promise<void> {
    await page.getByRole('button', { name: `Edit ${name}` }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByRole('button', { name: '+ New Application' }).click();
    await page.getByRole('button', { name: /Microsoft Manage/ }).click();
    const box = page.getByLabel('Enable Auto-Upgrade (Recommended)');
    expect(await box.isChecked()).toBe(true);
    if (!autoUpgrade) await box.uncheck();
  }

  /** Microsoft's consent pages in the simulator: pick the tenant's administrator when asked, then Accept or Cancel. */
  async function consent(popup: Page, account: string, action: 'accept' | 'cancel'): Promise<void> {
    await popup.waitForLoadState('domcontentloaded');
    await popup.locator('#login_hint, #accept').first().waitFor();
    if (await popup.locator('#login_hint').count()) {
      await popup.selectOption('#login_hint', account);
      await Promise.all([popup.waitForNavigation(), popup.locator('#next').click()]);
    }
    await popup.locator(`#${action}`).click();
  }

  async function connectThroughPopup(page: Page, tenant: SimTenant, action: 'accept' | 'cancel' = 'accept'): Promise<void> {
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Connect' }).click()]);
    await consent(popup, tenant.adminAccount, action);
    // The UI closes the pop-up once it has the outcome (message from the callback page, or the page itself).
    await popup.waitForEvent('close', { timeout: 20_000 });
  }

  const appStatus = (page: Page, status: string) => page.locator(`[data-testid="application-status"][data-status="${status}"]`);

  it('adds an organization, connects with auto-upgrade on, accepts in the pop-up and shows Active live', async () => {
    // No Entra ID P1/P2: sign-ins and the risk and registration reports are empty for lack of a licence, and the
    // UI says which licence; the Management API sources keep the connection Active.
    const tenant = await p.tenant({ licences: { entraP1: false, entraP2: false } });
    const name = `Contoso ${tenant.tenantId.slice(0, 4)}`;
    const page = await newPage();
    const id = await addOrganization(page, name);
    orgs.contoso = { id, name, tenant };
    await screenshot(page, 'organizations');
    await openConnectForm(page, name, true);
    await expect(page.locator('.reminder').textContent()).resolves.toMatch(/Global Administrator of the customer tenant.*never with a CSP partner account/);
    await screenshot(page, 'connect-form');
    await connectThroughPopup(page, tenant);
    await expect(page.locator('[data-testid="consent-result"]').textContent()).resolves.toMatch(/Consent granted/);
    // Live, without a reload: waiting for first events, then Active.
    await page.locator('[data-testid="application-status"]:is([data-status="waiting_for_first_events"],[data-status="active"])').waitFor({ timeout: 20_000 });
    await screenshot(page, 'application-waiting');
    await appStatus(page, 'active').waitFor({ timeout: ACTIVE_TIMEOUT_MS });
    expect(await page.locator('[data-testid="application-status"] .badge').textContent()).toBe('Active');
    const signIns = page.locator('tr[data-source="graph:signIns"]', { hasText: 'Empty: licence missing' });
    await signIns.waitFor({ timeout: 30_000 });
    await expect(signIns.textContent()).resolves.toMatch(/empty because the tenant has no Microsoft Entra ID P\d/);
    await screenshot(page, 'application-active');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.close();
  }, 240_000);

  it('works with a blocked pop-up: explains it and completes through the offered link', async () => {
    const tenant = await p.tenant();
    const name = `Fabrikam ${tenant.tenantId.slice(0, 4)}`;
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.open = () => null;
    });
    await signIn(page, p.url, ADMIN_TOKEN);
    const id = await addOrganization(page, name);
    orgs.fabrikam = { id, name, tenant };
    await openConnectForm(page, name, true);
    await page.getByRole('button', { name: 'Connect' }).click();
    const notice = page.locator('[data-testid="popup-blocked"]');
    await notice.waitFor();
    await expect(notice.textContent()).resolves.toMatch(/blocked the consent pop-up.*allow/s);
    await screenshot(page, 'popup-blocked');
    const [tab] = await Promise.all([page.waitForEvent('popup'), notice.getByRole('link', { name: /consent page/ }).click()]);
    await consent(tab, tenant.adminAccount, 'accept');
    await page.locator('[data-testid="application-status"]:is([data-status="waiting_for_first_events"],[data-status="active"])').waitFor({ timeout: 20_000 });
    await expect(page.locator('[data-testid="consent-result"]').textContent()).resolves.toMatch(/Consent granted/);
    await tab.close().catch(() => undefined);
    await page.close();
  }, 120_000);

  it('reports a consent cancelled in the pop-up and offers to connect again', async () => {
    const tenant = await p.tenant();
    const name = `Northwind ${tenant.tenantId.slice(0, 4)}`;
    const page = await newPage();
    const id = await addOrganization(page, name);
    await openConnectForm(page, name, true);
    await connectThroughPopup(page, tenant, 'cancel');
    const result = page.locator('[data-testid="consent-result"]');
    await result.waitFor();
    await expect(result.textContent()).resolves.toMatch(/Consent was not completed/);
    expect(await result.getAttribute('role')).toBe('alert');
    await page.getByRole('button', { name: 'Connect again' }).waitFor();
    await screenshot(page, 'consent-cancelled');
    expect((await statusOf(id)).status).not.toMatch(/active|waiting_for_first_events/);
    await page.close();
  }, 120_000);

  it('with auto-upgrade off, a manifest change shows a pending upgrade that is approved through the pop-up', async () => {
    const tenant = await p.tenant();
    const name = `Litware ${tenant.tenantId.slice(0, 4)}`;
    const page = await newPage();
    const id = await addOrganization(page, name);
    orgs.litware = { id, name, tenant };
    await openConnectForm(page, name, false);
    await connectThroughPopup(page, tenant);
    await page.locator('[data-testid="application-status"]:is([data-status="waiting_for_first_events"],[data-status="active"])').waitFor({ timeout: 20_000 });
    expect(await page.getByLabel('Enable Permissions Auto-Upgrade').isChecked()).toBe(false);

    // A release moves to manifest version 2 (one more role); the app registration declares it too.
    await p.control.patchApp({ requiredRoles: [...V1_APP_ROLES, 'UserAuthenticationMethod.Read.All'] });
    await p.restartControlPlane({ PERMISSION_MANIFEST_VERSION: '2' });
    await p.cp.verifyNow();
    const pending = page.locator('[data-testid="pending-upgrade"]');
    await pending.waitFor({ timeout: 30_000 });
    await expect(pending.textContent()).resolves.toContain('UserAuthenticationMethod.Read.All');
    await screenshot(page, 'pending-upgrade');

    const [popup] = await Promise.all([page.waitForEvent('popup'), pending.getByRole('button', { name: 'Approve' }).click()]);
    await consent(popup, tenant.adminAccount, 'accept');
    await popup.waitForEvent('close', { timeout: 20_000 });
    await pending.waitFor({ state: 'detached', timeout: 30_000 });
    expect((await statusOf(id)).pendingUpgrade).toBeNull();
    await page.close();
  }, 180_000);

  it('after the consent is revoked in the tenant, Repair re-runs the consent and the connection recovers', async () => {
    const { id, name, tenant } = orgs.contoso!;
    const page = await newPage();
    await page.getByRole('button', { name: `Edit ${name}` }).click();
    await appStatus(page, 'active').waitFor({ timeout: ACTIVE_TIMEOUT_MS });
    await p.control.revokeConsent(tenant.tenantId);
    await p.cp.verifyNow();
    const repair = page.getByRole('button', { name: 'Repair' });
    await repair.waitFor({ timeout: 30_000 });
    await appStatus(page, 'needs_attention').waitFor();
    await expect(page.locator('[data-testid="application-status"] .reason').textContent()).resolves.toMatch(/revoked|removed|service principal/i);
    await screenshot(page, 'needs-repair');
    const [popup] = await Promise.all([page.waitForEvent('popup'), repair.click()]);
    await consent(popup, tenant.adminAccount, 'accept');
    await popup.waitForEvent('close', { timeout: 20_000 });
    await expect(page.locator('[data-testid="consent-result"]').textContent()).resolves.toMatch(/Consent renewed/);
    // The pollers' next cycles with a fresh token clear the sources' revoked state.
    await page
      .locator('[data-testid="application-status"]:is([data-status="waiting_for_first_events"],[data-status="active"])')
      .waitFor({ timeout: 90_000 })
      .catch(async (error: unknown) => {
        await screenshot(page, 'failure-repair');
        throw new Error(`not recovered after Repair; API says ${JSON.stringify(await statusOf(id))}`, { cause: error });
      });
    expect((await statusOf(id)).status).not.toBe('needs_attention');
    await screenshot(page, 'repaired');
    await page.close();
  }, 240_000);

  it("Analysis shows the organization's sign-in and file events and none of another organization's", async () => {
    // A is fully licensed (sign-ins flow); B has activity of its own.
    const a = orgs.fabrikam!;
    const b = orgs.contoso!;
    const page = await newPage();
    await page.goto(`${p.url}/organizations/${encodeURIComponent(a.id)}/analysis`);
    const rows = page.locator('tr.event-row');
    const shown = () =>
      rows.evaluateAll((els) => els.map((e) => ({ id: e.getAttribute('data-event-id'), dataset: e.getAttribute('data-dataset'), text: e.textContent ?? '' })));

    /** Applies the filters until a row matching `want` shows (indexing takes a moment). */
    async function applyUntil(want: (r: { dataset: string | null; text: string }) => boolean, what: string): Promise<void> {
      const deadline = Date.now() + 120_000;
      for (;;) {
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.locator('[data-testid="events"][aria-busy="false"]').waitFor();
        const list = await shown();
        if (list.some(want)) return;
        if (Date.now() > deadline)
          throw new Error(`${what} did not appear; rows: ${list.length}, datasets: ${[...new Set(list.map((r) => r.dataset))].join(', ')}`);
        await page.waitForTimeout(3000);
      }
    }

    // Sign-ins.
    await page.getByLabel('Dataset').selectOption('azure.signinlogs');
    await applyUntil((r) => r.dataset === 'azure.signinlogs', 'sign-in events');
    expect(new Set((await shown()).map((r) => r.dataset))).toEqual(new Set(['azure.signinlogs']));
    const details = page.getByRole('button', { name: 'Details' }).first();
    await details.click();
    expect(await details.getAttribute('aria-expanded')).toBe('true');
    const json = JSON.parse((await page.locator('tr.event-detail:not([hidden]) pre').first().textContent()) ?? '{}') as { organization?: { id?: string } };
    expect(json.organization?.id).toBe(a.id);
    await screenshot(page, 'analysis-detail');

    // File activity (Management API SharePoint/OneDrive file operations).
    await page.getByLabel('Dataset').selectOption('o365.audit');
    await page.getByLabel('Action').fill('');
    await applyUntil((r) => r.dataset === 'o365.audit' && /File[A-Z]/.test(r.text), 'file events');
    await screenshot(page, 'analysis');
    // Readable at 1280×800: nothing wider than the window.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);

    // None of B's events, although B has events of its own; every event the API gives for A is A's.
    await page.getByLabel('Dataset').selectOption('');
    await page.getByLabel('Show').selectOption('200');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('[data-testid="events"][aria-busy="false"]').waitFor();
    const shownIds = new Set((await shown()).map((r) => r.id));
    expect(shownIds.size).toBeGreaterThan(0);
    const bEvents = (
      await p.api<{ events: Array<{ id: string; document: { organization?: { id?: string } } }> }>(
        'GET',
        `/organizations/${encodeURIComponent(b.id)}/events?size=200`,
      )
    ).body.events;
    expect(bEvents.length).toBeGreaterThan(0);
    expect(bEvents.filter((e) => shownIds.has(e.id))).toEqual([]);
    const aEvents = (
      await p.api<{ events: Array<{ document: { organization?: { id?: string } } }> }>('GET', `/organizations/${encodeURIComponent(a.id)}/events?size=200`)
    ).body.events;
    expect(new Set(aEvents.map((e) => e.document.organization?.id))).toEqual(new Set([a.id]));

    // Narrow window: still readable, no horizontal scrolling.
    await page.setViewportSize({ width: 420, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(440);
    await screenshot(page, 'analysis-narrow');
    await page.close();
  }, 300_000);

  it('shows the organization history with who, when and what', async () => {
    const { id } = orgs.litware!;
    const page = await newPage();
    await page.goto(`${p.url}/organizations/${encodeURIComponent(id)}/history`);
    const table = page.locator('table.history');
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBeGreaterThan(2);
    await expect(table.textContent()).resolves.toMatch(/ui-e2e-operator/);
    await screenshot(page, 'history');
    await page.close();
  }, 60_000);
});
