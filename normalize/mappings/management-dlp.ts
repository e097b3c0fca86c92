/**
 * DLP records (DLP.All): ComplianceDLPSharePoint (11), ComplianceDLPExchange (13), classification (33, 107) and
 * endpoint (63). A rule match is an alert (OCSF 2006 Data Security Finding); policies and rules become rule.*.
 */
import type { EventDraft, MapContext } from '../event-draft.ts';
import { severityNumber } from '../event-draft.ts';
import { arr, isObject, str, type Json } from '../record-values.ts';
import { emailOf } from '../user.ts';

function addresses(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[;,]/) : [];
  const out: string[] = [];
  for (const v of list) {
    const a = emailOf(typeof v === 'string' ? v.trim() : v);
    if (a && !out.includes(a)) out.push(a);
  }
  return out;
}

export function mapDlp(record: Json, draft: EventDraft, _ctx: MapContext): void {
  const ev = draft.ev;
  const m = draft.m365;
  const operation = str(record.Operation) ?? '';
  const exchange = record.RecordType === 13 || record.RecordType === 107 || str(record.Workload) === 'Exchange';
  const category = exchange ? ['email'] : ['file'];
  if (operation === 'DlpRuleMatch')
    draft.classify({ kind: 'alert', category: ['intrusion_detection', ...category], type: ['info'], classUid: 2006, activityId: 1 });
  else if (operation === 'DlpRuleUndo') draft.classify({ kind: 'event', category, type: ['change'], classUid: 2006, activityId: 3 });
  else draft.classify({ kind: 'event', category, type: ['info'], classUid: 2006, activityId: 2 });
  ev.event.outcome = null;

  const ruleIds: string[] = [];
  const ruleNames: string[] = [];
  const policies: string[] = [];
  let severity: number | null = null;
  for (const policy of arr(record.PolicyDetails)) {
    if (!isObject(policy)) continue;
    const policyName = str(policy.PolicyName);
    if (policyName) policies.push(policyName);
    for (const rule of arr(policy.Rules)) {
      if (!isObject(rule)) continue;
      const id = str(rule.RuleId);
      const name = str(rule.RuleName);
      if (id) ruleIds.push(id);
      if (name) ruleNames.push(name);
      const s = severityNumber(rule.Severity);
      if (s !== null && (severity === null || s > severity)) severity = s;
    }
  }
  if (ruleIds.length > 0 || ruleNames.length > 0 || policies.length > 0) {
    ev.rule = {
      id: ruleIds.length > 0 ? ruleIds : null,
      name: ruleNames.length > 0 ? ruleNames : null,
      category: policies.length > 0 ? policies.join('; ') : null,
    };
  }
  if (severity !== null) ev.event.severity = severity;
  ev.message = ruleNames[0] ?? policies[0] ?? null;
  m.alert = { id: str(record.IncidentId) };

  const meta = isObject(record.ExchangeMetaData) ? record.ExchangeMetaData : null;
  if (meta) {
    const from = addresses(meta.From);
    const to = [...addresses(meta.To), ...addresses(meta.CC), ...addresses(meta.BCC)];
    ev.email = {
      subject: str(meta.Subject),
      message_id: str(meta.MessageID),
      from: from.length > 0 ? { address: from } : null,
      to: to.length > 0 ? { address: [...new Set(to)] } : null,
    };
    for (const a of from) draft.relatedUser(a);
  }
  const sp = isObject(record.SharePointMetaData) ? record.SharePointMetaData : null;
  if (sp) {
    const fileName = str(sp.FileName);
    const path = str(sp.FilePathUrl) ?? str(record.ObjectId);
    const dot = fileName ? fileName.lastIndexOf('.') : -1;
    ev.file = { name: fileName, extension: fileName && dot > 0 ? fileName.slice(dot + 1).toLowerCase() : null, path };
    if (path && /^https?:\/\//i.test(path)) ev.url = { original: path };
    draft.relatedUser(emailOf(sp.From));
  }
}
