import { randomBytes } from 'node:crypto';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import { loadCommitlogProto } from '../../src/server/proto';
import { SEQ_DIGITS } from './ack-decoder';
import { FRAME_HEADER_BYTES } from './h2-grpc';

/** Random bytes the event values are cut from: far more than lz4's 64 KiB window, so values do not compress. */
const POOL_BYTES = 16 * 1024 * 1024;

export const BENCH_BUCKET = 'bench';

/**
 * A request message (CommitRequest or CommitStreamRequest, the same wire
 * shape: `repeated CommitEvent events = 1`) serialized once with the proto's
 * own serializer, with placeholder ids, keys and values. Each `fill` copies it
 * and patches in fresh sequence numbers and value bytes, so the generator
 * never runs protobuf per event (the bytes go out through H2GrpcConnection):
 *   id    = idPrefix + 10-digit sequence number (unique: the gateway deduplicates ids)
 *   key   = "k" + the same 10 digits (unique keys spread over all partitions)
 *   value = valueBytes taken from a 16 MiB random pool at a moving offset
 */
export class RequestTemplate {
  readonly batch: number;
  readonly #template: Buffer;
  readonly #idDigitsAt: number[] = [];
  readonly #keyDigitsAt: number[] = [];
  readonly #valueAt: number[] = [];
  readonly #valueBytes: number;
  readonly #pool: Buffer;
  #poolAt = 0;

  constructor(batch: number, idPrefix: string, valueBytes: number, pool: Buffer = valuePool(valueBytes)) {
    this.batch = batch;
    this.#valueBytes = valueBytes;
    this.#pool = pool;
    const events: CommitEvent[] = [];
    for (let i = 0; i < batch; i++) {
      const digits = pad(i);
      // The value placeholder starts with a marker unique to the event, so it can be found.
      const value = Buffer.alloc(valueBytes, 0x2e);
      value.write(`v${digits}`.slice(0, valueBytes));
      events.push({
        id: `${idPrefix}${digits}`,
        action: 'ACTION_STORE',
        bucket: BENCH_BUCKET,
        key: Buffer.from(`k${digits}`),
        value,
      });
    }
    const serialize = loadCommitlogProto().commitlog.v1.CommitLogService.service.CommitStream.requestSerialize;
    // Room for the gRPC frame header in front, so sending needs no second copy.
    this.#template = Buffer.concat([Buffer.alloc(FRAME_HEADER_BYTES), serialize({ events })]);
    let from = 0;
    for (let i = 0; i < batch; i++) {
      const digits = pad(i);
      const idAt = this.#find(`${idPrefix}${digits}`, from) + idPrefix.length;
      const keyAt = this.#find(`k${digits}`, idAt) + 1;
      this.#idDigitsAt.push(idAt);
      this.#keyDigitsAt.push(keyAt);
      if (valueBytes > 0) {
        // With values shorter than the marker, the marker is cut; the value follows the key either way.
        this.#valueAt.push(this.#find(`v${digits}`.slice(0, valueBytes), keyAt));
      }
      from = keyAt;
    }
  }

  /** A fresh request whose events carry sequence numbers firstSeq … firstSeq+batch-1, after FRAME_HEADER_BYTES free bytes. */
  fill(firstSeq: number): Buffer {
    const out = Buffer.allocUnsafe(this.#template.length);
    this.#template.copy(out);
    const valueBytes = this.#valueBytes;
    for (let i = 0; i < this.batch; i++) {
      writeDigits(out, this.#idDigitsAt[i], firstSeq + i);
      writeDigits(out, this.#keyDigitsAt[i], firstSeq + i);
      if (valueBytes > 0) {
        if (this.#poolAt + valueBytes > this.#pool.length) this.#poolAt = 0;
        this.#pool.copy(out, this.#valueAt[i], this.#poolAt, this.#poolAt + valueBytes);
        // An odd stride: consecutive values never line up with each other in the pool.
        this.#poolAt += valueBytes + 7;
      }
    }
    return out;
  }

  #find(text: string, from: number): number {
    const at = this.#template.indexOf(text, from, 'latin1');
    if (at < 0) throw new Error(`request template: "${text}" not found in the serialized request`);
    return at;
  }
}

/** The random pool values are cut from; share one between templates of a process. */
export function valuePool(valueBytes: number): Buffer {
  return randomBytes(Math.max(POOL_BYTES, valueBytes * 2));
}

export function pad(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/** Writes `value` as SEQ_DIGITS ASCII digits at `at`. */
export function writeDigits(buf: Buffer, at: number, value: number): void {
  let rest = value;
  for (let i = at + SEQ_DIGITS - 1; i >= at; i--) {
    buf[i] = 48 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}
