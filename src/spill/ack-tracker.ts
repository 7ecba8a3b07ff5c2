import type { Position } from './segment-files';

interface Entry {
  /** undefined for a padding frame: nothing to acknowledge, but the cursor must pass it. */
  readonly key: string | undefined;
  /** Where the next frame starts: the cursor once this and all before it are acknowledged. */
  readonly end: Position;
  readonly receivedAt: number | undefined;
  readonly bytes: number;
  acked: boolean;
}

export type Acknowledged =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'again' }
  /** `advancedTo`: the new cursor, when this closed a gap at the front. */
  | { readonly kind: 'acked'; readonly bytes: number; readonly advancedTo: Position | undefined };

const keyOf = (p: Position): string => `${p.segment}@${p.offset}`;

/**
 * Records handed out for replay and not yet acknowledged, in read order.
 * Acknowledgments may come in any order; the cursor only moves over the
 * acknowledged prefix, so a crash never skips a record still in flight.
 */
export class AckTracker {
  #entries: Entry[] = [];
  #head = 0;
  readonly #byKey = new Map<string, Entry>();

  /** Read but unacknowledged records. */
  get size(): number {
    return this.#byKey.size;
  }

  track(position: Position, end: Position, receivedAt: number, bytes: number): void {
    const entry = { key: keyOf(position), end, receivedAt, bytes, acked: false };
    this.#entries.push(entry);
    this.#byKey.set(entry.key, entry);
  }

  pass(end: Position): void {
    this.#entries.push({ key: undefined, end, receivedAt: undefined, bytes: 0, acked: true });
  }

  acknowledge(position: Position): Acknowledged {
    const entry = this.#byKey.get(keyOf(position));
    if (entry === undefined)
      return this.#entries.some((e) => e.key === keyOf(position)) ? { kind: 'again' } : { kind: 'unknown' };
    this.#byKey.delete(entry.key!);
    entry.acked = true;
    let advancedTo: Position | undefined;
    while (this.#head < this.#entries.length && this.#entries[this.#head].acked)
      advancedTo = this.#entries[this.#head++].end;
    // Drop the acknowledged prefix now and then, not on every call (shift() is O(n)).
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return { kind: 'acked', bytes: entry.bytes, advancedTo };
  }

  /** receivedAt of the first record still unacknowledged. */
  get oldestReceivedAt(): number | undefined {
    for (let i = this.#head; i < this.#entries.length; i++)
      if (!this.#entries[i].acked) return this.#entries[i].receivedAt;
    return undefined;
  }
}
