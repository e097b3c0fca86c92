/**
 * OpenSearch Security Analytics' built-in `azure` and `m365` log types, and what our index template does with each of
 * their paths (decision 0123).
 *
 * A Security Analytics detector turns a Sigma rule's field names into index paths with its log type's table
 * (security-analytics `src/main/resources/OSMapping/<type>_logtype.json`) and queries those paths. The tables below
 * are that mapping as of the plugin version OpenSearch 2.19.3 ships (security-analytics 2.19.3.0): every path of the
 * two log types with the Sigma field names that lead to it. Each path either gets an `alias` field in our template,
 * pointing at the field that answers it, or is listed as deliberately unmapped with the reason. The plugin itself
 * cannot run in our tests (its zip and those of the plugins it needs are not on Maven Central), so
 * tests/index/template-coverage.test.ts checks this table is complete and tests/detections/sigma-rules.int.test.ts
 * queries the aliases on the real node.
 */

/** The Security Analytics release the tables were read from (OpenSearch 2.19.3 bundles 2.19.3.0). */
export const SECURITY_ANALYTICS_VERSION = '2.19.3.0';

/** Log type → index path → the Sigma field names the log type maps to that path. */
export const SECURITY_ANALYTICS_LOG_TYPE_PATHS: Readonly<Record<'azure' | 'm365', Readonly<Record<string, readonly string[]>>>> = {
  azure: {
    'azure.signinlogs.result_description': ['ResultDescription', 'Resultdescription'],
    eventSource: ['eventSource'],
    eventName: ['eventName'],
    'azure.platformlogs.status': ['Status', 'status'],
    'azure.auditlogs.properties.logged_by_service': ['LoggedByService'],
    properties_message: ['properties_message'],
    'azure.signinlogs.properties.user_id': ['TargetUserName'],
    timestamp: ['creationTime'],
    'azure.activitylogs.category': ['Category', 'CategoryValue'],
    'azure.platformlogs.operation_name': ['OperationName', 'Operation', 'OperationNameValue'],
    'modified_properties.new_value': ['ModifiedProperties_NewValue', 'ModifiedProperties{}.NewValue'],
    'azure.resource.provider': ['ResourceProviderValue'],
    'azure.signinlogs.properties.conditional_access_status': ['conditionalAccessStatus'],
    search_filter: ['SearchFilter'],
    'azure.platformlogs.result_type': ['ResultType'],
    'azure.signinlogs.properties.device_detail.is_compliant': ['DeviceDetail_isCompliant', 'DeviceDetail.isCompliant'],
    resource_display_name: ['ResourceDisplayName'],
    'azure.signinlogs.properties.authentication_requirement': ['AuthenticationRequirement'],
    target_resources: ['TargetResources'],
    Workload: ['Workload'],
    'azure.signinlogs.properties.device_detail.device_id': ['DeviceDetail_deviceId', 'DeviceDetail.deviceId'],
    'azure.signinlogs.properties.resource_id': ['ResourceId'],
    EventID: ['EventID'],
    'azure.signinlogs.properties.network_location_details': ['NetworkLocationDetails', 'Location'],
    'azure.auditlogs.properties.activity_display_name': ['ActivityDisplayName', 'ActivityType'],
    'azure.activitylogs.identity.claims_initiated_by_user.name': ['Initiatedby', 'Username'],
    Count: ['Count'],
    'azure.signinlogs.properties.resource_tenant_id': ['ResourceTenantId'],
    failure_status_reason: ['failure_status_reason'],
    'azure.signinlogs.properties.app_id': ['AppId'],
    'properties.message': ['properties.message'],
    'azure.signinlogs.properties.client_app_used': ['ClientApp'],
    ActivityDetails: ['ActivityDetails'],
    Target: ['Target'],
    'azure.signinlogs.properties.device_detail.trust_type': ['DeviceDetail.trusttype'],
    'azure.signinlogs.properties.home_tenant_id': ['HomeTenantId'],
    'ConsentContext.IsAdminConsent': ['ConsentContext.IsAdminConsent'],
    InitiatedBy: ['InitiatedBy'],
    'azure.activitylogs.operation_name': ['operationName'],
    'user_agent.name': ['userAgent'],
    'azure.signinlogs.properties.risk_state': ['RiskState'],
  },
  m365: {
    'rsa.misc.event_source': ['eventSource'],
    'rsa.misc.event_desc': ['eventName'],
    'rsa.misc.status': ['status'],
    'rsa.misc.payload_dst': ['Payload'],
  },
};

/**
 * Field names the plugin's bundled rules of these log types use that the tables above do not map: the plugin's query
 * backend then keeps the rule's own name as the path (security-analytics 2.19.3.0, OSQueryBackend), so these names are
 * paths too. azure: the risk-detection and PIM rules' riskEventType (26 rules); m365: the audit rules' Operation.
 */
