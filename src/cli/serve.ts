import { loadConfig } from '../config/load';
import type { ConfigInput } from '../config/schema';
import { Gateway } from '../gateway';
import { createLogger } from '../telemetry/logger';

export interface ServeOptions {
  config?: string;
  /** Load and validate the configuration exactly as serve does, then stop: for CI and Helm chart checks. */
  checkConfig?: boolean;
}

export async function serveCommand(options: ServeOptions): Promise<void> {
  if (options.checkConfig === true) {
    // Same loader, file and environment as runGateway; an invalid setting throws
    // CONFIG_INVALID, which main() reports with exit code 2.
    loadConfig({ file: options.config, env: process.env });
    process.stdout.write('config ok\n');
    return;
  }
  await runGateway({ file: options.config });
}

/** Starts a gateway and keeps it up until SIGTERM or SIGINT, then drains it and calls `onClosed`. */
export async function runGateway(
  source: { file?: string; base?: ConfigInput },
  onStarted: (gateway: Gateway) => void = () => undefined,
  onClosed: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const config = loadConfig({ ...source, env: process.env });
  const log = createLogger(config.log.level);
  const gateway = new Gateway(config, log);
  await gateway.start();
  onStarted(gateway);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    void gateway
      .close()
      .then(onClosed)
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
