import { status as Status } from '@grpc/grpc-js';
import { CODES, Producer, type DeliveryReport, type LibrdKafkaError, type MessageHeader } from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema';
import type { KafkaRecord, Settle } from '../sink';
import type { Logger } from '../telemetry/logger';
import type { GatewayMetrics } from '../telemetry/metrics';
import type { KafkaProducer } from './kafka-producer';
import { deliveryFailure, errorName, rejected } from './delivery-error';
import { InFlight, PendingRecord } from './pending-record';
import { producerProperties } from './producer-config';

/** Told of each delivery report: its latency, and librdkafka's error name ('' when delivered). */
export type OnDeliveryReport = (seconds: number, error: string) => void;

/**
 * Records delivery reports into the gateway's instruments: latency by error,
 * failures by error. The series of a delivered record is looked up once.
 */
export function deliveryRecorder(metrics: GatewayMetrics): OnDeliveryReport {
  const delivered = metrics.deliveryDuration.series({ error: '' });
  return (seconds, error) => {
    if (error === '') {
      delivered.record(seconds);
    } else {
      metrics.deliveryDuration.series({ error }).record(seconds);
      metrics.deliveryFailures.add(1, { error });
    }
  };
}

/** What the owner of a ProducerSink is told. */
export interface ProducerSinkEvents {
  /** `connected` changed: true once the producer reaches the cluster, false when it is closed. */
  onConnectedChange?(connected: boolean): void;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/**
 * A Sink over one idempotent librdkafka producer. A record is DELIVERED only
 * on its own delivery report. A full librdkafka queue is backpressure: records
 * wait, in order, in a backlog until delivery reports free room, so a burst is
 * never failed and per-key order is kept.
 */
export class ProducerSink implements KafkaProducer {
  readonly #config: KafkaConfig;
  readonly #log: Logger;
  readonly #events: ProducerSinkEvents;
  readonly #onReport: OnDeliveryReport;
  readonly #producer: Producer;
  readonly #inFlight = new InFlight();
  #backlog: PendingRecord[] = [];
  #connected = false;
  #closed = false;
  #lastError = 'not connected yet';
  /** Why librdkafka last failed to reach a broker (its FAIL log): more than the connect callback's "transport failure". */
  #connectFailure: string | undefined;
  #brokersDown = false;
  #reconnectDelayMs = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #drainTimer: NodeJS.Timeout | undefined;

