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
  /** In an InFlight list, and its neighbours there. */
  listed = false;
  previous: PendingRecord | undefined = undefined;
  next: PendingRecord | undefined = undefined;

  constructor(record: KafkaRecord, settle: Settle, index: number) {
    this.record = record;
    this.#settle = settle;
    this.#index = index;
  }

  resolve(outcome: Outcome): void {
    this.#settle(this.#index, outcome);
  }
}

/**
 * The records handed to librdkafka and not yet reported on: a list threaded
 * through the records themselves. A Set did the same with a hash lookup and
 * a table entry per record, on the path of every delivery report.
 */
export class InFlight {
  #first: PendingRecord | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(pending: PendingRecord): void {
    pending.listed = true;
    pending.previous = undefined;
    pending.next = this.#first;
    if (this.#first !== undefined) this.#first.previous = pending;
    this.#first = pending;
    this.#size++;
  }

  /** False when the record is not in the list (never added, or drained). */
  delete(pending: PendingRecord): boolean {
    if (!pending.listed) return false;
    pending.listed = false;
    if (pending.previous === undefined) this.#first = pending.next;
    else pending.previous.next = pending.next;
    if (pending.next !== undefined) pending.next.previous = pending.previous;
    pending.previous = pending.next = undefined;
    this.#size--;
    return true;
  }

  /** Empties the list; returns what it held. */
  drain(): PendingRecord[] {
    const held: PendingRecord[] = [];
    for (let pending = this.#first; pending !== undefined;) {
      const next = pending.next;
      pending.listed = false;
      pending.previous = pending.next = undefined;
      held.push(pending);
      pending = next;
    }
    this.#first = undefined;
    this.#size = 0;
    return held;
  }
}
