import { loadConfig } from '../config/load';
import type { ConfigInput } from '../config/schema';
import { Gateway } from '../gateway';
import { createLogger } from '../telemetry/logger';

export interface ServeOptions {
  config?: string;
}

export async function serveCommand(options: ServeOptions): Promise<void> {
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
