import type { Config } from './config/schema';
import { Ingestor } from './ingest/ingestor';
import { ProducerSink } from './kafka/producer-sink';
import { GrpcServer } from './server/grpc-server';
import { createLogger, type Logger } from './telemetry/logger';

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

  constructor(config: Config, log: Logger = createLogger(config.log.level)) {
    this.#config = config;
    this.#log = log;
    this.#sink = new ProducerSink(config.kafka, log);
    this.#ingestor = new Ingestor(config, this.#sink);
    this.#server = new GrpcServer(config, this.#ingestor, log);
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

  get kafkaConnected(): boolean {
    return this.#sink.connected;
  }

  async start(): Promise<void> {
    await this.#sink.start();
    await this.#server.start();
  }

  /**
   * Drains: open calls get until drainTimeoutMs to finish; then every event the
   * producer still holds gets what is left of it to be delivered, and whatever
   * is still unsettled is answered as not delivered.
   */
  async close(): Promise<void> {
    const deadline = Date.now() + this.#config.drainTimeoutMs;
    await this.#server.close(this.#config.drainTimeoutMs);
    await this.#sink.close(Math.max(0, deadline - Date.now()));
    this.#log.info('closed');
  }
}
