import type { KafkaRecord, Outcome, Settle } from '../sink';

/**
 * A record a producer owes an outcome for, and who to tell: the sink's
 * settle callback and the record's index in its batch. One object per record
 * (it is also the opaque of its librdkafka delivery report), no promise.
 */
export class PendingRecord {
  readonly record: KafkaRecord;
  readonly #settle: Settle;
  readonly #index: number;
  /** performance.now() when handed to librdkafka. */
  sentAt = 0;

  constructor(record: KafkaRecord, settle: Settle, index: number) {
    this.record = record;
    this.#settle = settle;
    this.#index = index;
  }

  resolve(outcome: Outcome): void {
    this.#settle(this.#index, outcome);
  }
}
