import { status as Status } from '@grpc/grpc-js';
import type { CommitLogServiceClient } from '../gen/commitlog/v1/CommitLogService';
import type { CircuitBreaker } from './circuit-breaker';
import type { Delays } from './delays';
import type { PendingEvent } from './event';
import type { ResolvedOptions } from './options';

/** Takes events from the client and settles each one, retries included. */
export interface Sender {
  add(event: PendingEvent): void;
  /** Send what is queued now, without waiting for the linger time. */
  flush(): void;
  /** Called once every event has settled (or been given up): end calls, drop timers. */
  close(): Promise<void>;
}

/** What the client counts; read through CommitLogClient.stats. */
export interface Counters {
  /** Unary Commit calls started. */
  calls: number;
  /** CommitStream calls opened. */
  streams: number;
  /** CommitStream request messages written. */
  streamMessages: number;
  /** Events put on the wire, resends included. */
  eventsSent: number;
  /** Of those, resends of an event that had gone before. */
  resends: number;
  /** Attempts the open circuit breaker refused without touching the network. */
  fastFailures: number;
}

export interface SenderContext {
  readonly options: ResolvedOptions;
  readonly grpc: CommitLogServiceClient;
  readonly breaker: CircuitBreaker;
  readonly delays: Delays;
  readonly counters: Counters;
  /** The event still pending under this id, if any: an ack may arrive after its event was moved on to a retry. */
  pending(id: string): PendingEvent | undefined;
}

/** Counts a try of each event. */
export function markSent(events: readonly PendingEvent[], counters: Counters): void {
  for (const event of events) {
    if (event.attempts > 0) counters.resends++;
    event.attempts++;
  }
  counters.eventsSent += events.length;
}

/** The breaker refused the attempt: fail fast, no network. */
export function refuseByBreaker(events: readonly PendingEvent[], context: SenderContext): void {
  context.counters.fastFailures++;
  const reason = context.breaker.describe();
  for (const event of events) {
    event.reject(Status.UNAVAILABLE, event.last === undefined ? reason : `${reason} (last: ${event.last.message})`);
  }
}

/**
 * Records a retryable failure on each event; settles those whose tries are
 * spent as rejected with this last code and message. Returns the rest.
 */
export function keepRetrying(
  events: readonly PendingEvent[],
  code: Status,
  message: string,
  maxAttempts: number,
): PendingEvent[] {
  const retry: PendingEvent[] = [];
  for (const event of events) {
    if (event.settled) continue;
    event.last = { code, message };
    if (event.attempts >= maxAttempts) event.rejectWithLast();
    else retry.push(event);
  }
  return retry;
}

/** The most tries any of these events has had: drives one shared backoff. */
export function mostAttempts(events: readonly PendingEvent[]): number {
  return events.reduce((most, e) => Math.max(most, e.attempts), 1);
}
