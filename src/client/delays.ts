/** Backoff sleeps that close() can cut short, so no timer outlives the client. */
export class Delays {
  readonly #sleeping = new Map<NodeJS.Timeout, (completed: boolean) => void>();
  #closed = false;

  /** Resolves true after `ms`, or false as soon as the delays are closed. */
  sleep(ms: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeping.delete(timer);
        resolve(true);
      }, ms);
      this.#sleeping.set(timer, resolve);
    });
  }

  close(): void {
    this.#closed = true;
    for (const [timer, resolve] of this.#sleeping) {
      clearTimeout(timer);
      resolve(false);
    }
    this.#sleeping.clear();
  }
}
