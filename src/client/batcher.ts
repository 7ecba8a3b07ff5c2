export interface BatcherOptions {
  /** A batch goes as soon as it holds this many items. */
  readonly maxItems: number;
  /** How long the first item of a batch waits for company; 0: until the current turn of the event loop ends. */
  readonly lingerMs: number;
}

/**
 * Groups items into batches: one goes when it is full or its first item has
 * lingered long enough. While paused (the transport pushes back) nothing goes;
 * resume() sends what has piled up.
 */
export class Batcher<T> {
  readonly #options: BatcherOptions;
  readonly #emit: (batch: T[]) => void;
  #queue: T[] = [];
  /** Cancels the pending linger timer; undefined when none is set. */
  #cancelTimer: (() => void) | undefined;
  #paused = false;

  constructor(options: BatcherOptions, emit: (batch: T[]) => void) {
    this.#options = options;
    this.#emit = emit;
  }

  get size(): number {
    return this.#queue.length;
  }

  add(item: T): void {
    this.#queue.push(item);
    this.#schedule();
  }

  /** Items that were waiting for a retry go before newer ones. */
  addFront(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#queue.unshift(...items);
    this.#schedule();
  }

  /** Sends everything queued now, without waiting for the linger time. */
  flush(): void {
    this.#clearTimer();
    while (!this.#paused && this.#queue.length > 0) this.#emit(this.#queue.splice(0, this.#options.maxItems));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#schedule();
  }

  close(): void {
    this.#clearTimer();
    this.#queue = [];
  }

  #schedule(): void {
    if (this.#paused) return;
    while (!this.#paused && this.#queue.length >= this.#options.maxItems) {
      this.#emit(this.#queue.splice(0, this.#options.maxItems));
    }
    if (this.#queue.length === 0) this.#clearTimer();
    else if (this.#cancelTimer === undefined) {
      const fire = (): void => {
        this.#cancelTimer = undefined;
        this.flush();
      };
      if (this.#options.lingerMs === 0) {
        const immediate = setImmediate(fire);
        this.#cancelTimer = () => clearImmediate(immediate);
      } else {
        const timeout = setTimeout(fire, this.#options.lingerMs);
        this.#cancelTimer = () => clearTimeout(timeout);
      }
    }
  }

  #clearTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }
}
