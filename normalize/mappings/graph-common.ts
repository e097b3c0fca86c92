/** Shared parts of the Graph mappings: the draft with id/time, geo, and deterministic ids for derived events. */
import { hash } from 'node:crypto';
import type { SiemEventGeo } from '../../schemas/index.ts';
import { EventDraft, type MapContext } from '../event-draft.ts';
import { isObject, str, type Json } from '../record-values.ts';
import { toMicros } from '../time.ts';
import { MappingError } from './management-common.ts';

/**
 * The Microsoft Entra admin center's activity reports (its Activity section: Sign-ins, Audit logs, Provisioning logs;
 * Graph's audit logs API overview lists the same reports), in the admin center's words. Microsoft's security
 * operations guides name the report a detection reads as "Activity details: Sign-ins", which SigmaHQ's rules and
 * Security Analytics' azure log type carry as the field `ActivityDetails`; the record itself has no such property, so
 * it is the source's report (m365.activity_details, schema v5).
 */
export const ENTRA_ACTIVITY_REPORT = {
  signIns: 'Sign-ins',
  auditLogs: 'Audit logs',
  provisioningLogs: 'Provisioning logs',
} as const;

export function graphDraft(
  record: Json,
  ctx: MapContext,
  opts: { timeFields: string[]; dataset: string; action: string | null; provider: string | null; code: string; id?: string },
): EventDraft {
  const id = opts.id ?? str(record.id);
  if (id === null) throw new MappingError('Graph record has no id');
  let timestamp: number | null = null;
  for (const f of opts.timeFields) {
    timestamp = toMicros(record[f]);
    if (timestamp !== null) break;
  }
  timestamp ??= ctx.fetchedMicros;
  if (timestamp === null) throw new MappingError(`Graph record has no parseable ${opts.timeFields.join('/')} and the envelope no fetchedAt`);
  const draft = new EventDraft(ctx, { id, timestamp, dataset: opts.dataset, action: opts.action, provider: opts.provider, code: opts.code });
  return draft;
}

/** Graph `location` → source.geo (Microsoft's own geolocation). */
export function geoOf(location: unknown): SiemEventGeo | null {
  if (!isObject(location)) return null;
  const coords = isObject(location.geoCoordinates) ? location.geoCoordinates : null;
  const lat = coords && typeof coords.latitude === 'number' ? coords.latitude : null;
  const lon = coords && typeof coords.longitude === 'number' ? coords.longitude : null;
  const geo: SiemEventGeo = {
    city_name: str(location.city),
    region_name: str(location.state),
    country_iso_code: str(location.countryOrRegion),
    location: lat !== null && lon !== null ? { lat, lon } : null,
  };
  return geo.city_name || geo.region_name || geo.country_iso_code || geo.location ? geo : null;
}

/**
 * A deterministic UUID (name-based, SHA-1, RFC 4122 version 5 layout) for events we derive from state snapshots:
 * the same parts always give the same id, however often Microsoft serves the record.
 */
export function derivedEventId(...parts: string[]): string {
  // The digest as hex text directly (no Buffer for it, no second hex pass): the version nibble (character 12) becomes
  // 5 and the variant bits (top two of character 16) become 10, as in the RFC's byte-wise description.
  const hex = hash('sha1', parts.join('\u001f'), 'hex');
  const variant = HEX_DIGITS[(Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const HEX_DIGITS = '0123456789abcdef';
