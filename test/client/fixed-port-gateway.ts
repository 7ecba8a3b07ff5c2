import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { ConfigInput } from '../../src/config/schema';
import { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/telemetry/logger';
import { kafka } from '../common';

/**
 * A real gateway on a port of the test's choosing, so it can be stopped and a
 * new one started where clients expect it (common.ts's startGateway always
 * takes a fresh port). Drains briefly on close, so a restart is quick.
 */
export async function startGatewayOn(port: number, settings: ConfigInput = {}): Promise<Gateway> {
  const { brokers } = await kafka();
  const config = loadConfig({
    base: {
      drainTimeoutMs: 500,
      ...settings,
      listen: `127.0.0.1:${port}`,
      log: { level: 'silent' },
      telemetry: { metricsListen: '', ...settings.telemetry },
      // One spill directory per port: a gateway restarted on the same port replays what the last one spilled.
      spill: { dir: path.join(os.tmpdir(), `commitlog-fixed-port-${port}`), ...settings.spill },
      kafka: { lingerMs: 1, ...settings.kafka, brokers },
    },
  });
  const gateway = new Gateway(config, createLogger(config.log.level));
  await gateway.start();
  return gateway;
}

export { freePort } from '../common';
