import { describe, expect, it } from 'vitest';
import { latestSiemEventSchema, siemEventSchemas } from '../../schemas/index.ts';
import {
  SECURITY_ANALYTICS_ALIASES,
  SECURITY_ANALYTICS_LOG_TYPE_PATHS,
  SECURITY_ANALYTICS_UNMAPPED,
  SECURITY_ANALYTICS_UNTABLED_RULE_FIELDS,
  SECURITY_ANALYTICS_VERSION,
  VENDOR_RECORD_PATH,
  buildSiemEventsTemplate,
  indexProperties,
  mappedLeafPaths,
  organizationAliasFilter,
  organizationAliasName,
} from '../../schemas/opensearch/index.ts';
import { MICROS_TIME_PATHS } from '../../index/event-document.ts';
import type { FieldMapping } from '../../schemas/opensearch/index.ts';

interface AvroLeaf {
  path: string;
  /** Avro kind of the leaf: string, int, long, double, boolean, timestamp-micros, map, or array<…> of those. */
  kind: string;
}

/** Every leaf of an Avro record schema as a dotted document path (`timestamp` is written as `@timestamp`). */
function avroLeaves(schema: unknown): AvroLeaf[] {
  const named = new Map<string, unknown>();
  const out: AvroLeaf[] = [];
  const walk = (type: unknown, path: string): void => {
    if (Array.isArray(type)) {
      for (const branch of type) if (branch !== 'null') walk(branch, path);
      return;
    }
    if (typeof type === 'string') {
      if (named.has(type)) return walk(named.get(type), path);
      out.push({ path, kind: type });
      return;
    }
    const t = type as { type: unknown; name?: string; logicalType?: string; fields?: Array<{ name: string; type: unknown }>; items?: unknown };
    if (t.name) named.set(t.name, t);
    if (t.type === 'record') {
      for (const f of t.fields ?? []) walk(f.type, path ? `${path}.${f.name}` : f.name);
    } else if (t.type === 'array') {
      const before = out.length;
      walk(t.items, path);
      for (let i = before; i < out.length; i++) out[i] = { path: out[i]!.path, kind: `array<${out[i]!.kind}>` };
    } else if (t.type === 'map') out.push({ path, kind: 'map' });
    else if (t.logicalType) out.push({ path, kind: t.logicalType });
    else walk(t.type, path);
  };
  walk(schema, '');
  // geo points are records of lat/lon in Avro and one geo_point in OpenSearch
  const merged: AvroLeaf[] = [];
  for (const leaf of out) {
    const point = /^(.*\.location)\.(lat|lon)$/.exec(leaf.path);
    if (point) {
      if (!merged.some((l) => l.path === point[1])) merged.push({ path: point[1]!, kind: 'geo' });
    } else merged.push({ path: leaf.path === 'timestamp' ? '@timestamp' : leaf.path, kind: leaf.kind });
  }
  return merged;
}

/** OpenSearch types a value of each Avro kind may be indexed as. */
const COMPATIBLE: Record<string, string[]> = {
  string: ['keyword', 'text', 'ip', 'wildcard'],
  int: ['integer', 'long'],
  long: ['long'],
  double: ['double', 'float'],
  boolean: ['boolean'],
  'timestamp-micros': ['date', 'date_nanos'],
  map: ['flat_object'],
  geo: ['geo_point'],
};