export const SECURITY_ANALYTICS_UNTABLED_RULE_FIELDS: Readonly<Record<'azure' | 'm365', readonly string[]>> = {
  azure: ['riskEventType'],
  m365: ['Operation'],
};

/**
 * Aliases at the log types' paths, each pointing at the field that answers it. String fields point at their `.ci`
 * twin (lower-cased keyword, decision 0121), as the shipped pySigma pipeline does (0122): the plugin's bundled rules
 * write "Success" and "Update Application" where Microsoft writes "success" and "Update application", and
 * query_string applies the twin's normalizer through the alias. Targets are the pipeline's for the same Sigma name.
 */
export const SECURITY_ANALYTICS_ALIASES: Readonly<Record<string, string>> = {
  // azure log type: sign-in logs (Graph signIn)
  'azure.signinlogs.result_description': 'error.message',
  'azure.signinlogs.properties.user_id': 'user.id',
  'azure.signinlogs.properties.conditional_access_status': 'm365.conditional_access_status.ci',
  'azure.signinlogs.properties.device_detail.is_compliant': 'm365.device.is_compliant',
  'azure.signinlogs.properties.device_detail.device_id': 'm365.device.id.ci',
  'azure.signinlogs.properties.device_detail.trust_type': 'm365.device.trust_type.ci',
  'azure.signinlogs.properties.authentication_requirement': 'm365.auth.requirement.ci',
  'azure.signinlogs.properties.resource_id': 'm365.resource.id.ci',
  'azure.signinlogs.properties.network_location_details': 'm365.network_location_types.ci',
  'azure.signinlogs.properties.resource_tenant_id': 'm365.resource_tenant_id.ci',
  'azure.signinlogs.properties.home_tenant_id': 'm365.home_tenant_id.ci',
  'azure.signinlogs.properties.app_id': 'm365.app.id.ci',
  'azure.signinlogs.properties.client_app_used': 'm365.client_app.ci',
  'azure.signinlogs.properties.risk_state': 'm365.risk.state.ci',
  resource_display_name: 'm365.resource.name.ci',
  ActivityDetails: 'm365.activity_details.ci',
  'user_agent.name': 'user_agent.original.ci',
  // azure log type: shared by sign-in and audit rules (status, result code, operation name)
  'azure.platformlogs.status': 'event.outcome.ci',
  'azure.platformlogs.operation_name': 'event.action.ci',
  'azure.platformlogs.result_type': 'error.code.ci',
  // azure log type: audit logs (Graph directoryAudit)
  'azure.auditlogs.properties.logged_by_service': 'event.provider.ci',
  'azure.auditlogs.properties.activity_display_name': 'event.action.ci',
  'azure.activitylogs.category': 'event.code.ci',
  'azure.activitylogs.identity.claims_initiated_by_user.name': 'user.email',
  'properties.message': 'event.action.ci',
  properties_message: 'event.action.ci',
  'modified_properties.new_value': 'm365.modified_properties_text.ci',
  target_resources: 'm365.target_resources.id.ci',
  failure_status_reason: 'event.reason.ci',
  Target: 'user.target.email',
  InitiatedBy: 'user.email',
  timestamp: '@timestamp',
  // azure log type's CloudTrail-style names, and the unified audit log's Workload
  Workload: 'm365.workload.ci',
  eventSource: 'm365.workload.ci',
  eventName: 'event.action.ci',
  // rule fields outside the tables, queried under their own names
  riskEventType: 'm365.risk.event_types.ci',
  Operation: 'event.action.ci',
  // m365 log type (threat-management rules: eventSource = workload, eventName = alert name, status)
  'rsa.misc.event_source': 'm365.workload.ci',
  'rsa.misc.event_desc': 'rule.name.ci',
  'rsa.misc.status': 'm365.result_status.ci',
};

/** Paths of the two log types that get no alias, and why (docs/detections.md repeats them). */
export const SECURITY_ANALYTICS_UNMAPPED: Readonly<Record<string, string>> = {
  'azure.resource.provider': 'ResourceProviderValue is an Azure Resource Manager activity log column; we collect no activity log',
  'azure.activitylogs.operation_name':
    'operationName here is an Azure Resource Manager operation (MICROSOFT.NETWORK/…/WRITE); we collect no activity log, and aliasing it to event.action would let those rules run on Entra activity names',
  search_filter: 'SearchFilter is an LDAP search filter (directory-service events); no Microsoft 365 or Entra record carries one',
  EventID: 'a Windows event id; Microsoft 365 and Entra records have none',
  Count: "an aggregate of a Log Analytics query (the rules write Count: '<10%'), not a field of any record",
  'ConsentContext.IsAdminConsent':
    'a modifiedProperties entry of the consent record: its value is only inside m365.modified_properties_text ("ConsentContext.IsAdminConsent: … -> …"), where an exact value can never match; the shipped pipeline rewrites the condition to a substring',
  'rsa.misc.payload_dst': 'no documented Management Activity API field carries the alert payload (Payload)',
};
