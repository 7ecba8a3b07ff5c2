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
  readonly #maxEntries: number;
  readonly #windowMs: number;
  /** Insertion-ordered, so the first key is always the oldest. */
  readonly #entries = new Map<string, Entry>();

  constructor(inner: Sink, config: DedupConfig) {
    this.#inner = inner;
    this.#maxEntries = config.maxEntries;
    this.#windowMs = config.windowMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  send(records: readonly KafkaRecord[]): Promise<Outcome>[] {
    const now = Date.now();
    this.#expire(now);
    const outcomes = new Array<Promise<Outcome>>(records.length);
    const fresh: KafkaRecord[] = [];
    const freshAt: number[] = [];
    /** Position in `fresh` of each id first seen in this batch. */
    const inBatch = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const id = records[i].id;
      let entry = this.#entries.get(id);
      if (entry !== undefined && 'outcome' in entry && now - entry.at > this.#windowMs) {
        this.#entries.delete(id);
        entry = undefined;
      }
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

  #remember(id: string, entry: Entry & { pending: Promise<Outcome> }): void {
    if (this.#maxEntries === 0) return;
    this.#entries.set(id, entry);
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    void entry.pending.then((outcome) => {
      // Only touch the entry if it is still this one (not evicted and replaced).
      if (this.#entries.get(id) !== entry) return;
      this.#entries.delete(id);
      if (isDurable(outcome)) this.#entries.set(id, { at: Date.now(), outcome });
    });
  }

  /** Drops settled ids older than the window, from the oldest on. */
  #expire(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.at <= this.#windowMs) return;
      if ('outcome' in entry) this.#entries.delete(id);
      else return; // still settling: keep it and everything younger
    }
  }
}

function duplicateOf(first: Outcome): Outcome {
  return first.kind === 'duplicate' ? first : { kind: 'duplicate', first };
}

/** A retry that arrived while the first was settling: durable outcomes become DUPLICATE, others are shared as they are. */
function shared(first: Outcome): Outcome {
  return isDurable(first) ? duplicateOf(first) : first;
}
