export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold: number;
  /** How long it stays open before one probe may go. */
  readonly coolDownMs: number;
}

export const DEFAULT_BREAKER: CircuitBreakerOptions = { failureThreshold: 5, coolDownMs: 5_000 };

/**
 * Stops hammering a gateway that keeps failing. Closed: every attempt goes.
 * After `failureThreshold` consecutive failures it opens: attempts are refused
 * at once, without touching the network, for `coolDownMs`. Then it is half-open:
 * exactly one attempt (the probe) goes; its success closes the breaker, its
 * failure opens it for another cool-down. Any success closes it, also one from
 * an attempt that started before it opened: the gateway answered.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  readonly #now: () => number;
  #failures = 0;
  #openedAt: number | undefined;
  #probing = false;

  constructor(options: CircuitBreakerOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#openedAt === undefined) return 'closed';
    return this.#now() - this.#openedAt >= this.#options.coolDownMs ? 'half_open' : 'open';
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** ms until a probe may go; 0 when attempts may go now. */
  get retryInMs(): number {
    if (this.#openedAt === undefined) return 0;
    return Math.max(0, this.#openedAt + this.#options.coolDownMs - this.#now());
  }

  /**
   * Whether an attempt may go now. In half-open state the first caller gets
   * the probe; the breaker must then hear success(), failure() or release().
   */
  tryAcquire(): boolean {
    switch (this.state) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half_open':
        if (this.#probing) return false;
        this.#probing = true;
        return true;
    }
  }

  success(): void {
    this.#failures = 0;
    this.#openedAt = undefined;
    this.#probing = false;
  }

  failure(): void {
    this.#failures++;
    if (this.#probing || (this.#openedAt === undefined && this.#failures >= this.#options.failureThreshold)) {
      this.#openedAt = this.#now();
    }
    this.#probing = false;
  }

  /** The attempt ended saying nothing about the gateway's health (e.g. RESOURCE_EXHAUSTED): free the probe slot. */
  release(): void {
    this.#probing = false;
  }

  /** Why an attempt was refused, for the rejected outcome. */
  describe(): string {
    return `circuit breaker open after ${this.#failures} consecutive failures; next probe in ${this.retryInMs} ms`;
  }
}
