/**
 * The cap on events buffered in the client: handed over and not yet settled.
 * Waiters get room in arrival order; a newcomer does not jump the queue.
 */
export class EventBudget {
  readonly #capacity: number;
  #used = 0;
  #waiters: Array<(granted: boolean) => void> = [];
  /** whenRoom() callers: told once there is room, without taking it. */
  #watchers: Array<() => void> = [];
  #closed = false;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get used(): number {
    return this.#used;
  }

  tryTake(): boolean {
    if (this.#closed || this.#waiters.length > 0 || this.#used >= this.#capacity) return false;
    this.#used++;
    return true;
  }

  /** Resolves true once room was taken, false when the budget closed first. */
  take(): Promise<boolean> {
    if (this.tryTake()) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves once a take() would not wait (or the budget closed). */
  whenRoom(): Promise<void> {
    if (this.#closed || (this.#waiters.length === 0 && this.#used < this.#capacity)) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push(resolve));
  }

  give(): void {
    const next = this.#waiters.shift();
    // Room passes straight to the oldest waiter; #used stays as it is.
    if (next !== undefined) return next(true);
    this.#used--;
    for (const watcher of this.#watchers.splice(0)) watcher();
  }

  /** Refuses every waiter and every later take(). */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(false);
    for (const watcher of this.#watchers.splice(0)) watcher();
  }
}
