import { Command, Option } from 'commander';
import { LocalKafka } from '../dev/local-kafka';

/** `commitlog kafka start`: a local single-node KRaft broker in the foreground, for development. */
export function kafkaCommand(): Command {
  const kafka = new Command('kafka').description('local Apache Kafka (KRaft, single node) for development and tests');
  kafka
    .command('start')
    .description('run a local broker until Ctrl-C; prints its bootstrap address')
    .addOption(new Option('--port <port>', 'client port (0 picks a free one)').default('9092'))
    .addOption(new Option('--data-dir <dir>', 'keep broker data here across runs (default: a temporary directory)'))
    .action(async (options: { port: string; dataDir?: string }) => {
      const broker = new LocalKafka({
        port: Number(options.port),
        dataDir: options.dataDir,
        onLog: (line) => process.stderr.write(`kafka: ${line}\n`),
      });
      const stop = (): void => void broker.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await broker.start();
      process.stdout.write(`${broker.brokers}\n`);
    });
  return kafka;
}
