import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';

export interface BrokerLayout {
  host: string;
  brokerPort: number;
  controllerPort: number;
  logDir: string;
  /** A second client listener that takes only SASL/PLAIN logins of these users (name → password). */
  sasl?: { port: number; users: Readonly<Record<string, string>> };
}

/**
 * Settings a single-node test broker needs. Replication factors and ISRs of internal
 * topics default to 3 and would leave __consumer_offsets and __transaction_state
 * uncreatable on one node; group.initial.rebalance.delay.ms=0 saves 3 s per first join.
 */
export const TEST_BROKER_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  'auto.create.topics.enable': 'true',
  'num.partitions': '4',
  'offsets.topic.replication.factor': '1',
  'transaction.state.log.replication.factor': '1',
  'transaction.state.log.min.isr': '1',
  'share.coordinator.state.topic.replication.factor': '1',
  'share.coordinator.state.topic.min.isr': '1',
  'min.insync.replicas': '1',
  'default.replication.factor': '1',
  'group.initial.rebalance.delay.ms': '0',
});

/**
 * server.properties for one KRaft node acting as broker and controller (Kafka 4 has no
 * ZooKeeper mode). The controller listens on its own port and is reached through
 * controller.quorum.bootstrap.servers, which `StorageTool format --standalone` expects
 * in place of the older static controller.quorum.voters.
 */
export function renderServerProperties(layout: BrokerLayout, overrides: Record<string, string> = {}): string {
  const { host, brokerPort, controllerPort, logDir, sasl } = layout;
  const saslListener = sasl === undefined ? '' : `,SASL://${host}:${sasl.port}`;
  const settings: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.bootstrap.servers': `${host}:${controllerPort}`,
    listeners: `PLAINTEXT://${host}:${brokerPort},CONTROLLER://${host}:${controllerPort}${saslListener}`,
    'advertised.listeners': `PLAINTEXT://${host}:${brokerPort}${saslListener}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${sasl ? ',SASL:SASL_PLAINTEXT' : ''}`,
    ...(sasl && {
      'sasl.enabled.mechanisms': 'PLAIN',
      // The broker side of SASL/PLAIN: one user_<name>="<password>" per user.
      'listener.name.sasl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(
        sasl.users,
      )
        .map(([name, password]) => `user_${name}="${password}"`)
        .join(' ')};`,
    }),
    'log.dirs': logDir,
    ...TEST_BROKER_DEFAULTS,
    ...overrides,
  };
  return Object.entries(settings)
    .map(([key, value]) => `${key}=${escapeProperty(value)}`)
    .join('\n')
    .concat('\n');
}

/**
 * log4j2 setup: everything from INFO goes to a file in the data dir, only WARN and the
 * "Kafka Server started" line reach stderr (and so onLog), so a test run is not flooded.
 */
export function renderLog4j2(logFile: string): string {
  return [
    'status = warn',
    // Kafka's own shutdown hook still logs; log4j's would race it and complain.
    'shutdownHook = disable',
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${escapeProperty(logFile)}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.console.type = Console',
    'appender.console.name = console',
    'appender.console.target = SYSTEM_ERR',
    'appender.console.layout.type = PatternLayout',
    'appender.console.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    'rootLogger.appenderRef.console.ref = console',
    'rootLogger.appenderRef.console.level = warn',
    'logger.started.name = kafka.server.KafkaRaftServer',
    'logger.started.level = info',
    'logger.started.additivity = false',
    'logger.started.appenderRef.file.ref = file',
    'logger.started.appenderRef.console.ref = console',
    '',
  ].join('\n');
}

/**
 * A cluster id as Kafka's Uuid.toString() writes one: 16 random bytes, base64url, no
 * padding. Like Uuid.randomUuid() it never starts with '-', which a CLI would read as
 * an option.
 */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * `count` distinct free TCP ports on `host`. All listeners stay open until every port
 * is known, so the kernel cannot hand out the same one twice; another process may
 * still take one before the JVM binds it, which start() reports as an early exit.
 */
export async function freePorts(host: string, count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('local-kafka: no TCP port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** java.util.Properties treats backslash as an escape character. */
function escapeProperty(value: string): string {
  return value.replace(/\\/g, '\\\\');
}
