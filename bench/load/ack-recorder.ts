import type { Histogram } from 'hdr-histogram-js';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { encodeHistogram, latencyHistogram, recordMs } from '../measure/latency';
import { OUTCOME_NAMES, type LoadResult, type OutcomeName } from './protocol';

/**
 * Counts what a load process sends and gets back, and records ack latencies,
 * but only inside the measured window: warm-up traffic and acks arriving after
 * `stop` are not counted.
 */
export class AckRecorder {
  readonly #histogram: Histogram = latencyHistogram();
  /** Indexed by the proto's Outcome number. */
  readonly #acks = new Float64Array(OUTCOME_NAMES.length);
  #measuring = false;
  #startedAt = 0;
  #stoppedAt = 0;
  #sent = 0;
  #callErrors = 0;
  #firstError: string | undefined;
  #unmatched = 0;
  #skipped = 0;
  #maxLagMs = 0;
  #elu: EventLoopUtilization | undefined;

  get measuring(): boolean {
    return this.#measuring;
  }

  start(): void {
    this.#measuring = true;
    this.#startedAt = performance.now();
    this.#elu = performance.eventLoopUtilization();
  }

  stop(): void {
    this.#measuring = false;
    this.#stoppedAt = performance.now();
    if (this.#elu) this.#elu = performance.eventLoopUtilization(this.#elu);
  }

  /** One ack: `outcome` is the proto's Outcome number; latency from the (intended) send time. */
  ack(outcome: number, latencyMs: number): void {
    if (!this.#measuring) return;
    this.#acks[outcome < OUTCOME_NAMES.length ? outcome : 0]++;
    recordMs(this.#histogram, latencyMs);
  }

  sent(events: number): void {
    if (this.#measuring) this.#sent += events;
  }

  /** A failed call: its events count as rejected (latency not recorded). */
  callFailed(events: number, message: string): void {
    if (!this.#measuring) return;
    this.#callErrors++;
    this.#acks[5] += events;
    this.#firstError ??= message;
  }

  unmatched(): void {
    if (this.#measuring) this.#unmatched++;
  }

  skipped(events: number): void {
    if (this.#measuring) this.#skipped += events;
  }

  lag(ms: number): void {
    if (this.#measuring && ms > this.#maxLagMs) this.#maxLagMs = ms;
  }

  result(): LoadResult {
    const acks = Object.fromEntries(OUTCOME_NAMES.map((name, i) => [name, this.#acks[i]])) as Record<
      OutcomeName,
      number
    >;
    return {
      measuredMs: (this.#stoppedAt || performance.now()) - this.#startedAt,
      acks,
      sent: this.#sent,
      histogram: encodeHistogram(this.#histogram),
      callErrors: this.#callErrors,
      firstError: this.#firstError,
      unmatched: this.#unmatched,
      skipped: this.#skipped,
      maxLagMs: Math.round(this.#maxLagMs),
      eventLoopUtilization: Math.round((this.#elu?.utilization ?? 0) * 1000) / 1000,
    };
  }
}
