/**
 * What the runner and a load process (bench/load/load-main.ts) say to each
 * other over the fork IPC channel. The runner sends `start`, waits for
 * `ready`, sends `measure` when the warm-up is over and `stop` when the
 * measured window ends; the load process answers `stop` with its `result`.
 */

/** How one load process drives its target. */
export interface LoadPlan {
  /** stream: CommitStream; unary: Commit; direct: node-rdkafka, no gRPC. */
  kind: 'stream' | 'unary' | 'direct';
  /** gRPC target (stream, unary). */
  address: string;
  /** Kafka bootstrap list and topic (direct). */
  brokers: string;
  topic: string;
  /** Events per request message. */
  batch: number;
  /** CommitStream calls (stream). */
  streams: number;
  /** Unary calls in flight (unary, closed loop). */
  concurrency: number;
  /** Events in flight (stream and direct, closed loop). */
  inflight: number;
  /** Open loop: events/s this process offers, sent at fixed intended times; undefined: closed loop. */
  rate: number | undefined;
  valueBytes: number;
  /** Prefix of every event id of this process; ids end in a 10-digit sequence number. */
  idPrefix: string;
}

export type ToLoad = { type: 'start'; plan: LoadPlan } | { type: 'measure' } | { type: 'stop' };

export type FromLoad = { type: 'ready' } | { type: 'result'; result: LoadResult } | { type: 'failed'; message: string };

/** Ack outcomes as the proto numbers them (commitlog.v1.Outcome). */
export const OUTCOME_NAMES = ['unspecified', 'delivered', 'spilled', 'duplicate', 'dead_lettered', 'rejected'] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];

/** What one load process saw in the measured window. */
export interface LoadResult {
  /** Length of the measured window, by the load process's clock. */
  measuredMs: number;
  /** Acks received in the window, by outcome; plus failed calls' events as `rejected`. */
  acks: Record<OutcomeName, number>;
  /** Events sent in the window. */
  sent: number;
  /** Ack latencies of the window in µs, an HDR histogram (encodeIntoCompressedBase64). */
  histogram: string;
  /** Calls that failed (status other than OK) in the window, and the first such error. */
  callErrors: number;
  firstError?: string;
  /** Acks whose id this process could not match to an event it sent. */
  unmatched: number;
  /** Open loop: intended sends skipped because too much was in flight (the rate was not sustained). */
  skipped: number;
  /** Open loop: the most the sender fell behind its schedule, ms. */
  maxLagMs: number;
  /** Event-loop utilization of this process over the window (0–1): near 1, the generator itself was the limit. */
  eventLoopUtilization: number;
}
