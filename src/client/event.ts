import { status as Status } from '@grpc/grpc-js';
import type { CommitEvent } from '../gen/commitlog/v1/CommitEvent';
import type { CommitOutcome, Settlement } from './outcome';

/** One committed object, as the caller hands it over (proto: commitlog.v1.CommitEvent). */
export interface ClientEvent {
  /** Idempotency key. Generated when absent, once per event object: handing the same object over again reuses it. */
  readonly id?: string;
  /** Default STORE. DELETE becomes a Kafka tombstone. */
  readonly action?: 'STORE' | 'DELETE';
  readonly bucket?: string;
  /** Required by the gateway. A string is sent as UTF-8. */
  readonly key: Buffer | Uint8Array | string;
  /** Ignored for DELETE. A string is sent as UTF-8. */
  readonly value?: Buffer | Uint8Array | string;
  readonly contentType?: string;
  /** Becomes Kafka headers; names starting with "commitlog-" are reserved. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** When the database committed it (a Date or ms since the epoch): the Kafka record timestamp. */
  readonly commitTime?: Date | number;
  /** Explicit topic, where the gateway allows one. */
  readonly topic?: string;
}

/**
 * The wire form, with the event's id fixed. Throws a TypeError naming the field
 * when a caller (in JavaScript, or through a cast) passed something protobuf
 * cannot encode: better one event refused than a whole batch failing to serialize.
 */
export function toWire(event: ClientEvent, id: string): CommitEvent {
  const ms = event.commitTime instanceof Date ? event.commitTime.getTime() : event.commitTime;
  if (!isBytes(event.key)) throw new TypeError('key: expected a string, Buffer or Uint8Array');
  if (event.value !== undefined && !isBytes(event.value)) {
    throw new TypeError('value: expected a string, Buffer or Uint8Array');
  }
  for (const [name, value] of Object.entries(event.metadata ?? {})) {
    if (typeof value !== 'string') throw new TypeError(`metadata.${name}: expected a string`);
  }
  if (ms !== undefined && !Number.isFinite(ms))
    throw new TypeError('commitTime: expected a Date or ms since the epoch');
  return {
    id,
    action: event.action === 'DELETE' ? 'ACTION_DELETE' : 'ACTION_STORE',
    bucket: event.bucket ?? '',
    key: bytes(event.key),
    value: event.value === undefined ? Buffer.alloc(0) : bytes(event.value),
    contentType: event.contentType ?? '',
    metadata: { ...event.metadata },
    commitTime:
      ms === undefined
        ? null
        : { seconds: Math.floor(ms / 1000), nanos: Math.round((((ms % 1000) + 1000) % 1000) * 1e6) },
    topic: event.topic ?? '',
  };
}

function isBytes(data: unknown): data is Buffer | Uint8Array | string {
  return typeof data === 'string' || data instanceof Uint8Array;
}

function bytes(data: Buffer | Uint8Array | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/**
 * An event from hand-over until it settles: the same wire object (and so the
 * same id) goes out on every try. Settles exactly once; later settle() calls
 * are ignored, so a late ack cannot change an outcome the caller already has.
 */
export class PendingEvent {
  readonly id: string;
  readonly wire: CommitEvent;
  /** Hand-over order, so resends keep the order the caller gave. */
  readonly seq: number;
  readonly outcome: Promise<CommitOutcome>;
  /** Times the event went on the wire. */
  attempts = 0;
  /** The last retryable failure, reported if every retry is spent. */
  last: { readonly code: Status; readonly message: string } | undefined;
  #resolve!: (outcome: CommitOutcome) => void;
  #settled = false;

  constructor(wire: CommitEvent & { id: string }, seq: number) {
    this.id = wire.id;
    this.wire = wire;
    this.seq = seq;
    this.outcome = new Promise((resolve) => (this.#resolve = resolve));
  }

  get settled(): boolean {
    return this.#settled;
  }

  settle(settlement: Settlement): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve({ ...settlement, id: this.id, attempts: this.attempts });
  }

  reject(code: Status, message: string): void {
    this.settle({ kind: 'rejected', code, message });
  }

  /** Every retry spent: rejected with the last code and message seen. */
  rejectWithLast(): void {
    this.reject(this.last?.code ?? Status.UNKNOWN, this.last?.message ?? 'no attempt succeeded');
  }
}

/** Events still in need of an answer, in hand-over order. */
export function unsettled(events: Iterable<PendingEvent>): PendingEvent[] {
  return [...events].filter((e) => !e.settled).sort((a, b) => a.seq - b.seq);
}
