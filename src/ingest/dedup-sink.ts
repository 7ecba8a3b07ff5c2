import type { DedupConfig } from '../config/schema';
import { isDurable, type KafkaRecord, type Outcome, type Settle, type Sink } from '../sink';
import { SlotCounts } from '../slot-counts';

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
  /** The id's hash in the sink's SlotCounts. */
  readonly hash: number;
  partition = -1;
  offset = '';
  /** Any other durable outcome, kept as it is. */
  other: Outcome | undefined = undefined;
  waiters: Array<(outcome: Outcome) => void> | undefined = undefined;

  constructor(at: number, topic: string, hash: number) {
    this.at = at;
    this.topic = topic;
    this.hash = hash;
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
  readonly #generationSize: number;
  readonly #windowMs: number;
  readonly #epoch = Date.now();
  /**
   * Two generations instead of one map evicted entry by entry: deleting from
   * the front of a Map leaves holes every later iterator walks past (a profile
   * showed 14-50 µs per id at 100,000 entries). When the current generation
   * is full the previous one is dropped whole, so the oldest go first and at
   * most maxEntries ids are held.
   */
  #current = new Map<string, Entry>();
  #previous = new Map<string, Entry>();
  /**
   * The hashes of the ids in the two maps. Nearly every id is new, and a Map
   * miss is a few cache misses each in two maps of 50,000 entries (the
   * lookup was 6% of the gateway's CPU in the bench profile): one counter
   * says "not there" first. 8 slots per id, at most 2^22 (16 MiB).
   */
  readonly #hashes: SlotCounts;

  constructor(inner: Sink, config: DedupConfig) {
    this.#inner = inner;
    this.#generationSize = config.maxEntries === 0 ? 0 : Math.max(1, Math.floor(config.maxEntries / 2));
    this.#windowMs = config.windowMs;
    this.#hashes = new SlotCounts(Math.min(2 ** 22, 8 * config.maxEntries));
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
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
     * Ids first seen in this batch, only when the batch is larger than a
     * generation (or the window is off): the window could drop them before
     * the batch ends, and a batch never sends the same id twice.
     */
    const inBatch = records.length > this.#generationSize ? new Map<string, Entry>() : undefined;
    for (let i = 0; i < records.length; i++) {
      const id = records[i].id;
      const hash = hashOf(id);
      const entry = (this.#hashes.has(hash) ? this.#lookup(id, now) : undefined) ?? inBatch?.get(id);
      if (entry === undefined) {
        const created = new Entry(now, records[i].topic, hash);
        if (this.#generationSize > 0) this.#remember(id, created);
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
  #lookup(id: string, now: number): Entry | undefined {
    const entry = this.#current.get(id) ?? this.#previous.get(id);
    if (entry !== undefined && entry.settled && now - entry.at > this.#windowMs) {
      this.#forget(id, entry);
      return undefined;
    }
    return entry;
  }

  /** Takes the id out of the window, if `entry` is still what it holds for it. */
  #forget(id: string, entry: Entry): void {
    const map = this.#current.get(id) === entry ? this.#current : this.#previous;
    if (map.get(id) === entry) {
      map.delete(id);
      this.#hashes.release(entry.hash);
    }
  }

  #remember(id: string, entry: Entry): void {
    if (this.#current.size >= this.#generationSize) {
      for (const dropped of this.#previous.values()) this.#hashes.release(dropped.hash);
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(id, entry);
    this.#hashes.add(entry.hash);
  }

  /** Records the outcome in the window; returns the retries that waited for it. */
  #settled(id: string, entry: Entry, outcome: Outcome): Array<(outcome: Outcome) => void> | undefined {
    if (isDurable(outcome)) {
      // Mutated in place: no lookup, and harmless if its generation was dropped meanwhile.
      entry.keep(outcome);
      entry.at = Date.now() - this.#epoch;
    } else {
      // Only if the id is still this entry's (not dropped with its generation, nor replaced).
      this.#forget(id, entry);
    }
    const waiters = entry.waiters;
    entry.waiters = undefined;
    return waiters;
  }
}

/** FNV-1a over the id's UTF-16 code units: a few ns an id, where a native CRC call costs more than that to enter. */
function hashOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function duplicateOf(first: Outcome): Outcome {
  return first.kind === 'duplicate' ? first : { kind: 'duplicate', first };
}

/** A retry that arrived while the first was settling: durable outcomes become DUPLICATE, others are shared as they are. */
function shared(first: Outcome): Outcome {
  return isDurable(first) ? duplicateOf(first) : first;
}
