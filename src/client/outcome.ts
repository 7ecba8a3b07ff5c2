import { status as Status } from '@grpc/grpc-js';
import type { Ack__Output } from '../gen/commitlog/v1/Ack';

/** Kafka acknowledged the record (acks=all, idempotent producer). */
export interface Delivered {
  readonly kind: 'delivered';
  readonly topic: string;
  readonly partition: number;
  /** An int64, kept as text so no precision is lost. */
  readonly offset: string;
}

/** fsync'd to the gateway's spill log; the gateway replays it into Kafka by itself. */
export interface Spilled {
  readonly kind: 'spilled';
}

/** A permanent error; the gateway keeps the event in its dead-letter log. Not retried. */
export interface DeadLettered {
  readonly kind: 'dead_lettered';
  readonly code: Status;
  readonly message: string;
}

/**
 * Not made durable. INVALID_ARGUMENT / PERMISSION_DENIED come from the gateway
 * and are final; any other code is the last one seen after every retry was spent
 * (or the circuit breaker, the buffer cap or close() refused the event).
 */
export interface Rejected {
  readonly kind: 'rejected';
  readonly code: Status;
  readonly message: string;
}

/** The gateway had settled this id already (within its dedup window); `first` says how. */
export interface Duplicate {
  readonly kind: 'duplicate';
  readonly first: Delivered | Spilled | DeadLettered | Rejected;
}

export type Settlement = Delivered | Spilled | Duplicate | DeadLettered | Rejected;

/**
 * How one event settled, as the caller sees it: data, never an exception.
 * `id` is the event id (generated when the caller gave none); `attempts` is how
 * many times the event went on the wire (0 when it never left the client).
 */
export type CommitOutcome = Settlement & { readonly id: string; readonly attempts: number };

/** Whether the event is safe in Kafka or the gateway's spill log. */
export function isDurable(outcome: Settlement): boolean {
  switch (outcome.kind) {
    case 'delivered':
    case 'spilled':
      return true;
    case 'duplicate':
      return isDurable(outcome.first);
    default:
      return false;
  }
}

/** Per-event codes that a retry of the same id may turn into a success (proto: Ack.code). */
const RETRYABLE_ACK_CODES: ReadonlySet<Status> = new Set([Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED]);

/** A REJECTED ack whose code says the gateway could not make the event durable right now. */
export function isRetryableRejection(outcome: Settlement): outcome is Rejected {
  return outcome.kind === 'rejected' && RETRYABLE_ACK_CODES.has(outcome.code);
}

/** The wire Ack as a Settlement. An ack this client does not understand becomes rejected UNKNOWN. */
export function settlementFromAck(ack: Ack__Output): Settlement {
  if (ack.outcome === 'OUTCOME_DUPLICATE') {
    const first = firstFromAck(ack);
    return { kind: 'duplicate', first };
  }
  return firstFromAck({ ...ack, firstOutcome: ack.outcome });
}

function firstFromAck(ack: Ack__Output): Duplicate['first'] {
  switch (ack.firstOutcome) {
    case 'OUTCOME_DELIVERED':
      return { kind: 'delivered', topic: ack.topic, partition: ack.partition, offset: ack.offset };
    case 'OUTCOME_SPILLED':
      return { kind: 'spilled' };
    case 'OUTCOME_DEAD_LETTERED':
      return { kind: 'dead_lettered', code: ack.code, message: ack.message };
    case 'OUTCOME_REJECTED':
      return { kind: 'rejected', code: ack.code, message: ack.message };
    default:
      return {
        kind: 'rejected',
        code: Status.UNKNOWN,
        message: `gateway sent an ack without a known outcome (${ack.outcome}/${ack.firstOutcome}): ${ack.message}`,
      };
  }
}
