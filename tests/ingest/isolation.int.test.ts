import { describe, expect, it } from 'vitest';
import type { SourceName } from '../../runtime/index.ts';
import type { FetchFn } from '../../ingest/index.ts';
import { publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';
import { expectDeadLetterHeaders } from '../helpers/dead-letters.ts';

/**
 * Guarantee 3: records naming another tenant are refused (dead-lettered, counted, status tenant_mismatch) and
 * URLs outside the organization's cloud host are never followed. The simulator serves only well-behaved
 * content, so a fetch wrapper between the poller and the simulator plays the misbehaving service.
 */
const fx = useIngestFixture();
const FOREIGN_TENANT = '99999999-8888-4777-a666-555555555555';

describe('tenant isolation', () => {
  it('refuses records of another tenant and URLs off the cloud host, publishing everything else', async () => {
    const tenant = await fx().sim.tenant({ recordsPerBlob: 10 });
    const orgId = 'org-isolation';
    const mgmt: SourceName = 'management:Audit.Exchange';
    const requested: string[] = [];
    const tampered = new Set<string>();
    let foreignUriPlanted = false;
    let signInVictim: string | null = null;
    const tamper: FetchFn = async (url, init) => {
      requested.push(url);
      const res = await fetch(url, init);
      const text = await res.text();
      let body = text;
      if (res.status === 200 && url.includes('/activity/feed/audit/') && tampered.size < 3) {
        const records = JSON.parse(text) as Array<Record<string, unknown>>;
        const victim = records[0];
        if (victim && typeof victim.Id === 'string') {
          victim.OrganizationId = FOREIGN_TENANT;
          tampered.add(victim.Id);
        }
        body = JSON.stringify(records);
      } else if (res.status === 200 && url.includes('/subscriptions/content') && !foreignUriPlanted) {
        const items = JSON.parse(text) as Array<Record<string, unknown>>;
        if (items[0]) {
          items.push({ ...items[0], contentId: 'planted$1', contentUri: 'https://evil.example/api/v1.0/x/activity/feed/audit/planted$1' });
          foreignUriPlanted = true;
        }
        body = JSON.stringify(items);
      } else if (res.status === 200 && url.includes('/auditLogs/signIns')) {
        // Always the same record: Graph re-serves the lag window every cycle.
        const page = JSON.parse(text) as { value: Array<Record<string, unknown>> };
        if (signInVictim === null && page.value[0]) signInVictim = String(page.value[0].id);
        for (const r of page.value) {
          if (String(r.id) === signInVictim) {
            r.tenantId = FOREIGN_TENANT;
            tampered.add(signInVictim);
          }
        }
        body = JSON.stringify(page);
      }
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const ingest = await fx().startIngest({}, { fetch: tamper });
    await fx().connect(orgId, tenant.tenantId, [mgmt, 'graph:signIns']);
    await fx().waitForSubscriptions(tenant.tenantId);
    await fx().sim.control.addRecords(tenant.tenantId, mgmt, 50);
    await fx().sim.control.addRecords(tenant.tenantId, 'graph:signIns', 10);
    const ledger = async (s: SourceName) => (await fx().sim.control.ledger(tenant.tenantId, s)).records.map((r) => r.id);
    await waitUntil(
      async () => {
        const want = [...(await ledger(mgmt)), ...(await ledger('graph:signIns'))].filter((id) => !tampered.has(id));
        const got = new Set([...publishedIds(fx().raw.values(), orgId, mgmt), ...publishedIds(fx().raw.values(), orgId, 'graph:signIns')]);
        return tampered.size >= 3 && want.every((id) => got.has(id));
      },
      30_000,
      'every untampered record',
    );
    await fx().dlq.waitFor((all) => all.filter((d) => d.errorCode === 'tenant_mismatch').length >= tampered.size, 10_000, 'dead letters');
    const published = new Set([...publishedIds(fx().raw.values(), orgId, mgmt), ...publishedIds(fx().raw.values(), orgId, 'graph:signIns')]);
    for (const id of tampered) expect(published.has(id)).toBe(false);
    const mismatches = fx()
      .dlq.values()
      .filter((d) => d.errorCode === 'tenant_mismatch');
    for (const item of fx().dlq.items) expectDeadLetterHeaders(item.headers, item.value as { stage: 'ingest'; errorCode: string; source: string | null });
    expect(mismatches.every((d) => d.stage === 'ingest' && d.orgId === orgId)).toBe(true);
    expect(new Set(mismatches.map((d) => String(JSON.parse(String(d.input)).Id ?? JSON.parse(String(d.input)).id)))).toEqual(tampered);
    // Re-read every cycle inside the Graph lag window, the refused sign-in is still dead-lettered only once.
    await fx().settle(ingest, orgId, ['graph:signIns']);
    const victimLetters = fx()
      .dlq.values()
      .filter((d) => d.errorCode === 'tenant_mismatch' && String(JSON.parse(String(d.input)).id) === signInVictim);
    expect(victimLetters.length).toBe(1);
    // The planted content URI was never requested, and is dead-lettered with its reason.
    expect(requested.some((u) => u.includes('evil.example'))).toBe(false);
    await fx().dlq.waitFor((all) => all.some((d) => d.errorCode === 'foreign_content_uri'), 10_000, 'foreign URI dead letter');
    await fx().status.waitFor((all) => all.some((s) => s.orgId === orgId && s.reason === 'tenant_mismatch'), 10_000, 'tenant_mismatch status');
  });
});
