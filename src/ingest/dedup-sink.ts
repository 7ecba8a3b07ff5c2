import type { DedupConfig } from '../config/schema';
import { isDurable, type KafkaRecord, type Outcome, type Settle, type Sink } from '../sink';
import { hashOf, IdWindow } from './id-window';

/**
 * An id in the window, kept small: 100,000 of them live for minutes, so they
 * are old-space objects every major GC walks and the window's size sets the
 * heap's. While the first record settles, `settled` is false and retries wait
 * in `waiters`. A DELIVERED outcome is kept as its partition and offset (the
 * topic is the record's, a string the router shares), not as the delivery
 * report's object and topic string.
 */
class Entry {
  /** ms since the sink's epoch (a small integer, not a boxed double): sent, then settled. */
  at: number;
  readonly topic: string;
  partition = -1;
  offset = '';
  /** Any other durable outcome, kept as it is. */
  other: Outcome | undefined = undefined;
  waiters: Array<(outcome: Outcome) => void> | undefined = undefined;

  constructor(at: number, topic: string) {
    this.at = at;
    this.topic = topic;
  }

  get settled(): boolean {
    return this.partition >= 0 || this.other !== undefined;
  }

  /** The first outcome; only once settled. */
  get outcome(): Outcome {
    return this.other ?? { kind: 'delivered', topic: this.topic, partition: this.partition, offset: this.offset };
  }

  keep(outcome: Outcome): void {
    if (outcome.kind === 'delivered' && outcome.topic === this.topic && outcome.partition >= 0) {
      this.partition = outcome.partition;
      this.offset = outcome.offset;
    } else {
      this.other = outcome;
    }
  }
}

/**
 * Drops client retries of an event id inside a bounded window (DESIGN.md §3).
 * A retry of an id that settled durably is answered DUPLICATE with the first
 * outcome and not produced again; a retry of an id still settling shares the
 * first's outcome. Ids that settled as not durable leave the window at once,
 * so their retries are produced. The window holds at most `maxEntries` ids,
 * each for at most `windowMs` after it settled; the oldest go first.
 *
 * `submit` is the ingest stage's path: one callback per batch and one promise
 * reaction per record sent on (the inner sink's), where a promise per record
 * and per stage cost a tenth of the gateway's time in the bench profile.
 * `send` is the same as a Sink.
 */
export class DedupSink implements Sink {
  readonly #inner: Sink;
  /** Undefined when deduplication is off (maxEntries 0). */
  readonly #window: IdWindow<Entry> | undefined;
  readonly #maxEntries: number;
  readonly #windowMs: number;
  readonly #epoch = Date.now();

  constructor(inner: Sink, config: DedupConfig) {
    this.#inner = inner;
    this.#maxEntries = config.maxEntries;
    this.#window = config.maxEntries === 0 ? undefined : new IdWindow(config.maxEntries);
    this.#windowMs = config.windowMs;
  }

  get size(): number {
    return this.#window?.size ?? 0;
  }

  /**
   * Hands the records not seen in the window to the inner sink, as one batch,
   * and calls `settle` once per record as it settles: at once for a retry of
   * an id that settled durably, later for the others.
   */
  send(records: readonly KafkaRecord[], settle: Settle): void {
    const now = Date.now() - this.#epoch;
    const fresh: KafkaRecord[] = [];
    const freshAt: number[] = [];
    const freshEntries: Entry[] = [];
    /**
     * Ids first seen in this batch, only when the batch is larger than the
     * window (or the window is off): the window could evict them before the
     * batch ends, and a batch never sends the same id twice.
     */
    const inBatch = records.length > this.#maxEntries ? new Map<string, Entry>() : undefined;
    for (let i = 0; i < records.length; i++) {
      const id = records[i].id;
      const hash = hashOf(id);
      const entry = this.#lookup(id, hash, now) ?? inBatch?.get(id);
      if (entry === undefined) {
        const created = new Entry(now, records[i].topic);
        this.#window?.add(id, created, hash);
        inBatch?.set(id, created);
        fresh.push(records[i]);
        freshAt.push(i);
        freshEntries.push(created);
      } else if (entry.settled) {
        settle(i, duplicateOf(entry.outcome));
      } else {
        (entry.waiters ??= []).push((first) => settle(i, shared(first)));
      }
    }
    if (fresh.length === 0) return;
    this.#inner.send(fresh, (j, outcome) => {
      const waiters = this.#settled(fresh[j].id, freshEntries[j], outcome);
      settle(freshAt[j], outcome);
      if (waiters !== undefined) for (const wake of waiters) wake(outcome);
    });
  }

  /** The id's entry, unless it settled longer than the window ago (then it is forgotten). */
  #lookup(id: string, hash: number, now: number): Entry | undefined {
    const entry = this.#window?.get(id, hash);
    if (entry !== undefined && entry.settled && now - entry.at > this.#windowMs) {
      this.#window!.delete(id, entry, hash);
      return undefined;
    }
    return entry;
  }

  /** Records the outcome in the window; returns the retries that waited for it. */
  #settled(id: string, entry: Entry, outcome: Outcome): Array<(outcome: Outcome) => void> | undefined {
    if (isDurable(outcome)) {
      // Mutated in place: no lookup, and harmless if it was evicted meanwhile.
      entry.keep(outcome);
      entry.at = Date.now() - this.#epoch;
    } else {
      // Only if the id is still this entry's (not evicted, nor replaced).
      this.#window?.delete(id, entry);
    }
    const waiters = entry.waiters;
    entry.waiters = undefined;
    return waiters;
  }
}

function duplicateOf(first: Outcome): Outcome {
  return first.kind === 'duplicate' ? first : { kind: 'duplicate', first };
}

/** A retry that arrived while the first was settling: durable outcomes become DUPLICATE, others are shared as they are. */
function shared(first: Outcome): Outcome {
  return isDurable(first) ? duplicateOf(first) : first;
}
