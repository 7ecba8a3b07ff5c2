import type { Config } from '../config/schema';
import { CommitlogError } from '../errors';
import type { KafkaRecord, Settle, Sink } from '../sink';
import { DeadLetterLog, DiskBudget, SpillLog, type Position } from '../spill';
import { comparePositions } from '../spill/segment-files';
import { walkSegments } from '../spill/spill-tools';
import type { Logger } from '../telemetry/logger';
import type { GatewayMetrics } from '../telemetry/metrics';
import type { Instruments } from '../telemetry/telemetry';
import type { KafkaProducer } from './kafka-producer';
import { ProducerPool, type WorkerInfo } from './pool/producer-pool';
import { deliveryRecorder, ProducerSink, type ProducerSinkEvents } from './producer-sink';
import { RecordTracing } from './record-tracing';
import { Replayer } from './replayer';
import { SpilledKeys } from './spilled-keys';
import { SpillingSink } from './spilling-sink';

/**
 * The delivery stage (DESIGN.md §1): the producer, the spill fallback around
 * it, and the replayer that empties the spill log into Kafka. What the ingest
 * stage sees of it is one Sink.
 */
export class Delivery implements Sink {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #metrics: GatewayMetrics;
  readonly producer: KafkaProducer;
  readonly #budget: DiskBudget;
  readonly spill: SpillLog;
  readonly #dead: DeadLetterLog;
  readonly #keys = new SpilledKeys();
  readonly #sink: SpillingSink;
  readonly #replayer: Replayer;
  /** Spill bytes in use when an append last found the log full; room again once replay frees some. */
  #fullAt: number | undefined;

  constructor(config: Config, log: Logger, instruments: Instruments, events: ProducerSinkEvents = {}) {
    const { metrics } = instruments;
    const tracing = new RecordTracing(instruments);
    this.#config = config;
    this.#log = log.child({ component: 'delivery' });
    this.#metrics = metrics;
    this.producer =
      config.workers === 0
        ? new ProducerSink(config.kafka, log, deliveryRecorder(metrics), events)
        : new ProducerPool(
            { size: config.workers, kafka: config.kafka, supervisor: config.supervisor, logLevel: config.log.level },
            log,
            metrics,
            events,
          );
    const { dir, maxBytes, segmentBytes } = config.spill;
    this.#budget = new DiskBudget(maxBytes);
    this.spill = new SpillLog({ dir, maxBytes, segmentBytes }, { budget: this.#budget });
    this.#dead = new DeadLetterLog({ dir, maxBytes, segmentBytes }, { budget: this.#budget });
    this.#sink = new SpillingSink(this.producer, this.spill, this.#dead, this.#keys, metrics, tracing, () => {
      this.#fullAt = this.#budget.used;
    });
    this.#replayer = new Replayer(this.spill, this.producer, this.#sink, this.#keys, config.spill.replay, log, tracing);
  }

  /**
   * Whether a new event can be made durable somewhere: Kafka takes records, or
   * the spill log has room. Never again once the producer has given up (a
   * worker pool past its restart budget): the gateway needs a restart.
   */
  get canTakeWork(): boolean {
    if (this.producer.failure !== undefined) return false;
    if (this.producer.available) return true;
    if (this.#fullAt !== undefined && this.#budget.used >= this.#fullAt) return false;
    this.#fullAt = undefined;
    return this.#budget.used < this.#budget.maxBytes;
  }

  /** Why no new event can be made durable (see canTakeWork); undefined while one can. */
  get notServingReason(): string | undefined {
    if (this.canTakeWork) return undefined;
    return this.producer.failure ?? `Kafka unavailable (${this.producer.lastError}) and the spill log is full`;
  }

  /** The producer worker processes, when there is a pool (workers > 0). */
  get workers(): WorkerInfo[] {
    return this.producer instanceof ProducerPool ? this.producer.workers : [];
  }

  /** Spilled events delivered by replay since start. */
  get replayed(): number {
    return this.#replayer.replayed;
  }

  send(records: readonly KafkaRecord[], settle: Settle): void {
    this.#sink.send(records, settle);
  }

  /**
   * Recovers the spill directory (a torn tail from a crash is cut and kept in
   * quarantine), remembers which keys wait in it, reaches for Kafka, and
   * starts replay. A spill directory that cannot be opened stops start-up.
   */
  async start(): Promise<void> {
    const dir = this.#config.spill.dir;
    let cursor: Position | undefined;
    try {
      const report = await this.spill.open();
      const dead = await this.#dead.open();
      cursor = report.cursor;
      const cut = report.truncatedBytes + dead.truncatedBytes;
      const quarantined = [...report.quarantined, ...dead.quarantined];
      if (cut > 0 || quarantined.length > 0) {
        this.#metrics.spillErrors.add(quarantined.length || 1, { error: 'RECOVERY' });
        this.#log.warn(
          { dir, truncatedBytes: cut, quarantined, damage: [...report.damage, ...dead.damage] },
          'spill log recovered from damage',
        );
      }
      this.#log.info({ dir, backlog: report.backlog, deadLetters: this.#dead.stored }, 'spill log open');
    } catch (err) {
      throw new CommitlogError(
        'SPILL_UNAVAILABLE',
        `cannot open the spill directory ${dir}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (this.spill.backlog.events > 0) await this.#rememberKeys(cursor);
    await this.producer.start();
    this.#replayer.start();
  }

  /**
   * Within `deadline`: stops replay, gives the producer until `flushBy` to
   * deliver what it holds, spills what it could not, and closes the logs once
   * every append is fsync'd.
   */
  async close(flushBy: number): Promise<void> {
    await this.#replayer.close();
    await this.producer.close(Math.max(0, flushBy - Date.now()));
    await this.spill.close();
    await this.#dead.close();
  }

  /** Keys of the records after the cursor: their new events must follow them through the spill. */
  async #rememberKeys(cursor: Position | undefined): Promise<void> {
    await walkSegments(this.#config.spill.dir, (ref, offset, _bytes, record) => {
      if (ref.log !== 'spill') return;
      if (cursor === undefined || comparePositions({ segment: ref.name, offset }, cursor) >= 0) this.#keys.add(record);
    });
    this.#log.info({ keys: this.#keys.size }, 'keys with spilled events waiting for replay');
  }
}