  constructor(config: KafkaConfig, log: Logger, onReport: OnDeliveryReport, events: ProducerSinkEvents = {}) {
    this.#config = config;
    this.#onReport = onReport;
    this.#events = events;
    this.#log = log.child({ component: 'producer' });
    const properties = producerProperties(config);
    this.#producer = new Producer(properties.global, properties.topic);
    this.#producer.on('delivery-report', (err, report) => this.#onDeliveryReport(err, report));
    // librdkafka's own errors and warnings: what tells an operator why a connection failed
    // (SASL authentication, TLS handshake), where the connect callback only says "transport failure".
    this.#producer.on('event.log', (event: { severity: number; fac: string; message: string }) => {
      if (event.severity > 4) return;
      this.#log.warn({ facility: event.fac, librdkafka: event.message }, 'librdkafka log');
      // "[thrd:…]: sasl_plaintext://host:port/bootstrap: SASL authentication error: …"
      if (event.fac === 'FAIL') this.#connectFailure = event.message.replace(/^\[thrd:[^\]]*\]: /, '');
    });
    this.#producer.on('event.error', (err) => {
      this.#lastError = err.message;
      if (errorName(err) === 'ERR__ALL_BROKERS_DOWN' && !this.#brokersDown) {
        this.#brokersDown = true;
        this.#log.warn({ brokers: config.brokers }, 'all brokers down: new events go to the spill log');
      }
      this.#log.warn({ code: err.code, err: err.message }, 'librdkafka error');
    });
  }

  /** True once the producer has reached the cluster. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Whether a record handed over now can be expected to reach Kafka: connected,
   * and no "all brokers down" from librdkafka since the last delivery that
   * succeeded. Replay keeps trying while it is false, and its first delivery
   * sets it back.
   */
  get available(): boolean {
    return this.#connected && !this.#brokersDown;
  }

  /** One producer does not give up: it keeps reconnecting. */
  readonly failure = undefined;

  /** The last error librdkafka reported, for messages. */
  get lastError(): string {
    return this.#lastError;
  }

  /** Records handed to librdkafka or waiting for room, not yet settled. */
  get inFlight(): number {
    return this.#inFlight.size + this.#backlog.length;
  }

  /**
   * Makes one attempt to reach the cluster. When it fails the gateway still
   * starts; the producer keeps retrying in the background and events are
   * rejected UNAVAILABLE until it gets through.
   */
  async start(): Promise<void> {
    await this.#connect();
  }

  send(records: readonly KafkaRecord[], settle: Settle): void {
    for (let i = 0; i < records.length; i++) this.#admit(new PendingRecord(records[i], settle, i));
  }

  /**
   * Stops taking records, gives those already taken until `timeoutMs` to be
   * delivered, and settles the rest as not delivered: nothing is dropped
   * without an outcome.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const deadline = Date.now() + timeoutMs;
    if (this.#connected) {
      while (this.#backlog.length > 0 && Date.now() < deadline) {
        this.#drainBacklog();
        await sleep(this.#config.pollIntervalMs);
      }
      await this.#flush(Math.max(0, deadline - Date.now()));
    }
    clearTimeout(this.#drainTimer);
    const unsettled = [...this.#backlog, ...this.#inFlight.drain()];
    this.#backlog = [];
    for (const pending of unsettled) {
      pending.resolve(rejected(Status.UNAVAILABLE, 'not delivered to Kafka before the gateway shut down'));
    }
    if (unsettled.length > 0) this.#log.warn({ unsettled: unsettled.length }, 'records unsettled at shutdown');
    if (this.#connected) {
      this.#connected = false;
      this.#events.onConnectedChange?.(false);
      // node-rdkafka's disconnect() flushes again, 5 s by default: only what is left of the deadline.
      const flushMs = Math.max(0, deadline - Date.now());
      await new Promise<void>((resolve) => this.#producer.disconnect(flushMs, () => resolve()));
    }
  }

  #admit(pending: PendingRecord): void {
    if (this.#closed) {
      pending.resolve(rejected(Status.UNAVAILABLE, 'the gateway is shutting down'));
    } else if (!this.#connected) {
      pending.resolve(
        rejected(Status.UNAVAILABLE, `Kafka is unreachable (${this.#config.brokers}): ${this.#lastError}`),
      );
    } else if (this.#backlog.length > 0 || !this.#produce(pending)) {
      // Behind others, or librdkafka's queue is full: wait in line.
      this.#backlog.push(pending);
      this.#armDrain();
    }
  }

  /** Hands one record to librdkafka; false when its queue is full. */
  #produce(pending: PendingRecord): boolean {
    const { topic, value, key, timestamp, headers } = pending.record;
    try {
      this.#producer.produce(topic, null, value, key, timestamp, pending, headers as MessageHeader[]);
    } catch (err) {
      const error = err as LibrdKafkaError;
      if (error.code === CODES.ERRORS.ERR__QUEUE_FULL) return false;
      pending.resolve(deliveryFailure(error, this.#config.deliveryTimeoutMs));
      return true;
    }
    pending.sentAt = performance.now();
    this.#inFlight.add(pending);
    return true;
  }

  #onDeliveryReport(err: LibrdKafkaError | null, report: DeliveryReport): void {
    const pending = report.opaque as PendingRecord;
    // Settled already: answered UNAVAILABLE by close() when the flush ran out of time.
    if (!this.#inFlight.delete(pending)) return;
    this.#onReport((performance.now() - pending.sentAt) / 1000, err ? errorName(err) : '');
    if (err) {
      pending.resolve(deliveryFailure(err, this.#config.deliveryTimeoutMs));
    } else {
      if (this.#brokersDown) {
        this.#brokersDown = false;
        this.#log.info('Kafka takes records again');
      }
      pending.resolve({
        kind: 'delivered',
        topic: report.topic,
        partition: report.partition,
        offset: String(report.offset),
      });
    }
    if (this.#backlog.length > 0) this.#drainBacklog();
  }

  #drainBacklog(): void {
    let i = 0;
    while (i < this.#backlog.length && this.#produce(this.#backlog[i])) i++;
    if (i > 0) this.#backlog = this.#backlog.slice(i);
    if (this.#backlog.length > 0) this.#armDrain();
  }

  /** Delivery reports free room; this timer covers the case where none is pending. */
  #armDrain(): void {
    if (this.#drainTimer !== undefined || this.#closed) return;
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      this.#drainBacklog();
    }, this.#config.pollIntervalMs);
  }

  #connect(): Promise<void> {
    return new Promise((resolve) => {
      this.#producer.connect({ timeout: this.#config.connectTimeoutMs }, (err) => {
        if (this.#closed) {
          resolve();
          return;
        }
        if (err) {
          this.#lastError = this.#connectFailure ?? err.message;
          this.#log.warn(
            { brokers: this.#config.brokers, err: this.#lastError, retryInMs: this.#reconnectDelayMs },
            'cannot reach Kafka',
          );
          this.#reconnectTimer = setTimeout(() => void this.#connect(), this.#reconnectDelayMs);
          this.#reconnectDelayMs = Math.min(this.#reconnectDelayMs * 2, RECONNECT_MAX_MS);
        } else {
          this.#connected = true;
          this.#connectFailure = undefined;
          this.#events.onConnectedChange?.(true);
          this.#reconnectDelayMs = RECONNECT_MIN_MS;
          this.#producer.setPollInterval(this.#config.pollIntervalMs);
          this.#log.info({ brokers: this.#config.brokers }, 'connected to Kafka');
        }
        resolve();
      });
    });
  }

  #flush(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.#producer.flush(timeoutMs, (err) => {
        if (err) this.#log.warn({ err: err.message }, 'flush did not finish');
        // Delivery reports served by the flush reach JS on the next turns of the loop.
        setTimeout(resolve, this.#config.pollIntervalMs * 2);
      });
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
