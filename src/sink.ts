import type { status as Status } from '@grpc/grpc-js';

/** One record on its way to Kafka, already validated and routed. */
export interface KafkaRecord {
  /** The client's event id (also in the commitlog-event-id header). */
  readonly id: string;
  readonly topic: string;
  readonly key: Buffer;
  /** null for a DELETE: a tombstone. */
  readonly value: Buffer | null;
  /** node-rdkafka's header shape: one single-entry object per header, in order. */
  readonly headers: ReadonlyArray<Record<string, string>>;
  /** Record timestamp in ms since the epoch; 0 lets librdkafka use the produce time. */
  readonly timestamp: number;
}

/**
 * How one event settled. Outcomes are data, never exceptions: every event gets
 * exactly one. `delivered`, and `duplicate` of a durable outcome, mean durable.
 */
export type Outcome =
  | {
      readonly kind: 'delivered';
      readonly topic: string;
      readonly partition: number;
      readonly offset: string;
    }
  | {
      /** The same id settled durably a moment ago (or is settling); it was not produced again. */
      readonly kind: 'duplicate';
      readonly first: Outcome;
    }
  | {
      readonly kind: 'rejected';
      /** A gRPC status code: INVALID_ARGUMENT and PERMISSION_DENIED are final; UNAVAILABLE and RESOURCE_EXHAUSTED may pass on retry. */
      readonly code: Status;
      readonly message: string;
    };

/**
 * Where records go. A sink settles every record it is handed: the returned
 * array has one promise per record, in order, and each resolves (never
 * rejects) once that record is durable or known not to be.
 */
export interface Sink {
  send(records: readonly KafkaRecord[]): Promise<Outcome>[];
}

/** Whether the event is safe: an outcome a retry of the same id must not undo. */
export function isDurable(outcome: Outcome): boolean {
  return outcome.kind === 'delivered' || (outcome.kind === 'duplicate' && isDurable(outcome.first));
}
