import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { findJava } from './find-executable';
import { ensureKafkaJars, findRepoRoot } from './kafka-jars';
import { freePorts, randomClusterId, renderLog4j2, renderServerProperties } from './kafka-config';
import { waitForBroker } from './wait-for-broker';
import { WatchedProcess } from './watched-process';

export interface LocalKafkaOptions {
  /** Repo root holding dev/kafka/pom.xml; found by walking up from this file. */
  rootDir?: string;
  /** Broker state; a fresh temp dir (removed on close) when omitted. */
  dataDir?: string;
  host?: '127.0.0.1';
  /** Client port; 0 or omitted picks a free one (the controller always gets its own). */
  port?: number;
  /** Extra or overriding server.properties entries. */
  brokerConfig?: Record<string, string>;
  /** Users of a second listener that takes SASL/PLAIN logins (see `saslBrokers`): name → password. */
  saslUsers?: Record<string, string>;
  startTimeoutMs?: number;
  /** Lines from the JVM (WARN and above) and from LocalKafka itself. */
  onLog?: (line: string) => void;
}

export interface LocalKafkaTimings {
  jarsMs: number;
  jarsFetched: boolean;
  formatMs: number;
  /** From spawning the JVM until a metadata request lists the broker. */
  bootMs: number;
  totalMs: number;
}

/** Ports and cluster id of a data dir, so a reused one (`kafka start --data-dir`) boots again. */
interface DataDirState {
  clusterId: string;
  brokerPort: number;
  controllerPort: number;
}

const STATE_FILE = 'local-kafka.json';
const STOP_GRACE_MS = 10_000;
// -XX:-UsePerfData: no hsperfdata files left in /tmp by JVMs that are SIGKILLed.
const JVM_FLAGS = ['-Xms256m', '-Xmx512m', '-XX:-UsePerfData', '-Djava.awt.headless=true'];

/** A single-node KRaft Kafka broker run from Maven Central jars on the local JDK. */
export class LocalKafka {
  readonly #rootDir: string;
  readonly #host: string;
  readonly #port: number;
  readonly #brokerConfig: Record<string, string>;
  readonly #startTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #ownsDataDir: boolean;
  #dataDir?: string;
  #brokerPort?: number;
  readonly #saslUsers: Record<string, string> | undefined;
  #saslPort?: number;
  #version?: string;
  #timings?: LocalKafkaTimings;
  #broker?: WatchedProcess;
  #started = false;
  #closing?: Promise<void>;

  constructor(options: LocalKafkaOptions = {}) {
    this.#rootDir = options.rootDir ?? findRepoRoot(__dirname);
    this.#dataDir = options.dataDir;
    this.#ownsDataDir = options.dataDir === undefined;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#brokerConfig = { ...options.brokerConfig };
    this.#saslUsers = options.saslUsers;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#log = options.onLog ?? (() => undefined);
  }

