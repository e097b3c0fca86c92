// Values the cluster global setup (tests/cluster/global-setup.ts) hands to the cluster tests through `inject(key)`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** bootstrap list of the test cluster's three brokers */
    clusterKafkaBrokers: string;
    /** URL of the test cluster's first OpenSearch node (the one the services are given) */
    clusterOpensearchUrl: string;
    /** the cluster's stack folder (state.json names each member's pid) */
    clusterStackDir: string;
    /** ports the launcher was asked to prefer, so a restart through it finds the same stack */
    clusterKafkaPort: number;
    clusterOpensearchPort: number;
    /** folder of the simulator's CA (also in NODE_EXTRA_CA_CERTS) */
    simulatorCaDir: string;
  }
}

export {};
