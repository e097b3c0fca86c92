/**
 * Entra ID records of the Management Activity API (Audit.AzureActiveDirectory): STS logons (RecordType 15),
 * legacy account logons (9) and directory changes (8).
 *
 * Sign-in outcome comes from Operation / ErrorCode / LogonError, never from ResultStatus: on an STS logon
 * ResultStatus only says the HTTP step worked, so UserLoginFailed records carry ResultStatus "Succeeded".
 */
import type { EventDraft, MapContext } from '../event-draft.ts';
import { crudActivity, verbOf } from '../event-draft.ts';
import { bool, int, lookup, nameValues, str, type Json } from '../record-values.ts';
import { isGuid } from '../user.ts';
import { arrayGuid, arrayUpn } from './management-common.ts';

export function mapEntraStsLogon(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const m = draft.m365;
  const operation = str(record.Operation);
  const errorCode = str(record.ErrorCode) ?? str(record.ErrorNumber);
  const logonError = str(record.LogonError);
  const extended = nameValues(record.ExtendedProperties);
  const failed = operation === 'UserLoginFailed' || logonError !== null || (errorCode !== null && errorCode !== '0');
  ev.event.outcome = failed ? 'failure' : operation === 'UserLoggedIn' ? 'success' : 'unknown';
  if (errorCode !== null && errorCode !== '0') ev.error = { code: errorCode, message: logonError };
  else if (logonError) ev.error = { code: null, message: logonError };
  if (logonError) ev.event.reason = logonError;

  const resource = str(record.ObjectId);
  if (resource) m.resource = { id: resource };
  m.auth = { protocol: lookup(extended, 'RequestType'), result_detail: lookup(extended, 'ResultStatusDetail') };

  const device = nameValues(record.DeviceProperties);
  if (device.length > 0) {
    m.device = {
      id: lookup(device, 'Id'),
      name: lookup(device, 'DisplayName'),
      os: lookup(device, 'OS'),
      browser: lookup(device, 'BrowserType'),
      is_compliant: bool(lookup(device, 'IsCompliant')),
      is_managed: bool(lookup(device, 'IsCompliantAndManaged')),
      trust_type: lookup(device, 'TrustType'),
    };
    m.session_id ??= lookup(device, 'SessionId');
  }
  draft.classify({ category: ['authentication'], type: ['start'], classUid: 3002, activityId: 1 });
}

export function mapEntraAccountLogon(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const status = int(record.LoginStatus);
  const extended = nameValues(record.ExtendedProperties);
  const loginError = lookup(extended, 'LoginError');
  const failed = record.Operation === 'UserLoginFailed' || (status !== null && status !== 0);
  ev.event.outcome = failed ? 'failure' : record.Operation === 'UserLoggedIn' || status === 0 ? 'success' : 'unknown';
  if (failed) {
    ev.error = { code: status === null ? null : String(status), message: loginError };
    if (loginError) ev.event.reason = loginError;
  }
  draft.classify({ category: ['authentication'], type: ['start'], classUid: 3002, activityId: 1 });
}

interface DirectoryClass {
  category: string[];
  type: string[];
  classUid: number;
  activityId: number;
}

function user(type: string, activityId: number, extra: string[] = []): DirectoryClass {
  return { category: ['iam'], type: ['user', type, ...extra], classUid: 3007, activityId };
}

function group(type: string, activityId: number): DirectoryClass {
  return { category: ['iam'], type: ['group', type], classUid: 3006, activityId };
}

/** Per-operation classification of Entra directory changes (Operation verbatim, e.g. "Add member to role."). */
export function classifyDirectoryOperation(operation: string | null): DirectoryClass {
  const op = (operation ?? '').toLowerCase().replace(/\.$/, '').trim();
  switch (op) {
    case 'add user':
      return user('creation', 1);
    case 'update user':
    case 'set user manager':
    case 'update user principal name':
      return user('change', 2);
    case 'delete user':
    case 'hard delete user':
      return user('deletion', 3);
    case 'restore user':
      return user('creation', 99);
    case 'enable account':
      return user('change', 4);
    case 'disable account':
      return user('change', 5);
    case 'change user password':
    case 'change password (self-service)':
      return user('change', 8);
    case 'reset user password':
    case 'reset password (by admin)':
    case 'reset password (self-service)':
    case 'set force change user password':
      return user('change', 9);
    case 'user registered security info':
    case 'user registered all required security info':
    case 'admin registered security info':
      return user('change', 12);
    case 'user deleted security info':
    case 'admin deleted security info':
    case 'user changed default security info':
      return user('change', 13);
    case 'add member to role':
    case 'add eligible member to role':
    case 'add scoped member to role':
      return user('change', 16, ['admin']);
    case 'remove member from role':
    case 'remove eligible member from role':
    case 'remove scoped member from role':
      return user('change', 17, ['admin']);
    case 'add member to group':
    case 'add owner to group':
      return group('change', 3);
    case 'remove member from group':
    case 'remove owner from group':
      return group('change', 4);
    case 'add group':
      return group('creation', 6);
    case 'delete group':
    case 'hard delete group':
      return group('deletion', 5);
    case 'update group':
      return group('change', 99);
    default: {
      const verb = verbOf(op);
      if (
        /application|service principal|consent|credential|oauth2|policy|domain|federation|partner|tenant|company|role definition|conditional access/.test(op)
      ) {
        return { category: ['configuration'], type: [verb === 'access' || verb === null ? 'info' : verb], classUid: 3004, activityId: crudActivity(verb) };
      }
      return { category: ['iam'], type: [verb === 'access' || verb === null ? 'info' : verb], classUid: 3004, activityId: crudActivity(verb) };
    }
  }
}

export function mapEntraDirectory(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const c = classifyDirectoryOperation(str(record.Operation));
  draft.classify(c);
  // The actor UPN may sit only in Actor[] (service principals have no UserId UPN).
  if (!draft.ev.user?.email) {
    const upn = arrayUpn(record.Actor);
    if (upn) draft.actor(upn, arrayGuid(record.Actor));
  }
  const objectId = str(record.ObjectId);
  const targetUpn = arrayUpn(record.Target) ?? (objectId?.includes('@') ? objectId : null);
  const targetGuid = arrayGuid(record.Target) ?? (isGuid(objectId) ? objectId : null);
  if (c.classUid === 3006) {
    const modified = Array.isArray(record.ModifiedProperties) ? (record.ModifiedProperties as Json[]) : [];
    const groupName = modified.find((p) => p && p.Name === 'Group.DisplayName');
    const groupId = modified.find((p) => p && p.Name === 'Group.ObjectID');
    const name = groupName ? (str(groupName.NewValue) ?? str(groupName.OldValue)) : null;
    const id = groupId ? (str(groupId.NewValue) ?? str(groupId.OldValue)) : null;
    if (name || id) draft.ev.group = { id, name };
  }
  // Only user/group management targets are users; for app or policy changes the target GUID is not a user.
  draft.targetUser(targetUpn, c.classUid === 3007 || c.classUid === 3006 ? targetGuid : null);
}
