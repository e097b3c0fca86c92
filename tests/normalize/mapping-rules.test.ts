/**
 * The mapping rules detections depend on, asserted directly (the golden corpus pins whole outputs; these say why).
 */
import { describe, expect, it } from 'vitest';
import type { RawEnvelope } from '../../runtime/index.ts';
import { mapEnvelope, normalizeValue, encodeEvent, recordTextOf } from '../../normalize/mapper.ts';
import { decodeSiemEvent, flattenVendorRecord, EVENT_CATEGORIES, EVENT_KINDS, EVENT_OUTCOMES, EVENT_TYPES, type SiemEvent } from '../../schemas/index.ts';
import { goldenCases } from './golden.ts';
import { simulatedEnvelopes } from './simulated-envelopes.ts';

const TENANT = '4f2b8c1a-0d3e-4a5b-9c6d-7e8f9a0b1c2d';

function envelope(source: RawEnvelope['source'], record: Record<string, unknown>, orgId = 'org-a'): RawEnvelope {
  return { orgId, tenantId: TENANT, source, fetchedAt: '2026-11-20T10:15:00.000Z', record };
}

function map(env: RawEnvelope, vendorFields = false): SiemEvent {
  const out = mapEnvelope(env, { nowMicros: () => 1, vendorFields });
  if (out.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(out)}`);
  return out.value;
}

const sts = (extra: Record<string, unknown>) =>
  envelope('management:Audit.AzureActiveDirectory', {
    Id: 'a1',
    RecordType: 15,
    CreationTime: '2026-11-20T10:00:00',
    Workload: 'AzureActiveDirectory',
    UserId: 'Megan@Contoso.com',
    ...extra,
  });

describe('sign-in outcome never comes from ResultStatus', () => {
  it('UserLoginFailed with ResultStatus Succeeded is a failure', () => {
    const ev = map(sts({ Operation: 'UserLoginFailed', ResultStatus: 'Succeeded', ErrorCode: '50126', LogonError: 'InvalidUserNameOrPassword' }));
    expect(ev.event.outcome).toBe('failure');
    expect(ev.error?.code).toBe('50126');
    expect(ev.event.reason).toBe('InvalidUserNameOrPassword');
    expect(ev.ocsf?.status_id).toBe(2);
    expect(ev.ocsf?.class_uid).toBe(3002);
  });
  it('UserLoggedIn with ErrorCode 0 is a success even when ResultStatus says Failed', () => {
    const ev = map(sts({ Operation: 'UserLoggedIn', ResultStatus: 'Failed', ErrorCode: '0' }));
    expect(ev.event.outcome).toBe('success');
    expect(ev.error ?? null).toBeNull();
  });
  it('a LogonError alone makes a failure', () => {
    expect(map(sts({ Operation: 'UserLoggedIn', ResultStatus: 'Succeeded', LogonError: 'IdsLocked' })).event.outcome).toBe('failure');
  });
  it('Graph sign-in: errorCode 0 success, non-zero failure, no status unknown', () => {
    const signIn = (status: unknown) =>
      map(
        envelope('graph:signIns', {
          id: 's1',
          createdDateTime: '2026-11-20T10:00:00Z',
          userPrincipalName: 'a@b.com',
          ...(status === undefined ? {} : { status }),
        }),
      );
    expect(signIn({ errorCode: 0 }).event.outcome).toBe('success');
    const failed = signIn({ errorCode: 50074, failureReason: 'Strong Authentication is required.' });
    expect(failed.event.outcome).toBe('failure');
    expect(failed.error?.code).toBe('50074');
    expect(signIn(undefined).event.outcome).toBe('unknown');
  });
});

describe('identity', () => {
  it('user.email is the lower-cased UPN and user.id only an object GUID', () => {
    const ev = map(
      envelope('management:Audit.AzureActiveDirectory', {
        Id: 'd1',
        RecordType: 8,
        CreationTime: '2026-11-20T10:00:00',
        Operation: 'Add user.',
        UserId: 'Admin@Contoso.COM',
        Actor: [
          { ID: 'Admin@Contoso.COM', Type: 5 },
          { ID: '10037FFE8F3B2C41', Type: 3 },
        ],
      }),
    );
    expect(ev.user?.email).toBe('admin@contoso.com');
    expect(ev.user?.name).toBe('admin');
    expect(ev.user?.domain).toBe('contoso.com');
    expect(ev.user?.id ?? null).toBeNull(); // the PUID is not an object id
  });
  it('Graph userId that is not a GUID is not used as user.id', () => {
    const ev = map(
      envelope('graph:signIns', {
        id: 's2',
        createdDateTime: '2026-11-20T10:00:00Z',
        userPrincipalName: 'x@y.com',
        userId: 'x@y.com',
        status: { errorCode: 0 },
      }),
    );
    expect(ev.user?.id ?? null).toBeNull();
    expect(ev.user?.email).toBe('x@y.com');
  });
});

describe('ids, organization and preservation', () => {
  it("event.id is Microsoft's Id / id and organization.id is the envelope's org", () => {
    const [mgmt] = simulatedEnvelopes(1, 'org-zeta');
    const ev = map(mgmt as RawEnvelope);
    expect(ev.event.id).toBe((mgmt as RawEnvelope).record.Id);
    expect(ev.organization.id).toBe('org-zeta');
    expect(ev.cloud?.account?.id).toBe((mgmt as RawEnvelope).tenantId);
  });
  it('event.original keeps the Microsoft record verbatim', () => {
    const record = { Id: 'o1', RecordType: 4242, CreationTime: '2026-11-20T10:00:00', Weird: { nested: ['ü', 1, null] } };
    const ev = map(envelope('management:Audit.General', record));
    expect(JSON.parse(ev.event.original as string)).toEqual(record);
  });
  it('derived registration events: same snapshot → same id, changed snapshot → new id', () => {
    const snap = {
      id: '1bb2cc33-dd44-4ee5-9ff6-007788990011',
      userPrincipalName: 'd@c.com',
      isMfaRegistered: false,
      methodsRegistered: [],
      lastUpdatedDateTime: '2026-11-20T10:00:00Z',
    };
    const a = map(envelope('graph:userRegistrationDetails', snap));
    const b = map(envelope('graph:userRegistrationDetails', { ...snap }));
    const c = map(
      envelope('graph:userRegistrationDetails', { ...snap, isMfaRegistered: true, methodsRegistered: ['fido2'], lastUpdatedDateTime: '2026-11-21T10:00:00Z' }),
    );
    expect(a.event.id).toBe(b.event.id);
    expect(c.event.id).not.toBe(a.event.id);
    expect(a.event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('the same record in two organizations keeps its event.id; org separates them', () => {
    const r = { Id: 'same', RecordType: 6, CreationTime: '2026-11-20T10:00:00', Operation: 'FileAccessed' };
    const a = map(envelope('management:Audit.SharePoint', r, 'org-a'));
    const b = map(envelope('management:Audit.SharePoint', r, 'org-b'));
    expect(a.event.id).toBe(b.event.id);
    expect([a.organization.id, b.organization.id]).toEqual(['org-a', 'org-b']);
  });
});

describe('searchability of tricky fields', () => {
  it('an inbox rule forwarding outside: Parameters kept by name and the target in email.to.address', () => {
    const ev = map(
      envelope('management:Audit.Exchange', {
        Id: 'x1',
        RecordType: 1,
        CreationTime: '2026-11-20T10:00:00',
        Operation: 'New-InboxRule',
        ResultStatus: 'True',
        UserId: 'adele@contoso.com',
        Parameters: [
          { Name: 'ForwardTo', Value: 'Exfil@Evil.example' },
          { Name: 'Name', Value: '..' },
        ],
      }),
      true,
    );
    expect(ev.m365?.parameters?.ForwardTo).toBe('Exfil@Evil.example');
    expect(ev.m365?.fields?.['Parameters.ForwardTo']).toBe('Exfil@Evil.example');
    expect(ev.m365?.parameters_text).toContain('ForwardTo=Exfil@Evil.example');
    expect(ev.email?.to?.address).toEqual(['exfil@evil.example']);
    expect(ev.event.category).toEqual(['api', 'email']);
    expect(ev.event.type).toEqual(['creation']);
  });
  it('stringified JSON is parsed into m365.fields', () => {
    const ev = map(
      envelope('management:Audit.General', {
        Id: 'x2',
        RecordType: 40,
        CreationTime: '2026-11-20T10:00:00',
        Operation: 'AlertTriggered',
        Name: 'Alert',
        Data: '{"f3u":"Adele@Contoso.com","op":"New-InboxRule"}',
        Severity: 'Medium',
      }),
      true,
    );
    expect(ev.event.kind).toBe('alert');
    expect(ev.event.severity).toBe(3);
    expect(ev.m365?.fields?.['Data.f3u']).toBe('Adele@Contoso.com');
    expect(ev.related?.user).toContain('adele@contoso.com');
  });
  it('unknown RecordType is still normalized with the common fields', () => {
    const ev = map(
      envelope('management:Audit.General', {
        Id: 'u1',
        RecordType: 777,
        CreationTime: '2026-11-20T10:00:00',
        Operation: 'Brand new',
        Workload: 'Future',
        UserId: 'a@b.com',
        ClientIP: '1.2.3.4:5',
      }),
    );
    expect(ev.event.code).toBe('777');
    expect(ev.event.action).toBe('Brand new');
    expect(ev.user?.email).toBe('a@b.com');
    expect(ev.source?.ip).toBe('1.2.3.4');
    expect(ev.source?.port).toBe(5);
    expect(ev.ocsf?.class_uid).toBe(0);
  });
});

describe('vendor fields and event.original', () => {
  it('m365.fields is off by default and, when on, equals the flattened event.original', () => {
    const env = envelope('management:Audit.AzureActiveDirectory', {
      Id: 'v1',
      RecordType: 15,
      CreationTime: '2026-11-20T10:00:00',
      Operation: 'UserLoginFailed',
      ExtendedProperties: '[{"Name":"RequestType","Value":"Login:login"}]',
      Actor: [{ ID: 'a@b.com', Type: 5 }],
    });
    expect(map(env).m365?.fields ?? null).toBeNull();
    const full = map(env, true);
    expect(full.m365?.fields?.['ExtendedProperties.RequestType']).toBe('Login:login');
    expect(full.m365?.fields?.['Actor.0.ID']).toBe('a@b.com');
    expect(flattenVendorRecord(full.event.original as string)).toEqual(full.m365?.fields);
  });

  it('event.original is cut from compact envelope text verbatim, and re-serialized otherwise', () => {
    const record = { Id: 'o2', RecordType: 6, CreationTime: '2026-11-20T10:00:00', Note: 'has "record": inside a string', N: 1.5 };
    const compact = JSON.stringify(envelope('management:Audit.SharePoint', record));
    expect(recordTextOf(compact, JSON.parse(compact) as object)).toBe(JSON.stringify(record));
    const out = normalizeValue(compact);
    expect(out.kind === 'ok' && out.value.event.original).toBe(JSON.stringify(record));
    // record not last, nested "record" key, pretty-printed: no cut (falls back to JSON.stringify)
    const { record: _unused, ...head } = envelope('management:Audit.SharePoint', {});
    const notLast = JSON.stringify({ ...head, record, extra: 1 });
    expect(recordTextOf(notLast, JSON.parse(notLast) as object)).toBeNull();
    const nested = JSON.stringify(envelope('management:Audit.SharePoint', { ...record, Inner: { record: 1 } }));
    expect(recordTextOf(nested, JSON.parse(nested) as object)).toBeNull();
    const pretty = JSON.stringify(envelope('management:Audit.SharePoint', record), null, 2);
    expect(recordTextOf(pretty, JSON.parse(pretty) as object)).toBeNull();
    const viaPretty = normalizeValue(pretty);
    expect(viaPretty.kind === 'ok' && viaPretty.value.event.original).toBe(JSON.stringify(record));
  });
});

describe('dead letters', () => {
  it.each([
    ['', 'empty_value'],
    ['{not json', 'invalid_json'],
    ['{"orgId":"o"}', 'invalid_envelope'],
    [JSON.stringify({ orgId: 'o', tenantId: 't', source: 'management:Audit.Nope', fetchedAt: 'x', record: {} }), 'invalid_envelope'],
    [
      JSON.stringify({ orgId: 'o', tenantId: 't', source: 'management:Audit.General', fetchedAt: '2026-11-20T10:00:00Z', record: { RecordType: 1 } }),
      'mapping_error',
    ],
    [
      JSON.stringify({
        orgId: 'o',
        tenantId: 't',
        source: 'graph:signIns',
        fetchedAt: '2026-11-20T10:00:00Z',
        record: { createdDateTime: '2026-11-20T10:00:00Z' },
      }),
      'mapping_error',
    ],
  ])('%j → %s', (input, code) => {
    const out = normalizeValue(input);
    expect(out.kind).toBe('dead-letter');
    if (out.kind === 'dead-letter') expect(out.code).toBe(code);
  });
  it('an event that does not fit the schema is avro_invalid, naming the field', () => {
    const out = encodeEvent({ timestamp: 1, event: { id: 'x', dataset: 'd', severity: 'high' as unknown as number }, organization: { id: 'o' } });
    expect(out.kind).toBe('dead-letter');
    if (out.kind === 'dead-letter') {
      expect(out.code).toBe('avro_invalid');
      expect(out.reason).toContain('event.severity');
    }
  });
});

describe('every output fits the schema and the controlled vocabularies', () => {
  const inputs = [...goldenCases().map((c) => c.input), ...simulatedEnvelopes(500).map((e) => JSON.stringify(e))];
  it(`${inputs.length} golden and simulated records`, () => {
    for (const input of inputs) {
      const out = normalizeValue(input);
      expect(out.kind, input.slice(0, 200)).toBe('ok');
      if (out.kind !== 'ok') continue;
      const enc = encodeEvent(out.value);
      expect(enc.kind).toBe('ok');
      if (enc.kind !== 'ok') continue;
      const ev = decodeSiemEvent(enc.value);
      expect(EVENT_KINDS).toContain(ev.event.kind);
      if (ev.event.outcome !== null) expect(EVENT_OUTCOMES).toContain(ev.event.outcome);
      for (const c of ev.event.category ?? []) expect(EVENT_CATEGORIES).toContain(c);
      for (const t of ev.event.type ?? []) expect(EVENT_TYPES).toContain(t);
      expect(ev.ocsf?.type_uid).toBe((ev.ocsf?.class_uid ?? 0) * 100 + (ev.ocsf?.activity_id ?? 0));
      if (ev.user?.id) expect(ev.user.id).toMatch(/^[0-9a-f-]{36}$/);
      if (ev.user?.email) expect(ev.user.email).toBe(ev.user.email.toLowerCase());
      for (const ip of ev.related?.ip ?? []) expect(ip).not.toContain('[');
    }
  });
});

describe('fields derived for search stay bounded, the whole record stays in event.original', () => {
  // A 3 MB cmdlet record: 190 parameters of 16 KB each (the shape of the burst test's largest record).
  const params = Array.from({ length: 190 }, (_, i) => ({ Name: `Param${i}`, Value: `AllowedSenders:${'a'.repeat(16 * 1024)}` }));
  const record = {
    Id: 'big-1',
    RecordType: 1,
    CreationTime: '2026-11-20T10:00:00',
    Workload: 'Exchange',
    Operation: 'Set-Mailbox',
    UserId: 'admin@contoso.com',
    ObjectId: 'megan@contoso.com',
    Parameters: [{ Name: 'Identity', Value: 'megan@contoso.com' }, { Name: 'ForwardingSmtpAddress', Value: 'smtp:out@fabrikam.example' }, ...params],
    ModifiedProperties: params.map((p) => ({ Name: p.Name, NewValue: p.Value, OldValue: '' })),
  };

  it('keeps a 3 MB record whole in event.original and bounds m365.parameters and the two text fields', () => {
    const recordBytes = Buffer.byteLength(JSON.stringify(record));
    expect(recordBytes).toBeGreaterThan(6_000_000);
    const ev = map(envelope('management:Audit.Exchange', record));
    expect(JSON.parse(ev.event.original ?? '{}')).toEqual(record);
    const parameters = ev.m365?.parameters ?? {};
    expect(parameters.Identity).toBe('megan@contoso.com');
    expect(parameters.Param0).toMatch(/^AllowedSenders:a+…\[\d+ more characters in event\.original\]$/);
    expect(Object.values(parameters).reduce((n, v) => n + v.length, 0)).toBeLessThan(80_000);
    expect(ev.m365?.parameters_text?.length).toBeLessThan(33_000);
    expect(ev.m365?.modified_properties_text?.length).toBeLessThan(33_000);
    // Forwarding is read from the whole value, not the bounded copy.
    expect(ev.email?.to?.address).toEqual(['out@fabrikam.example']);
    // The encoded event is the record plus a bounded overhead, not two or three copies of it.
    const encoded = encodeEvent(ev);
    if (encoded.kind !== 'ok') throw new Error(`expected the event to encode: ${encoded.reason}`);
    expect(encoded.value.length).toBeLessThan(recordBytes + 300_000);
  });

  it('leaves ordinary values as they are', () => {
    const ev = map(envelope('management:Audit.Exchange', { ...record, Parameters: [{ Name: 'Identity', Value: 'x'.repeat(4_096) }], ModifiedProperties: [] }));
    expect(ev.m365?.parameters?.Identity).toBe('x'.repeat(4_096));
  });
});
