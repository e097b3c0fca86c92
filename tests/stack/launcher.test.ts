import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/index.ts';
import { DEFAULT_KAFKA_VERSION, decideProvider, loadStackConfig, missingRequirements, type LocalFacts } from '../../stack/index.ts';
import { describeMetadataVersion } from '../../stack/kafka-probe.ts';
import { isBindFailure } from '../../stack/processes.ts';
import { internalReplication, kafkaServerProperties } from '../../stack/local-kafka.ts';
import { managerEligible } from '../../stack/local-opensearch.ts';
import { clusterSettings } from '../../stack/cli.ts';
import { parseJavaVersion, pickKafkaJava, pickOpenSearchJava, type JavaInstall } from '../../stack/requirements.ts';

describe('decideProvider', () => {
  it('takes an env endpoint first, whatever the setting and Docker say', () => {
    expect(decideProvider('127.0.0.1:9092', 'auto', true)).toBe('env');
    expect(decideProvider('127.0.0.1:9092', 'docker', false)).toBe('env');
    expect(decideProvider('http://x:9200', 'local', null)).toBe('env');
  });

  it('uses Docker on auto only when an engine answered, else local JVMs', () => {
    expect(decideProvider(undefined, 'auto', true)).toBe('docker');
    expect(decideProvider(undefined, 'auto', false)).toBe('local');
    expect(decideProvider(undefined, 'local', true)).toBe('local');
  });

  it('fails with a clear message when Docker is required but does not answer', () => {
    expect(() => decideProvider(undefined, 'docker', false)).toThrow(/no Docker engine answers/);
    expect(decideProvider(undefined, 'docker', true)).toBe('docker');
  });
});

describe('Java detection', () => {
  it('parses the version line of current and legacy JDKs', () => {
    expect(parseJavaVersion('openjdk version "17.0.15" 2025-04-15')).toEqual({ major: 17, version: '17.0.15' });
    expect(parseJavaVersion('openjdk version "25.0.3" 2026-04-21 LTS')).toEqual({ major: 25, version: '25.0.3' });
    expect(parseJavaVersion('java version "1.8.0_392"')).toEqual({ major: 8, version: '1.8.0_392' });
    expect(parseJavaVersion('command not found')).toBeNull();
  });

  const jdk = (major: number): JavaInstall => ({ javaBin: `/jvm/${major}/bin/java`, home: `/jvm/${major}`, major, version: `${major}.0.1` });

  it('runs Kafka on 17+ and OpenSearch 2.x only on 17 to 23', () => {
    expect(pickKafkaJava([jdk(11), jdk(25)])?.major).toBe(25);
    expect(pickKafkaJava([jdk(11)])).toBeUndefined();
    expect(pickOpenSearchJava([jdk(25), jdk(21)])?.major).toBe(21);
    expect(pickOpenSearchJava([jdk(25)])).toBeUndefined();
  });
});

describe('Kafka metadata.version levels', () => {
  it('names the release line of known levels and keeps unknown ones as numbers', () => {
    expect(describeMetadataVersion(27)).toEqual({ metadataVersion: '4.1-IV1', releaseLine: '4.1' });
    expect(describeMetadataVersion(22)).toEqual({ metadataVersion: '4.0-IV0', releaseLine: '4.0' });
    expect(describeMetadataVersion(99)).toEqual({ metadataVersion: 'level 99', releaseLine: null });
  });
});

