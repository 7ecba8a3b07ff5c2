import type { Config } from './config/schema';
import { Ingestor } from './ingest/ingestor';
import { ProducerSink } from './kafka/producer-sink';
import { GrpcServer } from './server/grpc-server';
import { HealthStatus } from './server/health';
import { createLogger, type Logger } from './telemetry/logger';
import { Telemetry } from './telemetry/telemetry';
import { VERSION } from './version';

/** After the drain deadline: how long answers already settled get to reach their clients before connections are cut. */
const CLOSE_GRACE_MS = 1_000;

/**
 * The whole gateway, wired from one frozen Config: gRPC server → ingest →
 * Kafka producer. Started in that order's reverse and closed in it.
 */
export class Gateway {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sink: ProducerSink;
  readonly #ingestor: Ingestor;
  readonly #server: GrpcServer;
  readonly #health = new HealthStatus();
  readonly #telemetry: Telemetry;
  #closing: Promise<void> | undefined;

  constructor(config: Config, log: Logger = createLogger(config.log.level)) {
    this.#config = config;
    this.#log = log;
    this.#telemetry = new Telemetry(config.telemetry, VERSION, log);
    const instruments = this.#telemetry.instruments;
    this.#sink = new ProducerSink(config.kafka, log, instruments.metrics, {
      onConnectedChange: (connected) => this.#health.setKafkaConnected(connected),
    });
    this.#ingestor = new Ingestor(config, this.#sink, instruments);
    this.#server = new GrpcServer(config, this.#ingestor, this.#health, instruments, log);
    const admission = this.#ingestor.admission;
    instruments.metrics.observe({
      inFlightEvents: () => admission.inFlightEvents,
      inFlightBytes: () => admission.inFlightBytes,
      maxInFlightEvents: config.admission.maxInFlightEvents,
      maxInFlightBytes: config.admission.maxInFlightBytes,
      producerQueueDepth: () => this.#sink.inFlight,
      spillBacklog: () => ({ events: 0, bytes: 0, oldestReceivedAt: undefined }),
    });
  }

  /** host:port the gRPC server listens on. */
  get address(): string {
    return this.#server.address;
  }

  /** Events (and their bytes) received and not yet settled. */
  get inFlight(): { events: number; bytes: number } {
    const { inFlightEvents, inFlightBytes } = this.#ingestor.admission;
    return { events: inFlightEvents, bytes: inFlightBytes };
  }

  /** What grpc.health.v1 Check answers for "" and commitlog.v1.CommitLogService. */
  get health(): 'SERVING' | 'NOT_SERVING' {
    return this.#health.status === 'SERVING' ? 'SERVING' : 'NOT_SERVING';
  }

  get kafkaConnected(): boolean {
    return this.#sink.connected;
  }

  async start(): Promise<void> {
    await this.#telemetry.start();
    await this.#sink.start();
    await this.#server.start();
  }

  /**
   * Drains (DESIGN.md §3), all within drainTimeoutMs: health goes NOT_SERVING;
   * new calls are refused UNAVAILABLE; open calls stop taking events and end
   * once the events they took are answered; the producer is flushed and what
   * it still holds at the deadline is answered as not delivered; then the
   * connections close. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const deadline = Date.now() + this.#config.drainTimeoutMs;
    this.#log.info(
      { drainTimeoutMs: this.#config.drainTimeoutMs },
      'drain started: health NOT_SERVING, new calls refused',
    );
    this.#health.setDraining();
    await this.#server.drain(deadline);
    await this.#sink.close(Math.max(0, deadline - Date.now()));
    await this.#server.close(CLOSE_GRACE_MS);
    await this.#telemetry.close();
    this.#log.info('closed');
  }
}
