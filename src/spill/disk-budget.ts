/**
 * The disk cap (DESIGN §3): bytes of segment files that may exist at once.
 * One budget can be shared by the spill log and the dead-letter log, so both
 * count against one cap. Past it appends are refused; nothing is evicted.
 */
export class DiskBudget {
  readonly maxBytes: number;
  #used = 0;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes room for an append if it fits under the cap. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.maxBytes) return false;
    this.#used += bytes;
    return true;
  }

  /** Counts bytes already on disk (found at open), even past the cap: they are never evicted. */
  claim(bytes: number): void {
    this.#used += bytes;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}
