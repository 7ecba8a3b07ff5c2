import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../src/config/schema';
import { freePorts } from '../../src/dev/kafka-config';
import { WatchedProcess } from '../../src/dev/watched-process';
import { ROOT, sleep } from '../child';
import type { Target } from './target';

/**
 * How a scenario's gateway is set up besides the defaults:
 *   metrics  the SDK on with the Prometheus endpoint (not scraped), no OTLP: what most scenarios run
 *   otlp     also traces and metrics over OTLP/HTTP to the runner's sink (every RPC and batch traced)
 *   off      telemetry.disabled: true
 *   spill    brokers unreachable: every event is spilled (fsync'd) and acked SPILLED
 */
export type GatewayVariant = 'metrics' | 'otlp' | 'off' | 'spill';

export interface GatewaySettings {
  brokers: string;
  topic: string;
  variant: GatewayVariant;
  /** Producer worker processes (config `workers`). */
  workers: number;
  /** OTLP/HTTP base URL of the sink (variant otlp). */
  otlpEndpoint?: string;
  /** Run under node --cpu-prof, writing the profile here when the gateway exits. */
  profileDir?: string;
}

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
/** HealthCheckResponse{status: SERVING}: field 1, varint 1. The request for service "" is empty. */
const SERVING = Buffer.from([0x08, 0x01]);
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;

const identity = (buf: Buffer): Buffer => buf;

/**
 * `node bin/commitlog.js serve --config <generated file>` in its own process
 * (the compiled gateway, as deployed), on a free loopback port with its own
 * temporary spill directory. Ready once grpc.health.v1 answers SERVING.
 */
export class GatewayTarget implements Target {
  readonly name = 'gateway';
  readonly address: string;
  readonly #process: WatchedProcess;
  readonly #profileDir: string | undefined;

  private constructor(process: WatchedProcess, address: string, profileDir: string | undefined) {
    this.#process = process;
    this.address = address;
    this.#profileDir = profileDir;
  }

  static async start(settings: GatewaySettings, onError: (line: string) => void): Promise<GatewayTarget> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'commitlog-bench-'));
    const [grpcPort, metricsPort, deadPort] = await freePorts('127.0.0.1', 3);
    const address = `127.0.0.1:${grpcPort}`;
    const configFile = path.join(dir, 'commitlog.yaml');
    await writeFile(configFile, stringify(gatewayConfig(settings, dir, address, metricsPort, deadPort)));
    const nodeFlags = settings.profileDir ? ['--cpu-prof', '--cpu-prof-dir', settings.profileDir] : [];
    const child = new WatchedProcess(
      process.execPath,
      [...nodeFlags, path.join(ROOT, 'bin', 'commitlog.js'), 'serve', '--config', configFile],
      // The watchdog removes the directory (config and spill log) once the gateway is gone.
      { cwd: dir, cleanupDir: dir, onLine: (line) => reportErrors(line, onError) },
    );
    const gateway = new GatewayTarget(child, address, settings.profileDir);
    try {
      await gateway.#waitServing();
    } catch (err) {
      await gateway.close();
      throw err;
    }
    return gateway;
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** SIGTERM (the gateway drains), SIGKILL after the grace period. */
  async close(): Promise<void> {
    const exit = await this.#process.stop(STOP_GRACE_MS);
    this.#process.release();
    if (exit.code !== 0 && exit.signal !== 'SIGTERM') {
      throw new Error(`gateway exited with ${exit.signal ?? `code ${exit.code}`}:\n${this.#process.recentOutput()}`);
    }
  }

  /** After close(): the .cpuprofile node wrote for this gateway, if it ran under --cpu-prof. */
  async profileFile(): Promise<string | undefined> {
    if (this.#profileDir === undefined) return undefined;
    const pid = this.#process.pid;
    // node names it CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
    const name = (await readdir(this.#profileDir)).find((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
    return name && path.join(this.#profileDir, name);
  }

  async #waitServing(): Promise<void> {
    const client = new Client(this.address, credentials.createInsecure());
    const deadline = Date.now() + START_TIMEOUT_MS;
    try {
      for (;;) {
        if (!this.#process.running) {
          throw new Error(`gateway exited during start-up:\n${this.#process.recentOutput()}`);
        }
        if (await check(client)) return;
        if (Date.now() > deadline) throw new Error(`gateway not SERVING after ${START_TIMEOUT_MS} ms`);
        await sleep(100);
      }
    } finally {
      client.close();
    }
  }
}

function gatewayConfig(
  settings: GatewaySettings,
  dir: string,
  listen: string,
  metricsPort: number,
  deadPort: number,
): ConfigInput {
  const metricsListen = `127.0.0.1:${metricsPort}`;
  const telemetry: ConfigInput['telemetry'] =
    settings.variant === 'off'
      ? { disabled: true, metricsListen: '' }
      : settings.variant === 'otlp'
        ? { metricsListen, otlpEndpoint: settings.otlpEndpoint, metricExportIntervalMs: 5_000 }
        : { metricsListen };
  const spill = settings.variant === 'spill';
  return {
    listen,
    workers: settings.workers,
    drainTimeoutMs: 10_000,
    log: { level: 'warn' },
    // A port nothing listens on: connection refused, Kafka unavailable from the start.
    kafka: spill ? { brokers: `127.0.0.1:${deadPort}`, connectTimeoutMs: 1_000 } : { brokers: settings.brokers },
    routing: { defaultTopic: settings.topic },
    // Spill only: 100k events/s fill the default 1 GiB cap in about 25 s, and the open-loop
    // phase after the closed one would then measure RESOURCE_EXHAUSTED refusals, not appends.
    spill: spill ? { dir: path.join(dir, 'spill'), maxBytes: 8 * 1024 ** 3 } : { dir: path.join(dir, 'spill') },
    telemetry,
  };
}

/** Whether Health/Check for the whole server ("") answers SERVING. */
function check(client: Client): Promise<boolean> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      HEALTH_CHECK,
      identity,
      identity,
      Buffer.alloc(0),
      { deadline: Date.now() + 1_000 },
      (err: ServiceError | null, response?: Buffer) =>
        resolve(!err && response !== undefined && response.equals(SERVING)),
    );
  });
}

/** The gateway logs JSON at warn and above; errors and fatals are worth showing. */
function reportErrors(line: string, onError: (line: string) => void): void {
  try {
    const entry = JSON.parse(line) as { level?: number };
    if ((entry.level ?? 0) >= 50) onError(line);
  } catch {
    onError(line);
  }
}