describe('kafkaServerProperties', () => {
  it('describes a static-quorum single node with single-replica internal topics', () => {
    const props = kafkaServerProperties('/data', 19092, 19093);
    expect(props).toContain('controller.quorum.voters=1@127.0.0.1:19093');
    expect(props).toContain('listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(props).toContain('transaction.state.log.replication.factor=1');
    expect(props).toContain('transaction.state.log.min.isr=1');
    expect(props).toContain('group.initial.rebalance.delay.ms=0');
    expect(props).toContain('auto.create.topics.enable=false');
    expect(props).not.toContain('controller.quorum.bootstrap.servers');
  });
});

describe('cluster layout', () => {
  const members = [1, 2, 3].map((id) => ({ id, port: 29090 + 2 * id, controllerPort: 29091 + 2 * id }));

  it('makes every broker a voter of one static quorum, with internal topics at RF 3 and min ISR 2', () => {
    const props = kafkaServerProperties('/d2', 29096, 29097, { nodeId: 2, members });
    expect(props).toContain('node.id=2');
    expect(props).toContain('controller.quorum.voters=1@127.0.0.1:29093,2@127.0.0.1:29095,3@127.0.0.1:29097');
    expect(props).toContain('listeners=PLAINTEXT://127.0.0.1:29096,CONTROLLER://127.0.0.1:29097');
    expect(props).toContain('offsets.topic.replication.factor=3');
    expect(props).toContain('transaction.state.log.min.isr=2');
    expect(props).toContain('default.replication.factor=3');
    // never a broker-wide min ISR: a test topic at RF 1 must still take acks=all
    expect(props).not.toMatch(/^min\.insync\.replicas=/m);
    expect(internalReplication(2)).toEqual({ replicationFactor: 2, minIsr: 1 });
    expect(internalReplication(5)).toEqual({ replicationFactor: 3, minIsr: 2 });
  });

  it('lets only node-1 be cluster manager in a two-node OpenSearch cluster, every node from three', () => {
    expect([1, 2].map((id) => managerEligible(2, id))).toEqual([true, false]);
    expect([1, 2, 3].map((id) => managerEligible(3, id))).toEqual([true, true, true]);
  });

  it('prints the replication settings the services need on the cluster', () => {
    const member = { name: 'm', up: true, endpoint: 'e', logFile: 'l' };
    const status = {
      kafka: { up: true, brokers: 'a,b,c', version: '4.1.1', provider: 'local' as const, members: [member, member, member] },
      opensearch: { up: true, url: 'u', version: '2.19.3', provider: 'local' as const, members: [member, member] },
    };
    expect(clusterSettings(status)).toEqual(['export TOPIC_REPLICATION_FACTOR=3', 'export INDEX_REPLICAS=1']);
  });
});

describe('loadStackConfig', () => {
  it('defaults the stack folder under the cache folder', () => {
    const c = loadStackConfig({ HOME: '/home/u', M365_SIEM_CACHE_DIR: '/c' });
    expect(c).toMatchObject({
      cacheDir: '/c',
      stackDir: '/c/stack',
      provider: 'auto',
      kafkaVersion: DEFAULT_KAFKA_VERSION,
      kafkaPort: 19092,
      opensearchPort: 19200,
    });
  });

  it('names the bad setting', () => {
    expect(() => loadStackConfig({ M365_SIEM_STACK_PROVIDER: 'podman' })).toThrow(ConfigError);
    expect(() => loadStackConfig({ M365_SIEM_KAFKA_VERSION: '3.9.0' })).toThrow(/M365_SIEM_KAFKA_VERSION/);
    expect(() => loadStackConfig({ M365_SIEM_STACK_KAFKA_PORT: '70000' })).toThrow(/M365_SIEM_STACK_KAFKA_PORT/);
  });

  it('strips a trailing slash from OPENSEARCH_URL and lets overrides win', () => {
    const c = loadStackConfig({ OPENSEARCH_URL: 'http://h:9200/', M365_SIEM_CACHE_DIR: '/c' }, { stackDir: '/s', provider: 'local' });
    expect(c.opensearchUrl).toBe('http://h:9200');
    expect(c.stackDir).toBe('/s');
    expect(c.provider).toBe('local');
  });
});

describe('missingRequirements', () => {
  const jdk = (major: number): JavaInstall => ({ javaBin: `/jvm/${major}/bin/java`, home: `/jvm/${major}`, major, version: `${major}.0.1` });
  const ready: LocalFacts = {
    plan: { kafka: true, opensearch: true },
    installs: [jdk(17)],
    needMaven: true,
    hasMaven: true,
    needUnzip: true,
    hasUnzip: true,
    isRoot: true,
    hasServiceUser: false,
    hasUseradd: true,
    opensearchVersion: '2.19.3',
    cacheDir: '/c',
    serviceUser: 'm365siem',
  };

  it('finds nothing missing on a ready machine', () => {
    expect(missingRequirements(ready)).toEqual([]);
  });

  it('names each missing tool', () => {
    const missing = missingRequirements({ ...ready, installs: [], hasMaven: false, hasUnzip: false, hasUseradd: false });
    expect(missing).toEqual([
      expect.stringMatching(/^Java 17\+ not found on PATH/),
      expect.stringMatching(/^mvn not found on PATH/),
      expect.stringMatching(/^unzip not found on PATH/),
      expect.stringMatching(/^useradd not found .*refuses to run as root/),
    ]);
  });

  it('explains that OpenSearch 2.x cannot use a JDK 24+', () => {
    expect(missingRequirements({ ...ready, installs: [jdk(25)] })).toEqual([expect.stringMatching(/needs Java 17 to 23.*Java 25/)]);
  });

  it('needs no Maven or unzip once the cache and the unpacked home exist', () => {
    expect(missingRequirements({ ...ready, needMaven: false, hasMaven: false, needUnzip: false, hasUnzip: false })).toEqual([]);
  });
});

describe('isBindFailure', () => {
  it('recognises the bind errors of Kafka and OpenSearch, and nothing else', () => {
    expect(isBindFailure('Socket server failed to bind to 127.0.0.1:19092: Address already in use.')).toBe(true);
    expect(isBindFailure('BindTransportException[Failed to bind to 127.0.0.1:19300]')).toBe(true);
    expect(isBindFailure('Kafka exited during startup (connect ECONNREFUSED)')).toBe(false);
  });
});
