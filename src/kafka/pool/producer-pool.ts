import { status as Status } from '@grpc/grpc-js';
import { crc32c } from '@node-rs/crc32';
import type { KafkaConfig, SupervisorConfig } from '../../config/schema';
import type { KafkaRecord, Settle } from '../../sink';
import type { Logger } from '../../telemetry/logger';
import type { GatewayMetrics } from '../../telemetry/metrics';
import { rejected } from '../delivery-error';
import type { KafkaProducer } from '../kafka-producer';
import { PendingRecord } from '../pending-record';
import { deliveryRecorder, type ProducerSinkEvents } from '../producer-sink';
import { WorkerMetrics } from './worker-metrics';
import { WorkerSlot, type SlotEvents } from './worker-slot';

export interface PoolOptions {
  readonly size: number;
  readonly kafka: KafkaConfig;
  readonly supervisor: SupervisorConfig;
  readonly logLevel: string;
}

/** What `Gateway.workers` reports of each worker. */
export interface WorkerInfo {
  readonly index: number;
  readonly pid: number | undefined;
  readonly connected: boolean;
  readonly inFlight: number;
  readonly delivered: number;
  readonly errors: number;
  readonly restarts: number;
}

/** Heartbeats per hang timeout: a worker is declared hung after missing this many in a row. */
const BEATS_PER_TIMEOUT = 5;

/**
 * A supervised pool of producer worker processes (docs/workers.md), each with
 * its own librdkafka producer, behind the interface one producer has. A
 * record goes to the worker its key hashes to, so one key is always produced
 * by one producer, in order. A worker that exits or stops heartbeating is
 * replaced, and what it had not answered is sent again to its replacement
 * (at least once: a record Kafka took just before the crash is produced
 * twice, acked once). Past supervisor.maxRestarts restarts within
 * supervisor.restartWindowMs the pool gives up, the way an OTP supervisor
 * does: `failure` says why, and the records it still holds are answered
 * UNAVAILABLE, which the spill fallback turns into SPILLED.
 */
export class ProducerPool implements KafkaProducer {
  readonly #options: PoolOptions;
  readonly #log: Logger;
  readonly #workerMetrics: WorkerMetrics;
  readonly #events: ProducerSinkEvents;
  readonly #slots: WorkerSlot[];
  /** performance.now() of each restart within the window. */
  #restartTimes: number[] = [];
  #failure: string | undefined;
  #closed = false;
  #watchdog: NodeJS.Timeout | undefined;
  /** performance.now() of the last heartbeat check. */
  #checkedAt = 0;
  #connected = false;

