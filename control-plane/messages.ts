/**
 * Every sentence the operator or the consenting administrator reads about a connection, in one place: the status
 * reasons with their remedies, the consent pages' titles and messages, and the reminders the UI shows. The control
 * plane renders them; the UI (control-plane/ui/app) bundles this same file, so both say the same thing.
 *
 * Browser-safe: no imports but types.
 */
import type { ConnectionReason } from './status.ts';

export interface ReasonText {
  message: string;
  remedy: string;
}

/** The seed's one warning about who consents, in its own words. */
export const PARTNER_WARNING = 'do not use a master CSP partner account';
export const SIGN_IN_REMINDER = 'Sign in as a Global Administrator of the customer tenant, never with a CSP partner account.';
/** How long verification keeps retrying after a consent (docs/decisions/0101). */
export const PROPAGATION_WINDOW_MINUTES = 15;

/** The closed table of reasons, what they mean and what the operator does about them. */
export const REASONS: Readonly<Record<ConnectionReason, ReasonText>> = {
  consent_revoked: {
    message: 'The application has no service principal or no consent in the tenant any more (consent revoked or the enterprise application deleted).',
    remedy:
      'Repair the connection (POST …/microsoft-manage/repair or `m365-siem org repair <id>`) and have a Global Administrator of the customer tenant consent again. Pollers resume from their cursors, so the outage is back-filled.',
  },
  secret_invalid: {
    message: "Entra ID rejected the application's client credential (invalid secret, or the secret ID was configured instead of its value).",
    remedy:
      "Set the client secret setting of the connection's cloud (M365_CLIENT_SECRET for commercial and GCC, M365_GCC_HIGH_CLIENT_SECRET for GCC High and DoD) to the value of a valid client secret of that registration (or configure a certificate) and restart the services.",
  },
  secret_expired: {
    message: "The application's client secret has expired.",
    remedy:
      "Create a new client secret (or a certificate) on the app registration of the connection's cloud, update its setting (M365_CLIENT_SECRET, M365_GCC_HIGH_CLIENT_SECRET, …) and restart the services; pollers catch up from their cursors.",
  },
  tenant_not_found: {
    message: "Entra ID does not know the tenant (deleted, mistyped, or in another cloud than the connection's).",
    remedy: 'Check the tenant and the cloud of the connection. A tenant in another cloud needs a new organization connected with the right cloud.',
  },
  audit_logging_off: {
    message: 'Unified audit logging is off in the tenant, so the Management Activity API has nothing to serve.',
    remedy:
      'Turn on auditing in Microsoft Purview (or `Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true`); it can take up to 60 minutes to take effect.',
  },
  subscription_disabled: {
    message: 'A Management Activity API subscription of the tenant is disabled.',
    remedy:
      'The pollers start subscriptions themselves; if this persists, check that the tenant has an Office 365 licence with auditing and that audit logging is on.',
  },
  permission_missing: {
    message: 'Microsoft refused a request for lack of permission although the roles look granted.',
    remedy: 'Repair the connection so a Global Administrator consents again; new roles appear only in new tokens (up to an hour).',
  },
  upgrade_pending: {
    message: 'The permission manifest in force needs application roles the tenant has not granted; sources that need them are paused, the others keep flowing.',
    remedy:
      'Approve the upgrade (POST …/microsoft-manage/upgrades/approve or `m365-siem org approve-upgrade <id>`) and have a Global Administrator consent, or turn on auto-upgrade.',
  },
  data_loss_risk: {
    message: "A failing window is close to Microsoft's 7-day retention limit; data will be lost if it is not fetched in time.",
    remedy: "Fix the source's error now (see the source's reason); the pollers retry the window automatically.",
  },
  throttled: {
    message: "Microsoft is throttling the connector's requests for this tenant.",
    remedy:
      'Usually temporary: the pollers back off and catch up. If it persists, check PublisherIdentifier configuration and other apps using the same quota.',
  },
  lagging: {
    message: 'Events arrive later than the expected delay (CONTROL_PLANE_EXPECTED_LAG_SECONDS).',
    remedy: 'Check that ingest instances are running and not throttled; add ingest instances to spread tenants.',
  },
  microsoft_unavailable: {
    message: "Microsoft's endpoints answered with errors or did not answer.",
    remedy: 'Nothing to do unless it persists; requests are retried with backoff. Check Microsoft 365 service health.',
  },
  malformed_response: {
    message: 'Microsoft answered with responses the pollers could not read; affected records were dead-lettered.',
    remedy: 'Inspect siem.events.dlq for the source and report the response shape; nothing is dropped silently.',
  },
  tenant_mismatch: {
    message: 'Microsoft served data of another tenant than the pinned one; it was refused.',
    remedy: "Check the connection's tenant and cloud; repair with a Global Administrator of the pinned tenant.",
  },
  kafka_unavailable: {
    message: 'The pollers cannot write to Kafka.',
    remedy: "Check the Kafka cluster; pollers keep their cursors until Kafka acknowledges, so nothing is lost within Microsoft's 7 days.",
  },
  licence_missing: {
    message: 'The tenant lacks the Microsoft Entra ID licence this report needs.',
    remedy: 'Assign Microsoft Entra ID P1 or P2 in the tenant if the report is wanted; other sources are not affected.',
  },
  pipeline_stalled: {
    message:
      "A pipeline stage has committed nothing while this organization's records wait for it: they are safe in Kafka but do not reach siem.events or the index.",
    remedy:
      "Check the stalled stage's instances (their /readyz, log and consumer_lag gauges) and restart them if they do not recover; they resume from their committed offsets, so nothing is lost. See docs/pipeline-health.md.",
  },
  certificate_invalid: {
    message:
      "Entra ID refused the application's certificate (AADSTS700027: the certificate is not registered on the application or the signature does not verify; AADSTS700024: the client assertion is outside its validity time, usually this host's clock).",
    remedy:
      "Upload the certificate configured in M365_CLIENT_CERTIFICATE_FILE (or its cloud's setting) to the app registration, or configure the certificate that is registered; check the host clock (NTP). Restart the services after changing the files.",
  },
  application_disabled: {
    message: 'The application is disabled (AADSTS7000112): its service principal in the tenant, or the registration itself, was disabled by an administrator.',
    remedy:
      'Ask an administrator of the tenant to enable the enterprise application again (Entra ID → Enterprise applications → Properties → Enabled for users to sign-in), then Repair the connection.',
  },
  conditional_access: {
    message: 'A Conditional Access policy of the tenant blocks the application (AADSTS53003).',
    remedy:
      "Ask an administrator of the tenant to exclude the application's service principal from the blocking Conditional Access policy (workload identity policies, location restrictions), then Repair the connection.",
  },
  wrong_cloud: {
    message: "The tenant belongs to another national cloud than the connection's (AADSTS90038 or AADSTS900432): its tokens are issued by another Entra ID.",
    remedy:
      "Create a new organization connected in the tenant's own cloud (GCC High and DoD tenants live in Azure Government), with the registration of that cloud configured.",
  },
  service_not_subscribed: {
    message:
      'The tenant has not subscribed to a service the application reads (AADSTS650052), for example no Office 365 subscription for the Management Activity API.',
    remedy: "Check the tenant's licences (Microsoft 365 / Office 365 with auditing); after the subscription is active, Repair the connection.",
  },
  consent_propagating: {
    message: 'Consent was given; waiting for Microsoft to propagate the consent (usually seconds, at most 15 minutes).',
    remedy: 'Nothing to do: verification is retried with backoff and the connection becomes Active by itself. After 15 minutes the real reason is shown.',
  },
  internal_error: {
    message: 'An error nobody has classified yet happened; its error id is in the control-plane or ingest log.',
    remedy: 'Look the error id up in the log; it is retried with backoff. Report it with the id if it persists.',
  },
};

