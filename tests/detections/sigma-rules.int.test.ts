import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, type Topics, type TopicSpec } from '../../runtime/index.ts';
import { SIGMA_INSTALL_COMMAND, SIGMA_PIPELINE_PATH, SIGMA_RULES_DIR, sigmaToolchain, type SigmaToolchain } from '../../detections/index.ts';
import { startNormalizer, type RunningNormalizer } from '../../normalize/index.ts';
import { installIndexTemplate, startIndexer, type RunningIndexer } from '../../index/index.ts';
import { SECURITY_ANALYTICS_ALIASES } from '../../schemas/opensearch/index.ts';
import { testKafkaClient } from '../helpers/clients.ts';
import { uniqueName } from '../helpers/resources.ts';
import { cleanup, indexerEnv, openSearchAt, opensearchUrl, quietLogger, waitFor } from '../index/helpers/fixture.ts';
import { cleanupTopics, envelopeMessages, normalizerEnv, produceRaw, testTopicNames } from '../normalize/kafka-helpers.ts';
import { caseEventId, detectionCases } from './records.ts';

/**
 * Our Sigma rules (detections/rules/), converted by sigma-cli (a real subprocess) with the shipped pipeline
 * (detections/sigma/m365-siem.yml) and pySigma's OpenSearch backend, run against documents that raw Microsoft records
 * became through the real pipeline: m365.raw → normalizer → siem.events → indexer → OpenSearch. Each rule must fire
 * on exactly the records it should and on no other.
 */
function requireToolchain(): SigmaToolchain {
  const toolchain = sigmaToolchain();
  if (!toolchain) throw new Error(`the Sigma toolchain (.venv-sigma/) is missing; npm test's pretest installs it, or run: ${SIGMA_INSTALL_COMMAND}`);
  return toolchain;
}

