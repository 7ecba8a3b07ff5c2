import { Command, Option } from 'commander';
import { CommitlogError } from '../errors';
import { VERSION } from '../version';
import { benchCommand } from './bench';
import { devCommand } from './dev';
import { kafkaCommand } from './kafka';
import { sendCommand } from './send';
import { spillCommand } from './spill';
import { serveCommand } from './serve';

export function buildProgram(): Command {
  const program = new Command('commitlog')
    .description('gRPC ingest gateway: database commit events into Kafka, never losing an acknowledged one')
    .version(VERSION);
  program
    .command('serve')
    .description('run the gateway')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file (environment overrides it)'))
    .addOption(
      new Option(
        '--check-config',
        'validate the configuration as serve would, print "config ok" and exit; start nothing',
      ),
    )
    .action(serveCommand);
  program
    .command('dev')
    .description('start a local Kafka broker and a gateway on it, for development')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file (environment overrides it)'))
    .addOption(new Option('--listen <host:port>', 'gRPC listen address').default('127.0.0.1:50051'))
    .action(devCommand);
  program.addCommand(kafkaCommand());
  program.addCommand(spillCommand());
  program.addCommand(benchCommand());
  program
    .command('send')
    .description('send JSON-lines events (stdin or --file) and print one JSON ack per event')
    .addOption(
      new Option('-a, --address <host:port>', 'gateway address').env('COMMITLOG_ADDRESS').default('127.0.0.1:50051'),
    )
    .addOption(new Option('-f, --file <path>', 'read events from this file instead of stdin'))
    .addOption(new Option('--base64', 'key and value are base64, not UTF-8 text'))
    .addOption(new Option('--stream', 'send over one CommitStream instead of unary Commit calls'))
    .addOption(
      new Option('--batch <n>', 'events per Commit call (per CommitStream message with --stream)')
        .argParser(positiveInt)
        .default(100),
    )
    .addOption(new Option('--timeout <ms>', 'deadline of each Commit call').argParser(positiveInt).default(60_000))
    .action(sendCommand);
  return program;
}

export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((err: unknown) => {
      const message =
        err instanceof CommitlogError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`commitlog: ${message}\n`);
      process.exit(err instanceof CommitlogError && err.code === 'CONFIG_INVALID' ? 2 : 1);
    });
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`expected a positive integer, got "${text}"`);
  return value;
}
