import { execFile, execFileSync } from 'node:child_process';

import { LocalKafka } from '../src/dev/local-kafka';

/** The broker a test run talks to, wherever it came from. */
export interface KafkaFixture {
  /** bootstrap.servers / metadata.broker.list */
  brokers: string;
  /** Makes the broker hang (not crash): connections stay open, nothing is answered. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
  /** Set when the broker is a LocalKafka, for tests that need its data dir or pid. */
  local?: LocalKafka;
}

/**
 * @testcontainers/kafka 11's KafkaContainer drives Confluent's image start-up scripts
 * (/etc/confluent/docker/run) and rejects apache/kafka tags as "below 7.0.0", so the
 * Docker path uses cp-kafka; 8.1 ships Apache Kafka 4.1 in KRaft mode.
 */
const CONTAINER_IMAGE = process.env.COMMITLOG_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:8.1.0';
const CONTAINER_KAFKA_PORT = 9093;
const DOCKER_CHECK_TIMEOUT_MS = 3000;

/**
 * Starts (or points at) one Kafka broker, in order of preference:
 *  1. COMMITLOG_KAFKA_BROKERS: an existing cluster; close() leaves it alone.
 *  2. A Docker engine that answers `docker info` within 3 s: a Testcontainers broker.
 *  3. LocalKafka: the broker's jars from Maven Central on the local JDK.
 */
export async function startKafka(): Promise<KafkaFixture> {
  const external = process.env.COMMITLOG_KAFKA_BROKERS;
  if (external) return externalCluster(external);
  if (await dockerAnswers()) return startContainer();
  return startLocal();
}

function externalCluster(brokers: string): KafkaFixture {
  const unsupported = (what: string) => (): never => {
    throw new Error(`kafka-fixture: ${what}() is not supported on an external cluster (COMMITLOG_KAFKA_BROKERS)`);
  };
  return { brokers, pause: unsupported('pause'), resume: unsupported('resume'), close: () => Promise.resolve() };
}

async function startLocal(): Promise<KafkaFixture> {
  const local = new LocalKafka();
  await local.start();
  return {
    brokers: local.brokers,
    pause: () => local.pause(),
    resume: () => local.resume(),
    close: () => local.close(),
    local,
  };
}

async function startContainer(): Promise<KafkaFixture> {
  // Loaded only here: testcontainers pulls in dockerode and friends, unused otherwise.
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const container = await new KafkaContainer(CONTAINER_IMAGE)
    .withEnvironment({
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
      KAFKA_NUM_PARTITIONS: '4',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_MIN_INSYNC_REPLICAS: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    })
    .start();
  const id = container.getId();
  // pause()/resume() are synchronous so a test can freeze the broker between two
  // statements; the docker CLI is known to work, `docker info` just answered.
  const docker = (command: 'pause' | 'unpause') => (): void => {
    execFileSync('docker', [command, id], { stdio: 'ignore', timeout: 30_000 });
  };
  let closing: Promise<void> | undefined;
  return {
    brokers: `${container.getHost()}:${container.getMappedPort(CONTAINER_KAFKA_PORT)}`,
    pause: docker('pause'),
    resume: docker('unpause'),
    close: () => {
      // A test that failed while the broker was paused must not leave a frozen container.
      closing ??= new Promise<void>((resolve) => execFile('docker', ['unpause', id], () => resolve())).then(
        async () => void (await container.stop()),
      );
      return closing;
    },
  };
}

/** True when a Docker engine (not just the client) answers within a few seconds. */
function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      ['info', '--format', '{{.ServerVersion}}'],
      { timeout: DOCKER_CHECK_TIMEOUT_MS },
      (err, stdout) => resolve(!err && stdout.trim().length > 0),
    );
  });
}
