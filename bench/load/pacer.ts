import type { AckRecorder } from './ack-recorder';

/**
 * Open-loop arrivals: one send every `intervalMs`, at fixed intended times
 * that do not move when the sender or the server falls behind. Each send is
 * given its intended time, and latency is measured from it, not from when the
 * message actually left: a stalled server then shows up as latency for every
 * message that should have been sent meanwhile (no coordinated omission).
 */
export class Pacer {
  readonly #intervalMs: number;
  readonly #send: (intendedAt: number) => void;
  readonly #recorder: AckRecorder;
  #nextAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(intervalMs: number, send: (intendedAt: number) => void, recorder: AckRecorder) {
    this.#intervalMs = intervalMs;
    this.#send = send;
    this.#recorder = recorder;
  }

  start(): void {
    this.#running = true;
    this.#nextAt = performance.now();
    this.#tick();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  #tick(): void {
    if (!this.#running) return;
    const now = performance.now();
    this.#recorder.lag(now - this.#nextAt);
    // Everything due is sent now, in a burst if this turn came late.
    while (this.#nextAt <= now && this.#running) {
      this.#send(this.#nextAt);
      this.#nextAt += this.#intervalMs;
    }
    // setTimeout rounds to whole ms; sends due within that ms go out together on the next tick.
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, this.#nextAt - performance.now()));
  }
}