function convert(toolchain: SigmaToolchain, ruleFile: string, format = 'default'): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(toolchain.sigmaCli, ['convert', '-t', 'opensearch_lucene', '-p', SIGMA_PIPELINE_PATH, '-f', format, ruleFile], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The one query sigma-cli prints for a rule (it also prints progress lines). */
function queryOf(stdout: string): string {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Parsing Sigma rules'));
  if (lines.length !== 1) throw new Error(`expected one query, got:\n${stdout}`);
  return lines[0]!;
}

describe('Sigma rules through the shipped pipeline fire on exactly the right records (real Kafka, OpenSearch, sigma-cli)', () => {
  const toolchain = requireToolchain();
  const orgId = 'org-detections';
  const prefix = uniqueName('siem-events');
  const t = testTopicNames('detections');
  const indexGroup = uniqueName('index-group');
  const kafka = testKafkaClient('detections');
  const os = openSearchAt(opensearchUrl());
  const cases = detectionCases(orgId);
  const queries = new Map<string, string>();
  let normalizer: RunningNormalizer | null = null;
  let indexer: RunningIndexer | null = null;

  beforeAll(async () => {
    for (const file of readdirSync(SIGMA_RULES_DIR).filter((f) => f.endsWith('.yml'))) {
      const out = convert(toolchain, join(SIGMA_RULES_DIR, file));
      if (out.status !== 0) throw new Error(`sigma convert ${file} failed (${out.status}): ${out.stderr}${out.stdout}`);
      queries.set(basename(file, '.yml'), queryOf(out.stdout));
    }
    const spec = (name: string): TopicSpec => ({ name, partitions: 2, replicationFactor: 1, config: { 'cleanup.policy': 'delete' } });
    await kafka.ensureTopics([spec(t.raw), spec(t.events), spec(t.dlq)]);
    await installIndexTemplate(os, { prefix, shards: 1, replicas: 0, refreshInterval: '1s' });
    normalizer = await startNormalizer(normalizerEnv(t), { opsServer: false });
    const topics: Topics = {
      tenants: spec('unused'),
      checkpoints: spec('unused'),
      status: spec('unused'),
      raw: spec(t.raw),
      events: spec(t.events),
      deadLetter: spec(t.dlq),
    };
    indexer = await startIndexer(indexerEnv({ prefix, groupId: indexGroup }), {
      topics,
      logger: quietLogger(),
      metrics: new Metrics('index', false),
      opsServer: false,
    });
    await produceRaw(kafka, t.raw, envelopeMessages(cases.map((c) => c.envelope)));
    await waitFor(
      'every record indexed',
      async () => {
        const r = await os.count({ index: `${prefix}-*` }).catch(() => null);
        return (r?.body as { count?: number } | undefined)?.count === cases.length;
      },
      90_000,
      500,
    );
    await os.indices.refresh({ index: `${prefix}-*` });
  }, 240_000);

  afterAll(async () => {
    await indexer?.close();
    await normalizer?.close();
    await cleanup({ client: os, prefix, groups: [indexGroup] });
    await cleanupTopics(kafka, t);
    await os.close();
  });

  const hits = async (query: Record<string, unknown>): Promise<string[]> => {
    const r = await os.search({ index: `${prefix}-*`, body: { size: 100, query, _source: ['event.id', 'event.original'] } as never });
    const names = new Map(cases.map((c) => [caseEventId(c.name), c.name]));
    // A record that changes later (a risk detection) gets an event id derived from its id, update time and state:
    // the case is named by Microsoft's own record id, read from the vendor record.
    const recordId = (original: string | undefined): string | undefined => {
      const record = original ? (JSON.parse(original) as { id?: string; Id?: string }) : {};
      return record.id ?? record.Id;
    };
    return (r.body.hits.hits as Array<{ _source: { event: { id: string; original?: string } } }>)
      .map((h) => names.get(h._source.event.id) ?? names.get(recordId(h._source.event.original) ?? '') ?? h._source.event.id)
      .sort();
  };

  it('has a rule for every case it expects and a record for every rule', () => {
    const expected = new Set(cases.flatMap((c) => c.fires));
    expect([...expected].filter((r) => !queries.has(r))).toEqual([]);
    expect([...queries.keys()].filter((r) => !expected.has(r))).toEqual([]);
    expect(queries.size).toBeGreaterThanOrEqual(15);
  });

  it('each converted rule matches exactly the records that should fire it (query_string, as sigma-cli emits it)', async () => {
    const problems: string[] = [];
    for (const [rule, query] of queries) {
      const want = cases
        .filter((c) => c.fires.includes(rule))
        .map((c) => c.name)
        .sort();
      const got = await hits({ query_string: { query } });
      if (JSON.stringify(got) !== JSON.stringify(want))
        problems.push(`${rule}: fired on [${got.join(', ')}], expected [${want.join(', ')}]\n  query: ${query}`);
    }
    expect(problems).toEqual([]);
  });

  it('runs the monitor_rule output as OpenSearch Alerting would: its search input finds the same records', async () => {
    const out = convert(toolchain, join(SIGMA_RULES_DIR, 'm365-inbox-rule-forwarding.yml'), 'monitor_rule');
    expect(out.status, out.stderr).toBe(0);
    const monitor = JSON.parse(out.stdout.slice(out.stdout.indexOf('{'))) as {
      type: string;
      inputs: Array<{ search: { query: { query: Record<string, unknown> } } }>;
    };
    expect(monitor.type).toBe('monitor');
    expect(await hits(monitor.inputs[0]!.search.query.query)).toEqual(['inbox-rule-forwarding']);
  });

  it('fails a rule loudly when it uses a field the pipeline does not map', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigma-unmapped-'));
    try {
      const file = join(dir, 'unmapped.yml');
      writeFileSync(
        file,
        [
          'title: Uses a field we do not have',
          'id: 6f0d6d1c-0f0e-4a51-9a1c-4b0c2a1d5e01',
          'status: test',
          'logsource: { product: m365, service: threat_management }',
          'detection:',
          '  selection: { eventSource: SecurityComplianceCenter, Payload|contains: secret }',
          '  condition: selection',
          'level: low',
        ].join('\n'),
      );
      const out = convert(toolchain, file);
      expect(out.status).not.toBe(0);
      expect(`${out.stdout}${out.stderr}`).toMatch(/no counterpart in our documents/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the vendor record under m365.record by Microsoft names, case-insensitively, and through the Security Analytics aliases', async () => {
    expect(await hits({ query_string: { query: 'm365.record.status.errorCode:53003' } })).toEqual(['signin-blocked-by-ca']);
    expect(await hits({ term: { 'm365.record.Operation': { value: 'add-mailboxpermission', case_insensitive: true } } })).toEqual(['mailbox-full-access']);
    expect(await hits({ query_string: { query: 'm365.record.targetResources.type:Application' } })).toEqual(['app-secret-added']);
    expect(await hits({ query_string: { query: 'azure.platformlogs.result_type:53003' } })).toEqual(['signin-blocked-by-ca']);
    expect(await hits({ query_string: { query: 'rsa.misc.event_desc:"Suspicious email forwarding activity"' } })).toEqual(['alert-forwarding']);
    expect(await hits({ query_string: { query: 'event.action.ci:"UPDATE APPLICATION – CERTIFICATES AND SECRETS MANAGEMENT"' } })).toEqual(['app-secret-added']);
    // ActivityDetails (schema v5) is the Entra report a record is in: every Graph sign-in says "Sign-ins"
    expect(await hits({ query_string: { query: 'm365.activity_details.ci:"sign-ins" AND m365.client_app.ci:imap4' } })).toEqual(['signin-imap-legacy']);
    // ResultType 0 (success) has something to match now: error.code is kept on success
    expect(await hits({ query_string: { query: 'event.dataset:azure.signinlogs AND error.code:0' } })).toEqual([
      'signin-benign',
      'signin-device-code',
      'signin-high-risk',
      'signin-imap-legacy',
    ]);
  });

  it('resolves every Security Analytics alias on the real node and answers the plugin-style queries case-insensitively', async () => {
    const paths = Object.keys(SECURITY_ANALYTICS_ALIASES);
    const caps = await os.fieldCaps({ index: `${prefix}-*`, fields: paths.join(',') });
    const found = Object.keys((caps.body as { fields: Record<string, unknown> }).fields);
    expect(paths.filter((p) => !found.includes(p))).toEqual([]);
    // What a detector of the azure / m365 log type sends: query_string on the log type's path, values as the plugin's
    // bundled rules write them (not in Microsoft's case).
    expect(await hits({ query_string: { query: 'ActivityDetails:"Sign-ins" AND azure.signinlogs.properties.client_app_used:"IMAP4"' } })).toEqual([
      'signin-imap-legacy',
    ]);
    expect(await hits({ query_string: { query: 'azure.platformlogs.status:"Failure" AND azure.platformlogs.result_type:53003' } })).toEqual([
      'signin-blocked-by-ca',
    ]);
    expect(await hits({ query_string: { query: 'properties.message:"Update Application – Certificates and secrets management"' } })).toEqual([
      'app-secret-added',
    ]);
    expect(await hits({ query_string: { query: 'azure.auditlogs.properties.logged_by_service:"authentication methods"' } })).toEqual(['mfa-method-deleted']);
    expect(await hits({ query_string: { query: 'modified_properties.new_value:*keytype=password*' } })).toEqual(['app-secret-added']);
    expect(await hits({ query_string: { query: 'rsa.misc.event_source:exchange AND eventName:"new-inboxrule"' } })).toEqual([
      'inbox-rule-forwarding',
      'inbox-rule-move-only',
    ]);
    expect(await hits({ query_string: { query: 'rsa.misc.event_desc:"suspicious email forwarding activity"' } })).toEqual(['alert-forwarding']);
    // names the bundled rules use outside the log types' tables, which the plugin queries as they are
    expect(await hits({ query_string: { query: 'riskEventType:"anonymizedIPAddress"' } })).toEqual(['risk-anonymous-ip']);
    expect(await hits({ query_string: { query: 'Operation:"FileSyncDownloadedFull"' } })).toEqual(['sync-full-download']);
    const all = await os.count({ index: `${prefix}-*`, body: { query: { exists: { field: 'timestamp' } } } as never });
    expect((all.body as { count: number }).count).toBe(cases.length);
  });
});
