import type { AdmissionConfig } from '../config/schema';

/**
 * Caps the events (and their bytes) that are received and not yet settled,
 * across all calls, so memory stays bounded when Kafka is slow (DESIGN.md §3).
 * Unary calls are admitted whole or refused; a stream's message is always
 * taken (it has been read already) and the stream then stops being read
 * until there is room again.
 */
export class Admission {
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  #events = 0;
  #bytes = 0;
  #waiters: Array<() => void> = [];

  constructor(config: AdmissionConfig) {
    this.#maxEvents = config.maxInFlightEvents;
    this.#maxBytes = config.maxInFlightBytes;
  }

  get inFlightEvents(): number {
    return this.#events;
  }

  get inFlightBytes(): number {
    return this.#bytes;
  }

  get full(): boolean {
    return this.#events >= this.#maxEvents || this.#bytes >= this.#maxBytes;
  }

  /** Takes room for a whole call, or none. With nothing in flight any call fits, so one larger than the caps is not refused forever. */
  tryAcquire(events: number, bytes: number): boolean {
    if (this.#events > 0 && (this.#events + events > this.#maxEvents || this.#bytes + bytes > this.#maxBytes))
      return false;
    this.acquire(events, bytes);
    return true;
  }

  acquire(events: number, bytes: number): void {
    this.#events += events;
    this.#bytes += bytes;
  }

  release(events: number, bytes: number): void {
    this.#events -= events;
    this.#bytes -= bytes;
    if (this.#waiters.length > 0 && !this.full) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once the caps have room (at once if they have). */
  whenRoom(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
