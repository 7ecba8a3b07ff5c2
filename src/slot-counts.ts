/**
 * A fixed table of counters addressed by a hash: what a set of strings or
 * keys would answer ("has this one been added, and not yet released?") with
 * false positives where two hashes share a slot, in memory that does not grow
 * with what is added and without holding the strings. The table is allocated
 * on the first add.
 */
export class SlotCounts {
  readonly #mask: number;
  #counts: Uint32Array | undefined;
  /** Counters above zero. */
  #used = 0;

  /** `slots` is rounded up to a power of two. */
  constructor(slots: number) {
    this.#mask = 2 ** Math.ceil(Math.log2(Math.max(2, slots))) - 1;
  }

  /** Slots in the table. */
  get slots(): number {
    return this.#mask + 1;
  }

  /** Counters in use: about the number of distinct hashes added and not released. */
  get used(): number {
    return this.#used;
  }

  /** False: nothing with this hash was added (and not released). True: maybe. */
  has(hash: number): boolean {
    return this.#used > 0 && this.#counts![hash & this.#mask] > 0;
  }

  add(hash: number): void {
    this.#counts ??= new Uint32Array(this.#mask + 1);
    if (this.#counts[hash & this.#mask]++ === 0) this.#used++;
  }

  /** Undoes one add of this hash; a release with nothing added is ignored. */
  release(hash: number): void {
    if (this.#counts === undefined) return;
    const slot = hash & this.#mask;
    if (this.#counts[slot] === 0) return;
    if (--this.#counts[slot] === 0) this.#used--;
  }
}