  constructor(options: PoolOptions, log: Logger, metrics: GatewayMetrics, events: ProducerSinkEvents = {}) {
    this.#options = options;
    this.#log = log.child({ component: 'worker-pool' });
    this.#events = events;
    const onReport = deliveryRecorder(metrics);
    const slotEvents: SlotEvents = {
      onDeath: (slot, reason) => this.#onDeath(slot, reason),
      onState: () => this.#onState(),
      onSettled: (_slot, message) => {
        for (let i = 0; i < message.durations.length; i++) onReport(message.durations[i], message.errors[i]);
      },
    };
    const heartbeatMs = Math.max(50, Math.floor(options.supervisor.hangTimeoutMs / BEATS_PER_TIMEOUT));
    this.#slots = Array.from(
      { length: options.size },
      (_, i) => new WorkerSlot(i, { kafka: options.kafka, logLevel: options.logLevel, heartbeatMs }, slotEvents),
    );
    this.#workerMetrics = new WorkerMetrics(metrics.meter, () => this.workers);
  }

  get connected(): boolean {
    return this.#failure === undefined && this.#slots.some((s) => s.state.connected);
  }

  get available(): boolean {
    return this.#failure === undefined && this.#slots.some((s) => s.state.available);
  }

  get lastError(): string {
    return this.#failure ?? this.#slots.find((s) => !s.state.available)?.state.lastError ?? '';
  }

  get inFlight(): number {
    let sum = 0;
    for (const slot of this.#slots) sum += slot.inFlight;
    return sum;
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  get workers(): WorkerInfo[] {
    return this.#slots.map((s) => ({
      index: s.index,
      pid: s.pid,
      connected: s.state.connected,
      inFlight: s.inFlight,
      delivered: s.delivered,
      errors: s.errors,
      restarts: s.restarts,
    }));
  }

  async start(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.spawn()));
    this.#onState();
    const { hangTimeoutMs } = this.#options.supervisor;
    this.#checkedAt = performance.now();
    this.#watchdog = setInterval(() => this.#checkHeartbeats(), hangTimeoutMs / BEATS_PER_TIMEOUT).unref();
    this.#log.info({ workers: this.#slots.map((s) => s.pid) }, `producer pool started: ${this.#slots.length} workers`);
  }

  send(records: readonly KafkaRecord[], settle: Settle): void {
    const size = this.#slots.length;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (this.#closed) settle(i, rejected(Status.UNAVAILABLE, 'the gateway is shutting down'));
      else if (this.#failure !== undefined) settle(i, rejected(Status.UNAVAILABLE, this.#failure));
      else this.#slots[size === 1 ? 0 : crc32c(record.key) % size].send(new PendingRecord(record, settle, i));
    }
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    await Promise.all(this.#slots.map((s) => s.close(timeoutMs)));
    this.#workerMetrics.close();
    this.#onState();
  }

  #checkHeartbeats(): void {
    const now = performance.now();
    const late = now - this.#checkedAt > (2 * this.#options.supervisor.hangTimeoutMs) / BEATS_PER_TIMEOUT;
    this.#checkedAt = now;
    // This loop was stalled itself (a long GC, a busy turn): timers run before pending
    // IPC messages are read, so the workers' heartbeats may be waiting. Look next time.
    if (late) return;
    for (const slot of this.#slots) {
      const silentMs = now - slot.lastHeardAt;
      if (slot.pid !== undefined && silentMs > this.#options.supervisor.hangTimeoutMs) {
        this.#log.error(
          { worker: slot.index, pid: slot.pid, silentMs: Math.round(silentMs) },
          'producer worker hung: killing it',
        );
        slot.hung = true;
        slot.kill();
      }
    }
  }

  #onDeath(slot: WorkerSlot, how: string): void {
    const reason = slot.hung ? `hung (no heartbeat for ${this.#options.supervisor.hangTimeoutMs} ms), ${how}` : how;
    const { maxRestarts, restartWindowMs } = this.#options.supervisor;
    const now = performance.now();
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < restartWindowMs);
    if (this.#closed || this.#failure !== undefined) {
      slot.fail(rejected(Status.UNAVAILABLE, this.#failure ?? 'not delivered to Kafka before the gateway shut down'));
      return;
    }
    if (this.#restartTimes.length >= maxRestarts) {
      this.#failure =
        `producer worker ${slot.index} ${reason}: more than ${maxRestarts} restarts within ${restartWindowMs} ms ` +
        '(supervisor.maxRestarts), the pool gave up';
      this.#log.error({ worker: slot.index, inFlight: slot.inFlight }, this.#failure);
      slot.fail(rejected(Status.UNAVAILABLE, this.#failure));
      this.#onState();
      return;
    }
    this.#restartTimes.push(now);
    slot.restarts++;
    slot.hung = false;
    const requeued = slot.requeueSent();
    this.#log.error(
      { worker: slot.index, reason, requeued, restarts: slot.restarts },
      `producer worker ${slot.index} ${reason}: restarting it; its unanswered records go to the new one`,
    );
    void slot.spawn().then(() => this.#onState());
  }

  #onState(): void {
    const connected = this.connected;
    if (connected === this.#connected) return;
    this.#connected = connected;
    this.#events.onConnectedChange?.(connected);
  }
}