describe('index template agrees with the Avro schema', () => {
  const mapped = mappedLeafPaths();

  for (const version of siemEventSchemas) {
    it(`maps every field of ${version.file} with a compatible type`, () => {
      const leaves = avroLeaves(version.schema);
      expect(leaves.length).toBeGreaterThan(50);
      const problems: string[] = [];
      for (const leaf of leaves) {
        const type = mapped.get(leaf.path);
        const kind = leaf.kind.replace(/^array<(.*)>$/, '$1');
        if (type === undefined) problems.push(`${leaf.path} (${leaf.kind}) has no mapping`);
        else if (!(COMPATIBLE[kind] ?? []).includes(type)) problems.push(`${leaf.path}: Avro ${leaf.kind} mapped as ${type}`);
      }
      expect(problems).toEqual([]);
    });
  }

  it('maps nothing the latest Avro schema does not have (no stale fields)', () => {
    const avroPaths = new Set(avroLeaves(latestSiemEventSchema.schema).map((l) => l.path));
    expect([...mapped.keys()].filter((p) => !avroPaths.has(p))).toEqual([]);
  });

  it('knows every timestamp-micros field the document builder must convert', () => {
    const micros = avroLeaves(latestSiemEventSchema.schema)
      .filter((l) => l.kind === 'timestamp-micros' && l.path !== '@timestamp')
      .map((l) => l.path)
      .sort();
    expect(MICROS_TIME_PATHS.map((p) => p.join('.')).sort()).toEqual(micros);
  });

  it('stores the vendor namespace as flat_object and keeps unknown fields out of the mapping', () => {
    const template = buildSiemEventsTemplate({ prefix: 'siem-events' });
    expect(template.index_patterns).toEqual(['siem-events-*']);
    expect(template.template.mappings.dynamic).toBe(false);
    expect(template.template.aliases).toEqual({ 'siem-events': {} });
    expect(mapped.get('m365.fields')).toBe('flat_object');
    expect(mapped.get('m365.parameters')).toBe('flat_object');
    expect(mapped.get('source.ip')).toBe('ip');
    expect(mapped.get('related.ip')).toBe('ip');
    expect(mapped.get('source.geo.location')).toBe('geo_point');
    expect(mapped.get('@timestamp')).toBe('date');
  });

  /** The mapping at a dotted path of `props`, multi-fields (`event.action.ci`) included. */
  const mappingAt = (props: Record<string, FieldMapping>, path: string): FieldMapping | undefined => {
    const parts = path.split('.');
    for (let i = parts.length; i > 0; i--) {
      let level: Record<string, FieldMapping> | undefined = props;
      let found: FieldMapping | undefined;
      for (const part of parts.slice(0, i)) {
        found = level?.[part];
        level = found?.properties;
      }
      if (found === undefined) continue;
      if (i === parts.length) return found;
      // the rest names a multi-field of the leaf found
      const rest = parts.slice(i);
      return rest.length === 1 ? (found.fields as Record<string, FieldMapping> | undefined)?.[rest[0]!] : undefined;
    }
    return undefined;
  };

  it('adds the vendor record and the Security Analytics aliases beside the Avro fields, each alias naming a mapped field', () => {
    const props = indexProperties();
    const all = mappedLeafPaths(props);
    expect(all.get(VENDOR_RECORD_PATH)).toBe('flat_object');
    for (const [path, target] of Object.entries(SECURITY_ANALYTICS_ALIASES)) {
      expect(all.get(path), path).toBe('alias');
      expect(mapped.has(path), `${path} shadows an Avro field`).toBe(false);
      const targetMapping = mappingAt(props, target);
      expect(['keyword', 'text', 'boolean', 'ip', 'date', 'integer', 'long'], `${path} → ${target}`).toContain(targetMapping?.type);
      // a string target is the case-insensitive twin wherever the field has one (the plugin's rules are not in Microsoft's case)
      if (targetMapping?.type === 'keyword' && !target.endsWith('.ci')) expect(mappingAt(props, `${target}.ci`), `${path} → ${target}`).toBeUndefined();
    }
    // every Avro-mirroring path is unchanged in the index mapping
    for (const [path, type] of mapped) expect(all.get(path), path).toBe(type);
    expect(buildSiemEventsTemplate().template.mappings.properties).toEqual(indexProperties());
  });

  it(`answers every path of Security Analytics ${SECURITY_ANALYTICS_VERSION}' azure and m365 log types, or says why not`, () => {
    const props = indexProperties();
    const paths = new Set([
      ...Object.values(SECURITY_ANALYTICS_LOG_TYPE_PATHS).flatMap((table) => Object.keys(table)),
      ...Object.values(SECURITY_ANALYTICS_UNTABLED_RULE_FIELDS).flat(),
    ]);
    expect(paths.size).toBeGreaterThanOrEqual(47);
    const problems: string[] = [];
    for (const path of paths) {
      const aliased = path in SECURITY_ANALYTICS_ALIASES;
      const reason = SECURITY_ANALYTICS_UNMAPPED[path];
      if (aliased && reason !== undefined) problems.push(`${path} is both aliased and listed as unmapped`);
      else if (!aliased && !reason?.trim()) problems.push(`${path} has no alias and no reason`);
      else if (!aliased && mappingAt(props, path) !== undefined) problems.push(`${path} is listed as unmapped but the template maps it`);
    }
    for (const path of Object.keys(SECURITY_ANALYTICS_ALIASES)) if (!paths.has(path)) problems.push(`alias ${path} is no path of the log types`);
    for (const path of Object.keys(SECURITY_ANALYTICS_UNMAPPED)) if (!paths.has(path)) problems.push(`unmapped ${path} is no path of the log types`);
    expect(problems).toEqual([]);
    // the plugin's legacy-authentication rule asks for ActivityDetails "Sign-ins": it now has a field behind it
    expect(SECURITY_ANALYTICS_ALIASES.ActivityDetails).toBe('m365.activity_details.ci');
  });

  it('gives event.action, rule.name and the m365 keywords a case-insensitive .ci twin', () => {
    const props = indexProperties();
    const leaf = (path: string): FieldMapping | undefined => {
      let level: Record<string, FieldMapping> | undefined = props;
      let found: FieldMapping | undefined;
      for (const part of path.split('.')) {
        found = level?.[part];
        level = found?.properties;
      }
      return found;
    };
    for (const path of [
      'event.action',
      'event.outcome',
      'rule.name',
      'error.code',
      'm365.workload',
      'm365.result_status',
      'm365.client_app',
      'm365.auth.requirement',
      'error.message',
      'message',
    ]) {
      expect(leaf(path)?.fields, path).toMatchObject({ ci: { type: 'keyword', normalizer: 'lowercase' } });
    }
    for (const [path, type] of mapped) if (path.startsWith('m365.') && type === 'keyword') expect(leaf(path)?.fields, path).toHaveProperty('ci');
  });

  it('names per-organization aliases only for ids that are safe OpenSearch names (no rewriting, no collisions)', () => {
    expect(organizationAliasName('siem-events', 'acme-01')).toBe('siem-events-org-acme-01');
    expect(organizationAliasName('siem-events', '2f1c3a9e-0000-4000-8000-000000000001')).toBe('siem-events-org-2f1c3a9e-0000-4000-8000-000000000001');
    for (const bad of ['Acme', 'a:b', 'a b', 'a/b', '-x', '', 'a*']) expect(organizationAliasName('siem-events', bad)).toBeNull();
    expect(organizationAliasFilter('acme-01')).toEqual({ term: { 'organization.id': 'acme-01' } });
  });
});
