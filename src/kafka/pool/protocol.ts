import type { KafkaConfig } from '../../config/schema';
import type { KafkaRecord, Outcome } from '../../sink';
import { decodeSpillPayload, encodeSpillPayload, spillRecord } from '../../spill/spill-record';

/**
 * The messages between the pool (the gateway's main thread) and a producer
 * worker process. Records cross as one buffer per batch, in the spill log's
 * record layout (docs/spill-format.md) behind a u32 length each, so a batch
 * is one IPC message and one copy, not one object graph per event.
 */
export type ToWorker =
  | {
      readonly t: 'init';
      readonly index: number;
      readonly kafka: KafkaConfig;
      readonly logLevel: string;
      readonly heartbeatMs: number;
    }
  /** Records numbered first, first+1, …: one `settled` entry comes back for each. */
  | { readonly t: 'send'; readonly first: number; readonly records: Uint8Array }
  | { readonly t: 'close'; readonly timeoutMs: number };

export interface WorkerState {
  readonly connected: boolean;
  readonly available: boolean;
  readonly lastError: string;
  /** Records in the worker's producer, not yet settled. */
  readonly inFlight: number;
}

export type FromWorker =
  /** After the producer's first attempt to reach the cluster. */
  | ({ readonly t: 'ready' } & WorkerState)
  /** Every heartbeatMs, and when the connection changes. */
  | ({ readonly t: 'state' } & WorkerState)
  | Settled;

/**
 * Outcomes of records, by sequence number. DELIVERED, nearly all of them,
 * travels as typed arrays (copied as raw bytes, nothing to build per record
 * on either side); the topic is the record's own. Other outcomes as objects.
 */
export interface Settled {
  readonly t: 'settled';
  readonly seqs: Float64Array;
  /** Partition, or -1 where `others` holds the outcome. */
  readonly partitions: Int32Array;
  readonly offsets: Float64Array;
  readonly others: ReadonlyArray<readonly [index: number, outcome: Outcome]>;
  /** Delivery-report latencies since the last message, in seconds, and the librdkafka error of each ('' when none). */
  readonly durations: Float64Array;
  readonly errors: readonly string[];
}

/** The settled message for these outcomes (and delivery timings). */
export function settledMessage(
  seqs: readonly number[],
  outcomes: readonly Outcome[],
  durations: readonly number[],
  errors: readonly string[],
): Settled {
  const partitions = new Int32Array(seqs.length);
  const offsets = new Float64Array(seqs.length);
  const others: Array<readonly [number, Outcome]> = [];
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i];
    if (outcome.kind === 'delivered') {
      partitions[i] = outcome.partition;
      offsets[i] = Number(outcome.offset);
    } else {
      partitions[i] = -1;
      others.push([i, outcome]);
    }
  }
  return {
    t: 'settled',
    seqs: Float64Array.from(seqs),
    partitions,
    offsets,
    others,
    durations: Float64Array.from(durations),
    errors,
  };
}

/** Calls `settle` with each outcome of a settled message; `topicOf` gives a delivered record's topic. */
export function readSettled(
  message: Settled,
  topicOf: (seq: number) => string | undefined,
  settle: (seq: number, outcome: Outcome) => void,
): void {
  const { seqs, partitions, offsets, others } = message;
  for (let i = 0; i < seqs.length; i++) {
    if (partitions[i] === -1) continue;
    const topic = topicOf(seqs[i]);
    if (topic !== undefined)
      settle(seqs[i], { kind: 'delivered', topic, partition: partitions[i], offset: String(offsets[i]) });
  }
  for (const [i, outcome] of others) settle(seqs[i], outcome);
}

const LENGTH_BYTES = 4;

/** One buffer for a batch of records. */
export function packRecords(records: readonly KafkaRecord[]): Buffer {
  const parts = records.map((record) => {
    const part = encodeSpillPayload(spillRecord(record, ''), LENGTH_BYTES);
    part.writeUInt32LE(part.length - LENGTH_BYTES, 0);
    return part;
  });
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** The records packRecords put in `packed`, in order. */
export function unpackRecords(packed: Uint8Array): KafkaRecord[] {
  const buf = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const records: KafkaRecord[] = [];
  for (let at = 0; at < buf.length;) {
    const length = buf.readUInt32LE(at);
    at += LENGTH_BYTES;
    const decoded = decodeSpillPayload(buf.subarray(at, at + length));
    // The gateway encoded it a moment ago: anything else is a bug, and the worker crashes on it.
    if (decoded.kind !== 'record') throw new Error(`producer worker: undecodable record (${decoded.kind})`);
    // A SpillRecord is a KafkaRecord (its empty reason goes unread): no copy into another shape.
    records.push(decoded.record);
    at += length;
  }
  return records;
}
