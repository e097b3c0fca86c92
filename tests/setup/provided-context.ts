// Values the global setup (tests/setup/global-setup.ts) hands to every test through `inject(key)`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Kafka bootstrap servers, host:port[,host:port] */
    kafkaBrokers: string;
    /** OpenSearch base URL without trailing slash */
    opensearchUrl: string;
    /** Kafka version the tests talk to (exact when the launcher started it, release line for env endpoints) */
    kafkaVersion: string;
    /** OpenSearch version reported by the server */
    opensearchVersion: string;
    /** how each service was provided: env, docker or local */
    kafkaProvider: string;
    opensearchProvider: string;
    /** PEM file of the simulator's CA (also in NODE_EXTRA_CA_CERTS), '' when the simulator module is absent */
    simulatorCaFile: string;
    /** folder passed to ensureCertificateAuthority (holds the CA and the localhost server certificate) */
    simulatorCaDir: string;
  }
}

export {};