  /** "host:port" of the SASL/PLAIN listener (option saslUsers). */
  get saslBrokers(): string {
    if (this.#saslPort === undefined) throw new Error('local-kafka: not started with saslUsers');
    return `${this.#host}:${this.#saslPort}`;
  }

  /** "host:port" for bootstrap.servers / metadata.broker.list. */
  get brokers(): string {
    if (this.#brokerPort === undefined) throw new Error('local-kafka: not started');
    return `${this.#host}:${this.#brokerPort}`;
  }

  get dataDir(): string | undefined {
    return this.#dataDir;
  }

  /** The broker's full INFO log; only WARN and above reach onLog. */
  get logFile(): string | undefined {
    return this.#dataDir && path.join(this.#dataDir, 'logs', 'server.log');
  }

  /** Kafka version of the jars, known once start() has begun. */
  get version(): string | undefined {
    return this.#version;
  }

  get timings(): LocalKafkaTimings | undefined {
    return this.#timings;
  }

  /** The JVM's pid while it runs. */
  get pid(): number | undefined {
    return this.#broker?.running ? this.#broker.pid : undefined;
  }

  async start(): Promise<void> {
    if (this.#started || this.#closing) throw new Error('local-kafka: start() may be called once');
    this.#started = true;
    try {
      await this.#start();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Freezes the JVM (SIGSTOP): connections stay open but nothing is answered. */
  pause(): void {
    if (!this.#broker?.signal('SIGSTOP')) throw new Error('local-kafka: broker is not running');
  }

  resume(): void {
    if (!this.#broker?.signal('SIGCONT')) throw new Error('local-kafka: broker is not running');
  }

  /** Stops the JVM (TERM, KILL after 10 s) and removes a data dir it created. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #start(): Promise<void> {
    const startedAt = Date.now();
    const java = findJava(); // before the jars: a missing JDK should not cost a Maven run first
    const jars = await ensureKafkaJars(this.#rootDir);
    this.#version = jars.version;
    const classPath = ['-cp', path.join(jars.libsDir, '*')];

    const dataDir = this.#dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'commitlog-kafka-')));
    this.#dataDir = dataDir;
    const logDir = path.join(dataDir, 'kraft');
    await mkdir(path.join(dataDir, 'logs'), { recursive: true });
    const state = await this.#dataDirState(dataDir);
    this.#brokerPort = state.brokerPort;
    const propertiesFile = path.join(dataDir, 'server.properties');
    const log4jFile = path.join(dataDir, 'log4j2.properties');
    if (this.#saslUsers !== undefined) [this.#saslPort] = await freePorts(this.#host, 1);
    const sasl = this.#saslUsers && { port: this.#saslPort!, users: this.#saslUsers };
    await writeFile(
      propertiesFile,
      renderServerProperties({ host: this.#host, logDir, ...state, sasl }, this.#brokerConfig),
    );
    await writeFile(log4jFile, renderLog4j2(path.join(dataDir, 'logs', 'server.log')));
    const jvmArgs = [...JVM_FLAGS, `-Dlog4j2.configurationFile=${log4jFile}`, ...classPath];

    const formatAt = Date.now();
    if (!existsSync(path.join(logDir, 'meta.properties'))) {
      const args = ['format', '-t', state.clusterId, '-c', propertiesFile, '--standalone'];
      const format = new WatchedProcess(java, [...jvmArgs, 'kafka.tools.StorageTool', ...args], { cwd: dataDir });
      const exit = await format.exited;
      if (exit.code !== 0) {
        throw new Error(`local-kafka: StorageTool format failed (${describe(exit)}):\n${format.recentOutput()}`);
      }
    }

    const bootAt = Date.now();
    this.#broker = new WatchedProcess(java, [...jvmArgs, 'kafka.Kafka', propertiesFile], {
      cwd: dataDir,
      cleanupDir: this.#ownsDataDir ? dataDir : undefined,
      onLine: this.#log,
    });
    await waitForBroker(this.#host, state.brokerPort, this.#broker, this.#startTimeoutMs);
    const now = Date.now();
    this.#timings = {
      jarsMs: jars.elapsedMs,
      jarsFetched: jars.fetched,
      formatMs: bootAt - formatAt,
      bootMs: now - bootAt,
      totalMs: now - startedAt,
    };
    this.#log(
      `local-kafka: Kafka ${jars.version} ready at ${this.brokers} in ${this.#timings.totalMs} ms ` +
        `(jars ${jars.fetched ? 'fetched' : 'cached'} ${jars.elapsedMs} ms, format ${this.#timings.formatMs} ms, ` +
        `boot ${this.#timings.bootMs} ms; data ${dataDir})`,
    );
  }

  /** Reuses the ports of an already formatted data dir, else picks new ones. */
  async #dataDirState(dataDir: string): Promise<DataDirState> {
    const file = path.join(dataDir, STATE_FILE);
    let state: DataDirState;
    if (existsSync(file)) {
      // The controller port is part of the voter set written by `format`: keep it.
      const saved = JSON.parse(await readFile(file, 'utf8')) as DataDirState;
      state = { ...saved, brokerPort: this.#port || saved.brokerPort };
    } else {
      const [first, second] = await freePorts(this.#host, 2);
      const controllerPort = first === this.#port ? second : first;
      state = { clusterId: randomClusterId(), brokerPort: this.#port || second, controllerPort };
    }
    await writeFile(file, `${JSON.stringify(state, null, 2)}\n`);
    return state;
  }

  async #close(): Promise<void> {
    const broker = this.#broker;
    if (broker) {
      const exit = await broker.stop(STOP_GRACE_MS);
      broker.release();
      this.#log(`local-kafka: broker stopped (${describe(exit)})`);
    }
    if (this.#ownsDataDir && this.#dataDir) {
      await rm(this.#dataDir, { recursive: true, force: true, maxRetries: 3 });
    }
  }
}

function describe(exit: { code: number | null; signal: string | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
