import type { ChannelOptions, Interceptor } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { DEFAULT_BREAKER, type CircuitBreakerOptions } from './circuit-breaker';
import { isLoopback, type TlsOptions, type TokenSource } from './credentials';
import { DEFAULT_RETRY, type RetryPolicy } from './retry-policy';

export interface CommitLogClientOptions {
  /** The gateway: host:port, or any grpc-js target (dns:///host:port, unix:/path). */
  readonly address: string;
  /** unary: one Commit call per batch. stream: every batch goes on one long-lived CommitStream. Default unary. */
  readonly mode?: 'unary' | 'stream';
  /** Events per Commit call / CommitStream message; keep ≤ the gateway's limits.maxEventsPerMessage. Default 100. */
  readonly batchSize?: number;
  /** How long a batch waits to fill; 0 sends what one turn of the event loop handed over. Default 5. */
  readonly lingerMs?: number;
  /** Unary: deadline of each call. Stream: how long an event may wait for its ack before the stream is presumed dead. Default 60,000. */
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** false turns the breaker off. */
  readonly circuitBreaker?: Partial<CircuitBreakerOptions> | false;
  /** Events handed over and not yet settled, at most. Default 10,000. */
  readonly maxBufferedEvents?: number;
  /** At the cap: wait for room (default), or resolve at once as rejected RESOURCE_EXHAUSTED. */
  readonly whenFull?: 'wait' | 'reject';
  /** TLS (true: system roots) or mTLS; plaintext when absent. */
  readonly tls?: boolean | TlsOptions;
  /** Sent as `authorization: Bearer <token>` on every call. Needs TLS unless the address is loopback. */
  readonly token?: TokenSource;
  /** Ids for events that come without one. Default crypto.randomUUID. */
  readonly idGenerator?: () => string;
  /** More grpc-js channel options; they win over the client's own. */
  readonly channelOptions?: ChannelOptions;
  /** grpc-js client interceptors (tracing, logging, tests that count messages). */
  readonly interceptors?: readonly Interceptor[];
}

export interface ResolvedOptions {
  readonly address: string;
  readonly mode: 'unary' | 'stream';
  readonly batchSize: number;
  readonly lingerMs: number;
  readonly deadlineMs: number;
  readonly retry: RetryPolicy;
  readonly circuitBreaker: CircuitBreakerOptions;
  readonly maxBufferedEvents: number;
  readonly whenFull: 'wait' | 'reject';
  readonly tls: TlsOptions | undefined;
  readonly token: TokenSource | undefined;
  readonly idGenerator: () => string;
  readonly channelOptions: ChannelOptions;
  readonly interceptors: readonly Interceptor[];
}

/** Applies the defaults once and checks every number; throws a TypeError naming the option. */
export function resolveOptions(options: CommitLogClientOptions): ResolvedOptions {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const breaker =
    options.circuitBreaker === false
      ? { failureThreshold: Infinity, coolDownMs: 0 }
      : { ...DEFAULT_BREAKER, ...options.circuitBreaker };
  const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
  const resolved: ResolvedOptions = {
    address: options.address,
    mode: options.mode ?? 'unary',
    batchSize: options.batchSize ?? 100,
    lingerMs: options.lingerMs ?? 5,
    deadlineMs: options.deadlineMs ?? 60_000,
    retry,
    circuitBreaker: breaker,
    maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
    whenFull: options.whenFull ?? 'wait',
    tls,
    token: options.token,
    idGenerator: options.idGenerator ?? randomUUID,
    channelOptions: {
      // Reconnect as eagerly as the retries want to: grpc-js's own default starts at 1 s and grows to 120 s,
      // during which every call fails at once with UNAVAILABLE.
      'grpc.initial_reconnect_backoff_ms': Math.max(100, retry.initialBackoffMs),
      'grpc.max_reconnect_backoff_ms': Math.max(100, retry.maxBackoffMs),
      // Find a gateway that vanished without closing the connection (pod killed, network cut).
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      ...options.channelOptions,
    },
    interceptors: options.interceptors ?? [],
  };
  check(typeof resolved.address === 'string' && resolved.address !== '', 'address', 'a non-empty string');
  check(resolved.mode === 'unary' || resolved.mode === 'stream', 'mode', '"unary" or "stream"');
  check(positiveInt(resolved.batchSize), 'batchSize', 'a positive integer');
  check(nonNegative(resolved.lingerMs), 'lingerMs', 'a number ≥ 0');
  check(positiveInt(resolved.deadlineMs), 'deadlineMs', 'a positive integer');
  check(positiveInt(retry.maxAttempts), 'retry.maxAttempts', 'a positive integer');
  check(nonNegative(retry.initialBackoffMs), 'retry.initialBackoffMs', 'a number ≥ 0');
  check(retry.maxBackoffMs >= retry.initialBackoffMs, 'retry.maxBackoffMs', 'at least retry.initialBackoffMs');
  check(retry.multiplier >= 1, 'retry.multiplier', 'a number ≥ 1');
  check(breaker.failureThreshold >= 1, 'circuitBreaker.failureThreshold', 'a positive integer');
  check(nonNegative(breaker.coolDownMs), 'circuitBreaker.coolDownMs', 'a number ≥ 0');
  check(positiveInt(resolved.maxBufferedEvents), 'maxBufferedEvents', 'a positive integer');
  check(resolved.whenFull === 'wait' || resolved.whenFull === 'reject', 'whenFull', '"wait" or "reject"');
  check(tls === undefined || (tls.cert === undefined) === (tls.key === undefined), 'tls', 'cert and key together');
  check(
    resolved.token === undefined || tls !== undefined || isLoopback(resolved.address),
    'token',
    'sent over TLS (set tls), unless the address is loopback: a bearer token must not cross the network in clear text',
  );
  return resolved;
}

function positiveInt(value: number): boolean {
  return Number.isInteger(value) && value >= 1;
}

function nonNegative(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

function check(ok: boolean, name: string, expected: string): void {
  if (!ok) throw new TypeError(`CommitLogClient: option ${name} must be ${expected}`);
}
