import { managerEligible } from './local-opensearch.ts';
import type { ServiceRecord } from './state.ts';

/**
 * The Docker path of the launcher, through testcontainers 11. testcontainers is imported lazily: loading it
 * costs time and nothing here needs it unless a Docker engine is asked for.
 *
 * Containers started by `stack up` must outlive the CLI process, so the Ryuk reaper (which removes a
 * session's containers when the process exits) is disabled; the state file records the container ids and
 * `stack down` removes them.
 */

type Testcontainers = typeof import('testcontainers');

async function loadTestcontainers(): Promise<Testcontainers> {
  // testcontainers reads this switch from the environment only.
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  return import('testcontainers');
}

/** True when a container runtime answers within `timeoutMs` (getContainerRuntimeClient pings it). */
export async function dockerAvailable(timeoutMs = 8000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const tc = await loadTestcontainers();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    });
    await Promise.race([tc.getContainerRuntimeClient(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const LABELS = { 'org.m365-siem.stack': 'true' };

/**
 * The environment of one apache/kafka broker (combined broker and controller). The image replaces its whole default
 * config once any KAFKA_* variable is set, so every required property is given. Clients on the host use
 * 127.0.0.1:<hostPort>; other containers use <advertisedHost>:19092. `replication` is the replication factor of
 * the internal topics (min ISR 2 from three replicas on); a cluster (replication > 1) also gets the default
 * replication factor and the broker liveness timings the fault tests rely on.
 */
function kafkaEnvironment(o: { id: number; advertisedHost: string; hostPort: number; voters: string; replication: number }): Record<string, string> {
  const rf = String(o.replication);
  const minIsr = o.replication >= 3 ? '2' : '1';
  return {
    KAFKA_NODE_ID: String(o.id),
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_LISTENERS: 'PLAINTEXT://:19092,CONTROLLER://:29093,PLAINTEXT_HOST://:9092',
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${o.advertisedHost}:19092,PLAINTEXT_HOST://127.0.0.1:${o.hostPort}`,
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_CONTROLLER_QUORUM_VOTERS: o.voters,
    KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: rf,
    KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: o.replication > 1 ? '3' : '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: rf,
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: minIsr,
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: rf,
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: minIsr,
    ...(o.replication > 1 ? { KAFKA_DEFAULT_REPLICATION_FACTOR: rf, KAFKA_BROKER_SESSION_TIMEOUT_MS: '6000', KAFKA_BROKER_HEARTBEAT_INTERVAL_MS: '1000' } : {}),
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
    CLUSTER_ID: '4L6g3nShT-eMCtK--X86sw',
  };
}

export async function startDockerKafka(version: string, port: number, stackId: string): Promise<ServiceRecord> {
  const { GenericContainer, Wait } = await loadTestcontainers();
  const container = await new GenericContainer(`apache/kafka:${version}`)
    .withLabels({ ...LABELS, 'org.m365-siem.stack-id': stackId })
    .withEnvironment(kafkaEnvironment({ id: 1, advertisedHost: 'localhost', hostPort: port, voters: '1@localhost:29093', replication: 1 }))
    .withExposedPorts({ container: 9092, host: port })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000)
    .start();
  return {
    provider: 'docker',
    version,
    endpoint: `127.0.0.1:${port}`,
    containerId: container.getId(),
    ports: { client: port },
    logFile: `docker logs ${container.getId()}`,
    workDir: '',
    startedAt: new Date().toISOString(),
  };
}

export async function startDockerOpenSearch(version: string, port: number, stackId: string): Promise<ServiceRecord> {
  const { GenericContainer, Wait } = await loadTestcontainers();
  const container = await new GenericContainer(`opensearchproject/opensearch:${version}`)
    .withLabels({ ...LABELS, 'org.m365-siem.stack-id': stackId })
    .withEnvironment({
      'discovery.type': 'single-node',
      DISABLE_SECURITY_PLUGIN: 'true',
      DISABLE_INSTALL_DEMO_CONFIG: 'true',
      OPENSEARCH_JAVA_OPTS: '-Xms512m -Xmx512m',
      'cluster.routing.allocation.disk.threshold_enabled': 'false',
    })
    .withExposedPorts({ container: 9200, host: port })
    .withWaitStrategy(Wait.forHttp('/_cluster/health', 9200).forStatusCode(200))
    .withStartupTimeout(180_000)
    .start();
  return {
    provider: 'docker',
    version,
    endpoint: `http://127.0.0.1:${port}`,
    containerId: container.getId(),
    ports: { http: port },
    logFile: `docker logs ${container.getId()}`,
    workDir: '',
    startedAt: new Date().toISOString(),
  };
}

/** True when the container exists and is running. */
export async function containerRunning(containerId: string): Promise<boolean> {
  try {
    const tc = await loadTestcontainers();
    const client = await tc.getContainerRuntimeClient();
    const info = await client.container.inspect(client.container.getById(containerId));
    return info.State.Running === true;
  } catch {
    return false;
  }
}

/** Stops and removes a container the launcher started; 'not-running' when it is already gone. */
export async function removeContainer(containerId: string): Promise<'stopped' | 'not-running'> {
  const tc = await loadTestcontainers();
  const client = await tc.getContainerRuntimeClient();
  const container = client.container.getById(containerId);
  try {
    await client.container.inspect(container);
  } catch {
    return 'not-running';
  }
  await client.container.stop(container, { timeout: 10 }).catch(() => undefined);
  await client.container.remove(container, { removeVolumes: true });
  return 'stopped';
}

/**
 * A Kafka cluster of `ports.length` brokers in Docker (UNTESTED: no Docker engine on the machine this was written
 * on; the local-JVM path of the same layout is what the cluster fault tests run). Brokers talk to each other on a
 * user-defined network by alias (kafka-N:19092, quorum on kafka-N:29093); clients on the host use 127.0.0.1:<port>.
 */
export async function startDockerKafkaCluster(version: string, ports: readonly number[], stackId: string): Promise<ServiceRecord> {
  const { GenericContainer, Network, Wait } = await loadTestcontainers();
  const network = await new Network().start();
  const n = ports.length;
  const voters = ports.map((_, i) => `${i + 1}@kafka-${i + 1}:29093`).join(',');
  const nodes = await Promise.all(
    ports.map(async (port, i) => {
      const id = i + 1;
      const container = await new GenericContainer(`apache/kafka:${version}`)
        .withLabels({ ...LABELS, 'org.m365-siem.stack-id': stackId })
        .withNetwork(network)
        .withNetworkAliases(`kafka-${id}`)
        .withEnvironment(kafkaEnvironment({ id, advertisedHost: `kafka-${id}`, hostPort: port, voters, replication: Math.min(3, n) }))
        .withExposedPorts({ container: 9092, host: port })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .withStartupTimeout(240_000)
        .start();
      return {
        name: `broker-${id}`,
        id,
        containerId: container.getId(),
        endpoint: `127.0.0.1:${port}`,
        ports: { client: port },
        logFile: `docker logs ${container.getId()}`,
        workDir: '',
      };
    }),
  );
  return {
    provider: 'docker',
    version,
    endpoint: nodes.map((m) => m.endpoint).join(','),
    containerId: nodes[0]!.containerId,
    ports: Object.fromEntries(nodes.map((m) => [`client-${m.id}`, m.ports.client])),
    logFile: nodes[0]!.logFile,
    workDir: `docker network ${network.getName()}`,
    startedAt: new Date().toISOString(),
    nodes,
  };
}

/** An OpenSearch cluster of `ports.length` nodes in Docker (UNTESTED, as startDockerKafkaCluster). */
export async function startDockerOpenSearchCluster(version: string, ports: readonly number[], stackId: string): Promise<ServiceRecord> {
  const { GenericContainer, Network, Wait } = await loadTestcontainers();
  const network = await new Network().start();
  const names = ports.map((_, i) => `node-${i + 1}`);
  const nodes = await Promise.all(
    ports.map(async (port, i) => {
      const name = names[i]!;
      const container = await new GenericContainer(`opensearchproject/opensearch:${version}`)
        .withLabels({ ...LABELS, 'org.m365-siem.stack-id': stackId })
        .withNetwork(network)
        .withNetworkAliases(name)
        .withEnvironment({
          'node.name': name,
          'cluster.name': 'm365-siem-stack',
          'discovery.seed_hosts': names.join(','),
          'cluster.initial_cluster_manager_nodes': names.filter((_, k) => managerEligible(names.length, k + 1)).join(','),
          ...(managerEligible(names.length, i + 1) ? {} : { 'node.roles': 'data,ingest' }),
          DISABLE_SECURITY_PLUGIN: 'true',
          DISABLE_INSTALL_DEMO_CONFIG: 'true',
          OPENSEARCH_JAVA_OPTS: '-Xms512m -Xmx512m',
          'cluster.routing.allocation.disk.threshold_enabled': 'false',
        })
        .withExposedPorts({ container: 9200, host: port })
        .withWaitStrategy(Wait.forHttp('/', 9200).forStatusCode(200))
        .withStartupTimeout(240_000)
        .start();
      return {
        name,
        id: i + 1,
        containerId: container.getId(),
        endpoint: `http://127.0.0.1:${port}`,
        ports: { http: port },
        logFile: `docker logs ${container.getId()}`,
        workDir: '',
      };
    }),
  );
  return {
    provider: 'docker',
    version,
    endpoint: nodes[0]!.endpoint,
    containerId: nodes[0]!.containerId,
    ports: Object.fromEntries(nodes.map((m) => [`http-${m.id}`, m.ports.http])),
    logFile: nodes[0]!.logFile,
    workDir: `docker network ${network.getName()}`,
    startedAt: new Date().toISOString(),
    nodes,
  };
}
