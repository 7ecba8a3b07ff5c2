import { status as Status } from '@grpc/grpc-js';
import type { KafkaRecord, Outcome, Settle, Sink } from '../sink';
import type { AppendResult, DeadLetterLog, SpillLog } from '../spill';
import { spillRecord } from '../spill/spill-record';
import type { GatewayMetrics } from '../telemetry/metrics';
import { isPermanentFailure, rejected } from './delivery-error';
import type { KafkaProducer } from './kafka-producer';
import { SpanKind } from '@opentelemetry/api';
import { RecordTracing } from './record-tracing';
import type { SpilledKeys } from './spilled-keys';

/**
 * The spill fallback around the producer (DESIGN.md §2–§4). A record goes to
 * Kafka when the producer is available and its key has nothing waiting in the
 * spill log; otherwise, or when Kafka fails it with a retryable error (past
 * kafka.deliveryTimeoutMs, or unsettled at shutdown), it is appended to the
 * spill log and acked SPILLED once the fsync covering it returns. Permanent
 * failures (too large, not authorised, no such topic) go to the dead-letter
 * log and are acked DEAD_LETTERED. Only a record that cannot be made durable
 * either way is REJECTED.
 */
export class SpillingSink implements Sink {
  readonly #producer: KafkaProducer;
  readonly #spill: SpillLog;
  readonly #dead: DeadLetterLog;
  readonly #keys: SpilledKeys;
  readonly #metrics: GatewayMetrics;
  readonly #onFull: () => void;
  readonly #tracing: RecordTracing;

  constructor(
    producer: KafkaProducer,
    spill: SpillLog,
    dead: DeadLetterLog,
    keys: SpilledKeys,
    metrics: GatewayMetrics,
    tracing: RecordTracing,
    onFull: () => void,
  ) {
    this.#tracing = tracing;
    this.#onFull = onFull;
    this.#producer = producer;
    this.#spill = spill;
    this.#dead = dead;
    this.#keys = keys;
    this.#metrics = metrics;
  }

  send(records: readonly KafkaRecord[], settle: Settle): void {
    const available = this.#producer.available;
    const direct: KafkaRecord[] = [];
    const directAt: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (!available) {
        void this.spill(record, `Kafka unavailable: ${this.#producer.lastError}`).then((o) => settle(i, o));
      } else if (this.#keys.has(record)) {
        void this.spill(record, 'its key has spilled events not yet replayed').then((o) => settle(i, o));
      } else {
        direct.push(record);
        directAt.push(i);
      }
    }
    if (direct.length === 0) return;
    this.#producer.send(direct, (j, outcome) => {
      if (outcome.kind !== 'rejected') settle(directAt[j], outcome);
      else void this.#fallback(direct[j], outcome).then((o) => settle(directAt[j], o));
    });
  }

  /** Appends a record to the spill log; SPILLED once fsync'd. Its key spills from now on until replay catches up. */
  spill(record: KafkaRecord, reason: string): Promise<Outcome> {
    this.#keys.add(record);
    const span = this.#tracing.start(record, 'spill', SpanKind.INTERNAL, { 'commitlog.spill.reason': reason });
    return this.#spill.append(spillRecord(record, reason)).then((result): Outcome => {
      const outcome = this.#appended(record, result);
      RecordTracing.end(span, outcome);
      return outcome;
    });
  }

  #appended(record: KafkaRecord, result: AppendResult): Outcome {
    if (result.ok) return SPILLED;
    this.#keys.release(record);
    this.#metrics.spillErrors.add(1, { error: result.code });
    if (result.code === 'FULL') this.#onFull();
    return result.code === 'FULL'
      ? rejected(Status.RESOURCE_EXHAUSTED, `spill log full (spill.maxBytes): ${result.message}`)
      : rejected(Status.UNAVAILABLE, `could not write the spill log: ${result.message}`);
  }

  /** Keeps a permanently failed record with its reason; DEAD_LETTERED once fsync'd. */
  deadLetter(record: KafkaRecord, failure: Extract<Outcome, { kind: 'rejected' }>): Promise<Outcome> {
    return this.#dead.append(spillRecord(record, failure.message)).then((result): Outcome => {
      if (result.ok) return { kind: 'dead_lettered', code: failure.code, message: failure.message };
      this.#metrics.spillErrors.add(1, { error: result.code });
      return rejected(
        result.code === 'FULL' ? Status.RESOURCE_EXHAUSTED : Status.UNAVAILABLE,
        `${failure.message}; and the dead-letter log could not keep it: ${result.message}`,
      );
    });
  }

  #fallback(record: KafkaRecord, outcome: Extract<Outcome, { kind: 'rejected' }>): Promise<Outcome> {
    if (isPermanentFailure(outcome)) return this.deadLetter(record, outcome);
    return this.spill(record, outcome.message);
  }
}

const SPILLED: Outcome = { kind: 'spilled' };
