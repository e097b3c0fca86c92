// Public surface of the stack launcher: used by the CLI (`m365-siem stack …`) and the vitest global setup.
export {
  decideProvider,
  missingRequirements,
  ensureStack,
  releaseStack,
  stackStatus,
  stopStack,
  type EnsureStackOptions,
  type KafkaEndpoint,
  type LocalFacts,
  type OpenSearchEndpoint,
  type Provider,
  type ServiceName,
  type ServiceStatus,
  type StackEndpoints,
  type StackOptions,
  type StackStatus,
  type StopResult,
} from './launcher.ts';
export { registerStackCommands } from './cli.ts';
export { choosePort, ephemeralPort } from './processes.ts';
export { loadStackConfig, stackSettingsSpec, DEFAULT_KAFKA_VERSION, DEFAULT_OPENSEARCH_VERSION, type StackConfig } from './config.ts';
export { StackRequirementError, findJavaInstalls, pickKafkaJava } from './requirements.ts';
export { pathExists } from './path-exists.ts';
export { runOrThrow } from './run-command.ts';
export { probeKafka, type KafkaProbeResult } from './kafka-probe.ts';
export { probeOpenSearch, type OpenSearchProbeResult } from './opensearch-probe.ts';
export { recordedStack, withRecordedStack, type RecordedStack } from './recorded-stack.ts';
