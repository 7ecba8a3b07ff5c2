import { status as Status, type Metadata } from '@grpc/grpc-js';

export interface RetryPolicy {
  /** Tries per event, the first included; 1 turns retries off. */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 5_000, multiplier: 2 };

/**
 * Call statuses after which the same events may be sent again: the gateway was
 * unreachable or draining, at its in-flight cap, or too slow. Any other status
 * (INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED, ...) is final.
 */
const RETRYABLE_CALL_CODES: ReadonlySet<Status> = new Set([
  Status.UNAVAILABLE,
  Status.RESOURCE_EXHAUSTED,
  Status.DEADLINE_EXCEEDED,
]);

export function isRetryableCall(code: Status): boolean {
  return RETRYABLE_CALL_CODES.has(code);
}

/**
 * Statuses that say the gateway is failing (not merely busy or refusing the
 * caller): these count against the circuit breaker. RESOURCE_EXHAUSTED is the
 * gateway answering "later", so it does not.
 */
const FAILURE_CODES: ReadonlySet<Status> = new Set([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.INTERNAL,
  Status.UNKNOWN,
]);

export function isGatewayFailure(code: Status): boolean {
  return FAILURE_CODES.has(code);
}

/**
 * Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
 * Architecture Blog, 2015): uniform in [0, min(max, initial × multiplier^(attempt-1))].
 * Full jitter spreads the retries of many clients that failed together.
 * `attempt` is the number of tries made so far (≥ 1).
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * policy.multiplier ** Math.max(0, attempt - 1),
  );
  return Math.floor(random() * ceiling);
}

/**
 * The server's retry hint: trailer grpc-retry-pushback-ms (gRPC A6), a
 * non-negative integer. Anything else reads as no hint.
 */
export function pushbackMs(metadata: Metadata | undefined): number | undefined {
  const value = metadata?.get('grpc-retry-pushback-ms')[0];
  if (typeof value !== 'string' || !/^[0-9]{1,9}$/.test(value)) return undefined;
  return Number(value);
}

/** The wait before the next try: the server's hint where it gave one (A6: used as is), else backoff. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, code: Status, trailer?: Metadata): number {
  const hint = code === Status.RESOURCE_EXHAUSTED ? pushbackMs(trailer) : undefined;
  return hint ?? backoffMs(policy, attempt);
}
