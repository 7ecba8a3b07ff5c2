import type { status as Status } from '@grpc/grpc-js';

/** Header names the gateway writes; event metadata may not use their prefix. */
export const HEADER = {
  eventId: 'commitlog-event-id',
  action: 'commitlog-action',
  bucket: 'commitlog-bucket',
  contentType: 'commitlog-content-type',
  /** On records produced by spill replay: why the event was spilled. */
  replayed: 'commitlog-replayed',
} as const;
export const RESERVED_PREFIX = 'commitlog-';

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
  /** When the gateway received the event, ms since the epoch (kept in the spill log). */
  readonly receivedAt: number;
}

/**
 * How one event settled. Outcomes are data, never exceptions: every event gets
 * exactly one. All but `rejected` mean the event is durable (isDurable).
 */
export type Outcome =
  | {
      readonly kind: 'delivered';
      readonly topic: string;
      readonly partition: number;
      readonly offset: string;
    }
  | {
      /** Written and fsync'd to the spill log; replayed into Kafka by itself. */
      readonly kind: 'spilled';
    }
  | {
      /** A permanent Kafka error: kept in the dead-letter log with the reason, not retried. */
      readonly kind: 'dead_lettered';
      readonly code: Status;
      readonly message: string;
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

/** Told once per record of a batch, with its index in the batch, as it settles. */
export type Settle = (index: number, outcome: Outcome) => void;

/**
 * Where records go. A sink settles every record it is handed, exactly once,
 * by calling `settle` once that record is durable or known not to be.
 * Callbacks, not a promise per record: at tens of thousands of records a
 * second, a promise (and its closure) per record per stage was a measurable
 * share of the gateway's CPU and garbage.
 */
export interface Sink {
  send(records: readonly KafkaRecord[], settle: Settle): void;
}

/** One promise per record, in order: for callers that wait on a batch (replay, tools, tests), not the hot path. */
export function sendAll(sink: Sink, records: readonly KafkaRecord[]): Promise<Outcome>[] {
  const resolvers = new Array<(outcome: Outcome) => void>(records.length);
  const outcomes = records.map((_, i) => new Promise<Outcome>((resolve) => (resolvers[i] = resolve)));
  sink.send(records, (i, outcome) => resolvers[i](outcome));
  return outcomes;
}

/** Whether the event is safe: an outcome a retry of the same id must not undo. */
export function isDurable(outcome: Outcome): boolean {
  switch (outcome.kind) {
    case 'delivered':
    case 'spilled':
    case 'dead_lettered':
      return true;
    case 'duplicate':
      return isDurable(outcome.first);
    case 'rejected':
      return false;
  }
}