/** Short words for reason codes, where the UI shows a code without the API's sentence. */
export const REASON_SUMMARY: Readonly<Record<ConnectionReason, string>> = {
  consent_revoked: 'The admin consent was revoked or the service principal was removed from the tenant.',
  secret_invalid: 'The application secret or certificate was rejected.',
  secret_expired: 'The application secret or certificate has expired.',
  tenant_not_found: 'The tenant was not found in this cloud.',
  audit_logging_off: 'Unified audit logging is turned off in the tenant.',
  subscription_disabled: 'A Management Activity API subscription is disabled.',
  permission_missing: 'A required permission is not granted.',
  upgrade_pending: 'New permissions wait for an administrator to approve them.',
  licence_missing: 'The tenant lacks the Microsoft Entra ID licence this report needs.',
  throttled: 'Microsoft is throttling requests for this tenant.',
  lagging: 'Events arrive later than the expected delay.',
  data_loss_risk: 'Unfetched data is close to Microsoft’s 7-day limit.',
  microsoft_unavailable: 'Microsoft’s API is unavailable.',
  malformed_response: 'Microsoft answered with a malformed response.',
  tenant_mismatch: 'Consent came from a different tenant than the one pinned to this organization.',
  kafka_unavailable: 'The event pipeline (Kafka) is unavailable.',
  pipeline_stalled: 'A pipeline stage has stopped processing this organization’s events; they wait safely in Kafka.',
  certificate_invalid: 'Entra ID refused the application’s certificate.',
  application_disabled: 'The application is disabled in the tenant.',
  conditional_access: 'A Conditional Access policy blocks the application.',
  wrong_cloud: 'The tenant belongs to another national cloud.',
  service_not_subscribed: 'The tenant has not subscribed to a service the application reads.',
  consent_propagating: 'Waiting for Microsoft to propagate the consent.',
  internal_error: 'An unclassified error; its id is in the log.',
};

