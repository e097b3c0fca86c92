import { describe, expect, it } from 'vitest';
import { SIGN_IN_SOURCES, type Cloud, type SourceName } from '../../runtime/index.ts';
import { duplicatesOf, publishedIds, useIngestFixture, waitUntil } from './helpers/ingest-fixture.ts';

/**
 * The four sign-in types, each its own source with its own cursor and ledger, in a commercial and a GCC High
 * organization at once: per type the simulator's ledger = what reached m365.raw, once each, through throttling, 5xx,
 * truncated bodies and a poller restart. GCC High never asks v1.0 List signIns (not offered there), commercial asks
 * v1.0 for interactive sign-ins only.
 */
const fx = useIngestFixture();
const SIGN_INS = Object.keys(SIGN_IN_SOURCES) as SourceName[];
const PREFIX: Record<Cloud, string> = { commercial: 'M365_COMMERCIAL', gcc: 'M365_GCC', 'gcc-high': 'M365_GCC_HIGH', dod: 'M365_DOD' };

describe('sign-in types', () => {
  it('collects all four types once each in commercial and GCC High, under faults and a restart, v1.0 only where served', async () => {
    const url = fx().sim.sim.url;
    const hosts: Record<string, string> = { M365_ALL_HOSTS: '' };
    for (const c of ['commercial', 'gcc-high'] as Cloud[]) for (const h of ['AUTHORITY', 'MANAGEMENT', 'GRAPH']) hosts[`${PREFIX[c]}_${h}_HOST`] = url;
    const orgs = [
      { orgId: 'org-signins-commercial', cloud: 'commercial' as Cloud, tenant: await fx().sim.tenant({ cloud: 'commercial', publicationDelayMs: [0, 1_000] }) },
      { orgId: 'org-signins-gcchigh', cloud: 'gcc-high' as Cloud, tenant: await fx().sim.tenant({ cloud: 'gcc-high', publicationDelayMs: [0, 1_000] }) },
    ];
    let ingest = await fx().startIngest(hosts);
    for (const o of orgs) await fx().connect(o.orgId, o.tenant.tenantId, SIGN_INS, { cloud: o.cloud });
    const expected = new Map<string, number>();
    const add = async (round: number) => {
      for (const o of orgs) {
        for (const [i, s] of SIGN_INS.entries()) {
          const n = 6 + i + round;
          await fx().sim.control.addRecords(o.tenant.tenantId, s, n);
          expected.set(`${o.orgId}|${s}`, (expected.get(`${o.orgId}|${s}`) ?? 0) + n);
        }
      }
    };
    await add(0);
    for (const kind of ['throttle', 'server-error', 'truncated'] as const) {
      for (const o of orgs) await fx().sim.control.injectFault({ tenantId: o.tenant.tenantId, target: 'graph', kind, count: 2 });
    }
    // Some first records arrive, then the instance goes away mid-stream and a new one resumes from the cursors.
    await fx().raw.waitFor((all) => orgs.every((o) => all.some((e) => e.orgId === o.orgId)), 30_000, 'first sign-ins of both organizations');
    await ingest.close();
    await add(1);
    ingest = await fx().startIngest(hosts);
    await add(2);

    for (const o of orgs) {
      for (const s of SIGN_INS) {
        await waitUntil(
          async () => {
            const ledger = await fx().ledgerIds(o.tenant.tenantId, s);
            const got = new Set(publishedIds(fx().raw.values(), o.orgId, s));
            return ledger.length === expected.get(`${o.orgId}|${s}`) && ledger.every((id) => got.has(id));
          },
          60_000,
          `every ${s} of ${o.orgId}`,
        );
      }
    }
    // A later cycle of each type re-reads its lag window; only then is "once each" meaningful.
    await fx().status.waitFor(
      (all) => orgs.every((o) => SIGN_INS.every((s) => (all.filter((x) => x.orgId === o.orgId && x.source === s).at(-1)?.counts.duplicatesSkipped ?? 0) > 0)),
      60_000,
      'every type re-listed and skipped',
    );
    for (const o of orgs) {
      const other = orgs.find((x) => x !== o);
      for (const s of SIGN_INS) {
        const got = publishedIds(fx().raw.values(), o.orgId, s);
        expect(duplicatesOf(got), `${o.orgId} ${s}`).toEqual([]);
        expect(new Set(got), `${o.orgId} ${s}`).toEqual(new Set(await fx().ledgerIds(o.tenant.tenantId, s)));
        // Tenants never mix: nothing of the other organization's tenant is attributed to this one.
        const foreign = new Set(await fx().ledgerIds(other?.tenant.tenantId ?? '', s));
        expect(got.filter((id) => foreign.has(id))).toEqual([]);
        const records = fx()
          .raw.values()
          .filter((e) => e.orgId === o.orgId && e.source === s);
        expect(records.every((e) => e.tenantId === o.tenant.tenantId)).toBe(true);
        if (s !== 'graph:signIns' || o.cloud === 'gcc-high') {
          // Read on beta: every record says its type.
          expect(records.every((e) => JSON.stringify(e.record.signInEventTypes) === JSON.stringify([SIGN_IN_SOURCES[s as keyof typeof SIGN_IN_SOURCES]]))).toBe(
            true,
          );
        }
      }
      await fx().status.waitFor(
        (all) => SIGN_INS.every((s) => all.filter((x) => x.orgId === o.orgId && x.source === s).at(-1)?.state === 'ok'),
        30_000,
        `every sign-in type of ${o.orgId} ok`,
      );
    }
    const high = await fx().sim.control.requests(orgs[1]?.tenant.tenantId ?? '');
    expect(high.graph['v1.0 auditLogs/signIns'] ?? 0).toBe(0);
    expect(high.graph['beta auditLogs/signIns']).toBeGreaterThan(0);
    const commercial = await fx().sim.control.requests(orgs[0]?.tenant.tenantId ?? '');
    expect(commercial.graph['v1.0 auditLogs/signIns']).toBeGreaterThan(0);
    expect(commercial.graph['beta auditLogs/signIns']).toBeGreaterThan(0);
    await ingest.close();
  });
});
