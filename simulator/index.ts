/** Public surface of the Microsoft 365 simulator. */
export { startSimulator } from './server.ts';
export type { RunningSimulator, StartSimulatorOptions } from './server.ts';
export { ensureCertificateAuthority, ensureServerCertificate } from './certificate-authority.ts';
export type { CertificateAuthorityFiles } from './certificate-authority.ts';
export { registerSimulatorCommands } from './cli.ts';
export { SimulatorControl, SimulatorControlError } from './control-client.ts';
export type { AppInfo, FaultRequest, LedgerResponse, SimTenant, TenantCreateRequest, TenantPatchRequest } from './control-client.ts';
export type { FaultKind, FaultTarget } from './faults.ts';
export type { ApiRequestLogEntry } from './tenant-state.ts';
export type { Cloud } from './app-roles.ts';
export { AUDIENCES, ENTRA_INSTANCE_OF, GRAPH_RESOURCE, MANAGEMENT_RESOURCE } from './app-roles.ts';
export type { EntraInstance } from './app-roles.ts';
export { simulatorSettingsSpec } from './config.ts';
export { answerConsent, type ConsentOutcome } from './consent-driver.ts';
