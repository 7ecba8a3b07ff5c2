import type { Config } from './config/schema';
import { Ingestor } from './ingest/ingestor';
import { Delivery } from './kafka/delivery';
import type { WorkerInfo } from './kafka/pool/producer-pool';
import { GrpcServer } from './server/grpc-server';
import { HealthStatus } from './server/health';
import { createLogger, type Logger } from './telemetry/logger';
import { Telemetry } from './telemetry/telemetry';
import { VERSION } from './version';

/** After the drain deadline: how long answers already settled get to reach their clients before connections are cut. */
const CLOSE_GRACE_MS = 1_000;
/** Of the drain timeout, kept back from the producer's flush for spilling what it could not deliver (at most). */
const SPILL_RESERVE_MS = 2_000;
const HEALTH_REFRESH_MS = 1_000;

/**
 * The whole gateway, wired from one frozen Config: gRPC server → ingest →
 * delivery (producer, spill log, replay). Started in that order's reverse and
 * closed in it.
 */
export class Gateway {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #delivery: Delivery;
  readonly #ingestor: Ingestor;
  readonly #server: GrpcServer;
  readonly #health = new HealthStatus();
  readonly #telemetry: Telemetry;
  #closing: Promise<void> | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  /** Why health says NOT_SERVING (draining aside); logged when it changes. */
  #notServingReason: string | undefined = 'starting';

  constructor(config: Config, log: Logger = createLogger(config.log.level)) {
    this.#config = config;
    this.#log = log;
    this.#telemetry = new Telemetry(config.telemetry, VERSION, log);
    const instruments = this.#telemetry.instruments;
    this.#delivery = new Delivery(config, log, instruments, {
      onConnectedChange: () => this.#refreshHealth(),
    });
    this.#ingestor = new Ingestor(config, this.#delivery, instruments);
    this.#server = new GrpcServer(config, this.#ingestor, this.#health, instruments, log);
    const admission = this.#ingestor.admission;
    instruments.metrics.observe({
      inFlightEvents: () => admission.inFlightEvents,
      inFlightBytes: () => admission.inFlightBytes,
      maxInFlightEvents: config.admission.maxInFlightEvents,
      maxInFlightBytes: config.admission.maxInFlightBytes,
      producerQueueDepth: () => this.#delivery.producer.inFlight,
      spillBacklog: () => this.#delivery.spill.backlog,
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

  /** Why the gateway cannot take work (health NOT_SERVING), draining aside; undefined while it can. */
  get notServingReason(): string | undefined {
    return this.#notServingReason;
  }

  /** The producer worker processes (empty with workers: 0). */
  get workers(): WorkerInfo[] {
    return this.#delivery.workers;
  }

  get kafkaConnected(): boolean {
    return this.#delivery.producer.connected;
  }

  /** Spilled events not yet replayed. */
  get spillBacklog(): number {
    return this.#delivery.spill.backlog.events;
  }

  /** Spilled events delivered by replay since start. */
  get replayed(): number {
    return this.#delivery.replayed;
  }

  async start(): Promise<void> {
    await this.#delivery.start();
    // After the spill log is open, so that the first scrape already shows its backlog.
    await this.#telemetry.start();
    this.#refreshHealth();
    // Kafka going away and the spill log filling up are states, not events: look again every second.
    this.#healthTimer = setInterval(() => this.#refreshHealth(), HEALTH_REFRESH_MS).unref();
    await this.#server.start();
  }

  #refreshHealth(): void {
    const reason = this.#delivery.notServingReason;
    if (reason !== this.#notServingReason) {
      if (reason === undefined) this.#log.info('health SERVING: events can be made durable');
      else this.#log.error({ reason }, `health NOT_SERVING: ${reason}`);
      this.#notServingReason = reason;
    }
    this.#health.setCanTakeWork(reason === undefined);
  }

  /**
   * Drains (DESIGN.md §3), all within drainTimeoutMs: health goes NOT_SERVING;
   * new calls are refused UNAVAILABLE; open calls stop taking events and end
   * once the events they took are answered; the producer is flushed and what
   * it still holds near the deadline is spilled (and acked SPILLED); the spill
   * log is fsync'd and closed; then the connections close. Idempotent.
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
    clearInterval(this.#healthTimer);
    this.#health.setDraining();
    // Calls stop taking events now and end as the events they took are answered:
    // with Kafka healthy that is soon. What the producer still holds at flushBy
    // is spilled when delivery closes, which answers the rest.
    const flushBy = deadline - Math.min(SPILL_RESERVE_MS, this.#config.drainTimeoutMs / 4);
    await this.#server.drain(flushBy);
    await this.#delivery.close(flushBy);
    await this.#server.close(CLOSE_GRACE_MS);
    await this.#telemetry.close();
    this.#log.info('closed');
  }
}
