import type { Config } from '../config/schema';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import type { KafkaRecord, Outcome, Sink } from '../sink';
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

  constructor(config: Config, sink: Sink) {
    this.#validator = new EventValidator(config.limits, config.routing);
    this.#sink = new DedupSink(sink, config.dedup);
  }

  submit(events: readonly CommitEvent__Output[]): Promise<Outcome>[] {
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
    return outcomes;
  }
}
