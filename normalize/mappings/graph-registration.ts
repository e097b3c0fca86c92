/**
 * Authentication-method registration (`graph:userRegistrationDetails`). Two record shapes arrive:
 *
 * - change records derived by ingest from successive snapshots (`changeType`: methodRegistered, methodRemoved,
 *   capabilityChanged; `before`/`after` states; a deterministic `id`), mapped with that id; and
 * - raw snapshot records as Graph serves them (e.g. fed to the CLI), mapped as a "registration details changed" state
 *   event whose id is a deterministic UUID of user id, lastUpdatedDateTime and the registration state — the same
 *   snapshot served twice gives the same id, every change a new one.
 */
import type { MapContext } from '../event-draft.ts';
import type { SiemEvent } from '../../schemas/index.ts';
import { arr, bool, isObject, str, text, type Json } from '../record-values.ts';
import { derivedEventId, graphDraft } from './graph-common.ts';
import { MappingError } from './management-common.ts';

export const REGISTRATION_ACTION = 'userRegistrationDetailsChanged';

function registrationOf(state: Json) {
  const caps = isObject(state.capabilities) ? state.capabilities : state;
  const methods = arr(state.methodsRegistered).filter((x): x is string => typeof x === 'string');
  return {
    is_admin: bool(caps.isAdmin),
    is_mfa_registered: bool(caps.isMfaRegistered),
    is_mfa_capable: bool(caps.isMfaCapable),
    is_sspr_registered: bool(caps.isSsprRegistered),
    is_passwordless_capable: bool(caps.isPasswordlessCapable),
    methods,
    preferred_method: str(caps.userPreferredMethodForSecondaryAuthentication),
  };
}

function mapChange(record: Json, ctx: MapContext): SiemEvent {
  const changeType = str(record.changeType) as string;
  const userId = str(record.userId);
  const id =
    str(record.id) ??
    (userId
      ? derivedEventId(
          'graph:userRegistrationDetails',
          userId,
          changeType,
          text(record.method) ?? text(record.capability) ?? '',
          str(record.detectedDateTime) ?? '',
        )
      : null);
  if (id === null) throw new MappingError('registration change record has no id and no userId');
  const draft = graphDraft(record, ctx, {
    timeFields: ['lastUpdatedDateTime', 'detectedDateTime'],
    dataset: 'azure.registration_details',
    action: changeType,
    provider: 'AuthenticationMethods',
    code: 'userRegistrationDetails',
    id,
  });
  const activityId = changeType === 'methodRegistered' ? 12 : changeType === 'methodRemoved' ? 13 : 2;
  draft.classify({ category: ['iam'], type: ['user', 'change'], classUid: 3007, activityId });
  draft.actor(record.userPrincipalName, userId, record.userDisplayName);
  const method = str(record.method);
  const capability = str(record.capability);
  draft.ev.message = method
    ? `${changeType}: ${method}`
    : capability
      ? `${changeType}: ${capability} ${text(record.oldValue) ?? 'null'} -> ${text(record.newValue) ?? 'null'}`
      : changeType;
  draft.ev.event.outcome = 'success';
  if (isObject(record.after)) draft.m365.registration = registrationOf(record.after);
  return draft.finish();
}

export function mapGraphRegistrationDetails(record: Json, ctx: MapContext): SiemEvent {
  if (typeof record.changeType === 'string') return mapChange(record, ctx);
  const userId = str(record.id);
  if (userId === null) throw new MappingError('registration details record has no id');
  const registration = registrationOf(record);
  const state = [
    registration.is_mfa_registered,
    registration.is_mfa_capable,
    registration.is_sspr_registered,
    registration.is_passwordless_capable,
    registration.is_admin,
    [...registration.methods].sort().join(','),
    registration.preferred_method ?? '',
  ].join('|');
  const draft = graphDraft(record, ctx, {
    timeFields: ['lastUpdatedDateTime'],
    dataset: 'azure.registration_details',
    action: REGISTRATION_ACTION,
    provider: 'AuthenticationMethods',
    code: 'userRegistrationDetails',
    id: derivedEventId('graph:userRegistrationDetails', userId, str(record.lastUpdatedDateTime) ?? '', state),
  });
  draft.classify({ kind: 'state', category: ['iam'], type: ['user', 'change'], classUid: 3007, activityId: 2 });
  draft.actor(record.userPrincipalName, userId, record.userDisplayName);
  draft.m365.user_type = str(record.userType);
  draft.m365.registration = registration;
  return draft.finish();
}
