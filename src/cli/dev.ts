import { LocalKafka } from '../dev/local-kafka';
import { runGateway } from './serve';

export interface DevOptions {
  config?: string;
  listen: string;
}

/**
 * `commitlog dev`: a local single-node Kafka (Maven Central jars on the local
 * JDK) and a gateway on it, with an example to paste. Ctrl-C stops both.
 */
export async function devCommand(options: DevOptions): Promise<void> {
  process.stderr.write(
    'commitlog dev: starting a local Kafka broker (the first start fetches its jars with Maven)...\n',
  );
  const kafka = new LocalKafka({ onLog: (line) => process.stderr.write(`kafka: ${line}\n`) });
  try {
    await kafka.start();
  } catch (err) {
    await kafka.close();
    throw err;
  }
  try {
    await runGateway(
      { file: options.config, base: { listen: options.listen, kafka: { brokers: kafka.brokers } } },
      (gateway) => process.stdout.write(banner(gateway.address, kafka.brokers)),
      () => kafka.close(),
    );
  } catch (err) {
    await kafka.close();
    throw err;
  }
}

function banner(address: string, brokers: string): string {
  const event = JSON.stringify({
    id: 'order-1',
    bucket: 'orders',
    key: 'order-1',
    value: '{"total":42}',
    content_type: 'application/json',
  });
  return [
    '',
    `commitlog gateway  ${address}  (gRPC, commitlog.v1.CommitLogService)`,
    `local Kafka        ${brokers}`,
    '',
    'Send an event and see its ack (in another terminal):',
    `  echo '${event}' | npx commitlog send --address ${address}`,
    '',
    'Read it back from Kafka (default topic "commits"):',
    `  kcat -b ${brokers} -C -t commits -e -f 'key=%k value=%s headers=%h partition=%p offset=%o\\n'`,
    '',
    'Ctrl-C stops the gateway (draining it) and the broker.',
    '',
  ].join('\n');
}
