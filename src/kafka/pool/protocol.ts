import type { KafkaConfig } from '../../config/schema';
import type { KafkaRecord, Outcome } from '../../sink';
import { decodeSpillPayload, encodeSpillPayload } from '../../spill/spill-record';

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
  | {
      readonly t: 'settled';
      readonly seqs: readonly number[];
      readonly outcomes: readonly Outcome[];
      /** Delivery-report latencies since the last message, in seconds, and the librdkafka error of each ('' when none). */
      readonly durations: readonly number[];
      readonly errors: readonly string[];
    }
  /** The producer is closed and every record it took is settled. */
  | { readonly t: 'closed' };

const LENGTH_BYTES = 4;

/** One buffer for a batch of records. */
export function packRecords(records: readonly KafkaRecord[]): Buffer {
  const parts = records.map((record) => {
    const part = encodeSpillPayload({ ...record, reason: '' }, LENGTH_BYTES);
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
    const { reason: _reason, ...record } = decoded.record;
    records.push(record);
    at += length;
  }
  return records;
}
