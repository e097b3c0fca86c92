/**
 * The configuration reference (docs/configuration.md) generated from the settings' own zod specs, so the
 * documentation cannot drift from the code: `npm run docs:generate` writes it, and a test fails when the file
 * and the specs disagree or when a setting in the source is in no group below.
 */
import {
  CLOUDS,
  cloudSettingsSpec,
  commonSettingsSpec,
  kafkaSettingsSpec,
  microsoftAppSettingsSpec,
  microsoftRegistrationSettingsSpecs,
  openSearchSettingsSpec,
  perCloudSpecs,
  stageGroupSettings,
  topicSettingsSpec,
  type SettingsSpec,
} from '../runtime/index.ts';
import { ingestSettingsSpec } from '../ingest/index.ts';
import { normalizeSettingsSpec } from '../normalize/index.ts';
import { indexSettingsSpec } from '../index/index.ts';
import { cliSettingsSpec, controlPlaneSettingsSpec } from '../control-plane/index.ts';
import { simulatorSettingsSpec } from '../simulator/index.ts';
import { stackSettingsSpec } from '../stack/index.ts';

export interface SettingsGroup {
  readonly title: string;
  readonly intro: string;
  readonly spec: SettingsSpec;
}

const cloudHostsSpec: SettingsSpec = Object.fromEntries(
  CLOUDS.flatMap((cloud) => Object.entries(perCloudSpecs[cloud]).map(([key, s]) => [`${cloud}.${key}`, s])),
);

/** The same settings under keys of their own, so several registrations' specs can share one table. */
function prefixed(spec: SettingsSpec, prefix: string): SettingsSpec {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [`${prefix}.${k}`, v]));
}

/** Every settings spec of the project, in the order a reader meets them. */
export const SETTINGS_GROUPS: readonly SettingsGroup[] = [
  { title: 'Every service', intro: 'Read by every service.', spec: commonSettingsSpec },
  { title: 'Kafka', intro: 'Every service and CLI command that talks to Kafka.', spec: kafkaSettingsSpec },
  { title: 'Topics', intro: 'Names, partitions, replication and retention of the topics the pipeline creates.', spec: topicSettingsSpec },
  { title: 'OpenSearch', intro: "The indexer, the control plane's events API and the CLI commands that read the index.", spec: openSearchSettingsSpec },
  {
    title: 'Microsoft application',
    intro:
      "The multi-tenant Entra application the control plane and ingest use, registered in each national cloud's own Entra ID (docs/consent.md): `M365_*` is the commercial registration and also serves GCC; `M365_GCC_HIGH_*` serves GCC High and DoD; `M365_GCC_*` and `M365_DOD_*` override those. A cloud without a registration is refused at connect. Unset, `npm start` runs on the simulator.",
    spec: {
      ...microsoftAppSettingsSpec,
      ...prefixed(microsoftRegistrationSettingsSpecs.gcc, 'gcc'),
      ...prefixed(microsoftRegistrationSettingsSpecs['gcc-high'], 'gccHigh'),
      ...prefixed(microsoftRegistrationSettingsSpecs.dod, 'dod'),
    },
  },
  {
    title: 'Microsoft hosts',
    intro: "Overrides of the cloud profiles' hosts (a stand-in such as the simulator). Token audiences stay Microsoft's identifiers.",
    spec: { ...cloudSettingsSpec, ...cloudHostsSpec },
  },
  {
    title: 'Pipeline stages',
    intro: 'The consumer groups of normalize and index: read by the stages and by the control plane, which watches them for stalls (docs/pipeline-health.md).',
    spec: stageGroupSettings,
  },
  { title: 'Control plane', intro: '`m365-siem control-plane`: REST API, operator UI, consent callback.', spec: controlPlaneSettingsSpec },
  { title: 'Ingest', intro: '`m365-siem ingest`: the Management Activity API and Graph pollers.', spec: ingestSettingsSpec },
  { title: 'Normalize', intro: '`m365-siem normalize`: `m365.raw` → Avro SIEM events on `siem.events`.', spec: normalizeSettingsSpec },
  { title: 'Index', intro: '`m365-siem index`: `siem.events` → OpenSearch.', spec: indexSettingsSpec },
  { title: 'CLI', intro: 'The `m365-siem org …`, `replay --refetch` and other commands that call the control plane.', spec: cliSettingsSpec },
  { title: 'Simulator', intro: '`m365-siem sim`: the Microsoft 365 stand-in.', spec: simulatorSettingsSpec },
  { title: 'Stack launcher', intro: "`m365-siem stack up|down|status`, `npm start` and the tests' global setup.", spec: stackSettingsSpec },
];

/** The value a setting takes when its variable is unset, as an operator would write it; `required` when none. */
export function defaultOf(schema: SettingsSpec[string]['schema']): string {
  const parsed = schema.safeParse(undefined);
  if (!parsed.success) return 'required';
  const value: unknown = parsed.data;
  if (value === undefined) return '—';
  if (Array.isArray(value)) return value.length === 0 ? '(empty)' : value.join(',');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderConfigurationReference(groups: readonly SettingsGroup[] = SETTINGS_GROUPS): string {
  const lines = [
    '# Configuration reference',
    '',
    "<!-- Generated by `npm run docs:generate` from the settings' zod specs; edit the specs, not this file. -->",
    '',
    'Every service reads its settings from environment variables once, at start, and stops with a message naming',
    'each bad setting (`KAFKA_BROKERS: expected host:port[,host:port…]`). An empty value counts as unset. A setting',
    'shared by several services (Kafka, topics, OpenSearch, the Microsoft application) is listed once, in its own group.',
    '',
  ];
  const seen = new Set<string>();
  for (const group of groups) {
    const rows = Object.values(group.spec).filter((s) => !seen.has(s.env));
    if (rows.length === 0) continue;
    lines.push(`## ${group.title}`, '', group.intro, '', '| variable | default | meaning |', '| --- | --- | --- |');
    for (const s of rows) {
      seen.add(s.env);
      const fallback = defaultOf(s.schema);
      lines.push(`| \`${s.env}\` | ${fallback === '—' ? fallback : `\`${cell(fallback)}\``} | ${cell(s.description)} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
