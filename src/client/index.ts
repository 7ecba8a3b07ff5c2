export type { BreakerState, CircuitBreakerOptions } from './circuit-breaker';
export { CommitLogClient, type ClientStats } from './client';
export type { TlsOptions, TokenSource } from './credentials';
export type { ClientEvent } from './event';
export type { CommitLogClientOptions } from './options';
export {
  isDurable,
  type CommitOutcome,
  type DeadLettered,
  type Delivered,
  type Duplicate,
  type Rejected,
  type Settlement,
  type Spilled,
} from './outcome';
export type { RetryPolicy } from './retry-policy';