/** What the operator UI says while and after a consent pop-up of each kind. */
export const FLOW_WORDS = {
  connect: { action: 'connect the tenant', success: 'Consent granted. The connection is being verified; the status below updates by itself.' },
  approve: {
    action: 'approve the permission upgrade',
    success: 'Upgrade approved. The new permissions are being verified; the status below updates by itself.',
  },
  repair: { action: 'repair the connection', success: 'Consent renewed. The connection is being re-verified; the status below updates by itself.' },
} as const;

/** Status sentences the control plane computes outside the reasons table. */
export const STATUS_TEXT = {
  waitingForConsent: 'Waiting for a Global Administrator of the tenant to consent.',
  disconnected: 'Polling is stopped; collected data stays. Connect again to resume.',
  waitingForFirstEvents: 'Connected; the first events usually arrive within a minute (Management API content can take longer).',
} as const;

export interface ConsentPage {
  title: string;
  message: string;
}

const again = 'Ask the operator for a new link (connect, repair or approve the upgrade again).';

/** The pages of the consent round trip (sign-in step and consent step), by outcome. */
export const CONSENT_PAGES = {
  missingState: {
    title: 'This consent response is not valid',
    message: 'The response carries no state parameter, so it cannot be matched to an organization. Nothing was changed.',
  },
  invalidState: {
    title: 'This consent response is not valid',
    message: 'The state parameter was altered or was not issued by this control plane. Nothing was changed.',
  },
  expiredState: { title: 'This consent link has expired', message: `Consent links are valid for 10 minutes. Nothing was changed. ${again}` },
  reusedState: { title: 'This consent link was already used', message: `Each consent link works once. Nothing was changed. ${again}` },
  unknownOrganization: { title: 'Organization not found', message: 'The organization this consent was requested for no longer exists. Nothing was changed.' },
  notConnecting: { title: 'No connection was requested', message: 'This organization has no Microsoft 365 connection request. Nothing was changed.' },
  disconnected: {
    title: 'The connection was disconnected',
    message: 'This link was created before the connection was disconnected. Nothing was changed; the operator connects the organization again to resume.',
  },
  malformed: {
    title: 'The consent response is incomplete',
    message: "Microsoft's response named no tenant id or did not confirm admin consent. Nothing was changed.",
  },
  forgedTenant: (returned: string, signed: string): ConsentPage => ({
    title: 'The consent response does not match the sign-in',
    message: `The response names tenant ${returned}, but the administrator signed in to tenant ${signed}. The tenant in the response is not signed by Microsoft, so it is not trusted. Nothing was changed.`,
  }),
  declined: (error: string, description: string): ConsentPage => ({
    title: 'Consent was not given',
    message: `Microsoft reported: ${error}${description ? ` — ${description}` : ''}. Nothing was connected. The operator can create a new consent link when the administrator is ready.`,
  }),
  signInFailed: (detail: string): ConsentPage => ({
    title: 'The sign-in could not be verified',
    message: `The administrator's sign-in could not be verified (${detail}). Nothing was changed. ${again}`,
  }),
  foreignAccount: (home: string | null): ConsentPage => ({
    title: 'This account belongs to another organization',
    message: `The signed-in account is ${home ? `homed in tenant ${home}, ` : ''}a guest, partner or other foreign account of this tenant. Sign in with a Global Administrator account of the customer tenant itself; ${PARTNER_WARNING}. Nothing was changed.`,
  }),
  partnerAccount: (tenant: string, partnerType: string): ConsentPage => ({
    title: 'A partner account cannot connect a customer',
    message: `The signed-in account belongs to the partner tenant ${tenant} (${partnerType}). Consent given there would land in the partner's own tenant, not the customer's. Sign in with a Global Administrator account of the customer tenant; ${PARTNER_WARNING}. Nothing was changed.`,
  }),
  wrongTenant: (signed: string, expected: string): ConsentPage => ({
    title: 'The signed-in account is of another tenant',
    message: `The administrator signed in to tenant ${signed}, but this organization is for tenant ${expected}. This happens when a CSP partner (or other delegated) administrator account, or an account of another organization, signs in. Sign in with a Global Administrator account of tenant ${expected} itself; ${PARTNER_WARNING}. Nothing was changed.`,
  }),
  notGlobalAdministrator: (tenant: string): ConsentPage => ({
    title: 'A Global Administrator must consent',
    message: `The signed-in account is not a Global Administrator of tenant ${tenant} (no Global Administrator role in its sign-in). Sign in with a Global Administrator of the customer tenant; ${PARTNER_WARNING}. Nothing was changed.`,
  }),
  tenantInUse: (tenant: string): ConsentPage => ({
    title: 'This tenant belongs to another organization',
    message: `Tenant ${tenant} is already connected to another organization. If the signed-in account was a partner or wrong account, sign in with a Global Administrator of the intended customer tenant; nothing was changed.`,
  }),
  connected: (tenant: string, polling: number, total: number, pending: string[]): ConsentPage => ({
    title: 'Microsoft 365 is connected',
    message: `Tenant ${tenant} is connected: ${polling} of ${total} sources are being collected. The first events usually arrive within a minute.${pending.length ? ` Permissions still missing: ${pending.join(', ')}; the sources that need them are paused until an administrator approves the upgrade.` : ''} You can close this page.`,
  }),
  propagating: (tenant: string): ConsentPage => ({
    title: 'Consent was given',
    message: `Tenant ${tenant} consented. Waiting for Microsoft to propagate the consent (usually seconds, at most ${PROPAGATION_WINDOW_MINUTES} minutes); the connection becomes Active by itself. You can close this page.`,
  }),
  verificationFailed: (message: string, remedy: string): ConsentPage => ({
    title: 'Consent was recorded, but the connection could not be verified',
    message: `${message} ${remedy}`.trim(),
  }),
} as const;
