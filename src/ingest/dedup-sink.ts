import type { DedupConfig } from '../config/schema';
import { isDurable, type KafkaRecord, type Outcome, type Sink } from '../sink';

/** An id in the window: settling (its promise) or settled durably (its outcome). */
type Entry =
  { readonly at: number; readonly pending: Promise<Outcome> } | { readonly at: number; readonly outcome: Outcome };

/**
 * Drops client retries of an event id inside a bounded window (DESIGN.md §3).
 * A retry of an id that settled durably is answered DUPLICATE with the first
 * outcome and not produced again; a retry of an id still settling shares the
 * first's outcome. Ids that settled as not durable leave the window at once,
 * so their retries are produced. The window holds at most `maxEntries` ids,
 * each for at most `windowMs` after it settled; the oldest go first.
 */
export class DedupSink implements Sink {
  readonly #inner: Sink;
  readonly #generationSize: number;
  readonly #windowMs: number;
  /**
   * Two generations instead of one map evicted entry by entry: deleting from
   * the front of a Map leaves holes every later iterator walks past (a profile
   * showed 14-50 µs per id at 100,000 entries). When the current generation
   * is full the previous one is dropped whole, so the oldest go first and at
   * most maxEntries ids are held.
   */
  #current = new Map<string, Entry>();
  #previous = new Map<string, Entry>();

  constructor(inner: Sink, config: DedupConfig) {
    this.#inner = inner;
    this.#generationSize = config.maxEntries === 0 ? 0 : Math.max(1, Math.floor(config.maxEntries / 2));
    this.#windowMs = config.windowMs;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  send(records: readonly KafkaRecord[]): Promise<Outcome>[] {
    const now = Date.now();
    const outcomes = new Array<Promise<Outcome>>(records.length);
    const fresh: KafkaRecord[] = [];
    const freshAt: number[] = [];
    /** Position in `fresh` of each id first seen in this batch. */
    const inBatch = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const id = records[i].id;
      const entry = this.#lookup(id, now);
      if (entry !== undefined) {
        outcomes[i] = 'outcome' in entry ? Promise.resolve(duplicateOf(entry.outcome)) : entry.pending.then(shared);
      } else if (inBatch.has(id)) {
        freshAt.push(-1 - i); // resolved below from the first of the batch with this id
      } else {
        inBatch.set(id, fresh.length);
        fresh.push(records[i]);
        freshAt.push(i);
      }
    }
    const sent = fresh.length > 0 ? this.#inner.send(fresh) : [];
    let j = 0;
    for (const at of freshAt) {
      if (at >= 0) {
        const pending = sent[j++];
        this.#remember(records[at].id, { at: now, pending });
        outcomes[at] = pending;
      } else {
        const i = -1 - at;
        outcomes[i] = sent[inBatch.get(records[i].id)!].then(shared);
      }
    }
    return outcomes;
  }

  /** The id's entry, unless it settled longer than the window ago. */
  #lookup(id: string, now: number): Entry | undefined {
    const entry = this.#current.get(id) ?? this.#previous.get(id);
    if (entry !== undefined && 'outcome' in entry && now - entry.at > this.#windowMs) return undefined;
    return entry;
  }

  #remember(id: string, entry: Entry & { pending: Promise<Outcome> }): void {
    if (this.#generationSize === 0) return;
    if (this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(id, entry);
    void entry.pending.then((outcome) => {
      // Only touch the entry if it is still this one (not dropped with its generation, nor replaced).
      for (const generation of [this.#current, this.#previous]) {
        if (generation.get(id) !== entry) continue;
        if (isDurable(outcome)) generation.set(id, { at: Date.now(), outcome });
        else generation.delete(id);
      }
    });
  }
}

function duplicateOf(first: Outcome): Outcome {
  return first.kind === 'duplicate' ? first : { kind: 'duplicate', first };
}

/** A retry that arrived while the first was settling: durable outcomes become DUPLICATE, others are shared as they are. */
function shared(first: Outcome): Outcome {
  return isDurable(first) ? duplicateOf(first) : first;
}
