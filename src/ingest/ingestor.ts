import type { Config } from '../config/schema';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import type { KafkaRecord, Outcome, Sink } from '../sink';
import { Admission } from './admission';
import { DedupSink } from './dedup-sink';
import { EventValidator } from './validate';

/**
 * The ingest stage: validates and routes a batch of decoded events, hands the
 * valid ones to the sink as one batch, and returns one outcome per event in
 * the order received. An invalid event is rejected alone; the rest of its
 * batch goes on. Retries of settled ids are caught before the sink.
 */
export class Ingestor {
  readonly #validator: EventValidator;
  readonly #sink: Sink;
  readonly admission: Admission;

  constructor(config: Config, sink: Sink) {
    this.#validator = new EventValidator(config.limits, config.routing);
    this.#sink = new DedupSink(sink, config.dedup);
    this.admission = new Admission(config.admission);
  }

  /** For unary calls: undefined, and nothing taken, when the in-flight caps have no room for the whole batch. */
  trySubmit(events: readonly CommitEvent__Output[]): Promise<Outcome>[] | undefined {
    const bytes = batchBytes(events);
    if (!this.admission.tryAcquire(events.length, bytes)) return undefined;
    return this.#submit(events, bytes);
  }

  /** For streams: always taken; the caller stops reading while `admission.full`. */
  submit(events: readonly CommitEvent__Output[]): Promise<Outcome>[] {
    const bytes = batchBytes(events);
    this.admission.acquire(events.length, bytes);
    return this.#submit(events, bytes);
  }

  #submit(events: readonly CommitEvent__Output[], bytes: number): Promise<Outcome>[] {
    const outcomes = new Array<Promise<Outcome>>(events.length);
    const records: KafkaRecord[] = [];
    const positions: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const result = this.#validator.validate(events[i]);
      if (result.ok) {
        records.push(result.record);
        positions.push(i);
      } else {
        outcomes[i] = Promise.resolve(result.outcome);
      }
    }
    if (records.length > 0) {
      const sent = this.#sink.send(records);
      for (let j = 0; j < sent.length; j++) outcomes[positions[j]] = sent[j];
    }
    // The batch's room is given back when its last event settles.
    void Promise.all(outcomes).then(() => this.admission.release(events.length, bytes));
    return outcomes;
  }
}

/** What a batch holds in memory while in flight: payloads plus a fixed cost per event. */
function batchBytes(events: readonly CommitEvent__Output[]): number {
  let bytes = 0;
  for (const e of events) {
    // Key and value count twice: librdkafka holds its own copy until delivery.
    bytes += EVENT_OVERHEAD_BYTES + 2 * (e.key.length + e.value.length) + e.id.length + e.bucket.length + e.topic.length;
    for (const name in e.metadata) bytes += name.length + e.metadata[name].length;
  }
  return bytes;
}

/** Decoded objects, the Kafka record and promises around each event's payload. */
const EVENT_OVERHEAD_BYTES = 512;
