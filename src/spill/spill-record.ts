import type { KafkaRecord } from '../sink';
import { ByteReader, ByteWriter, Truncated, varintBytes } from './byte-codec';

/** A record kept on disk until it can be produced: everything a replay needs, and why it was kept. */
export interface SpillRecord extends KafkaRecord {
  /** Why it is on disk: the delivery error that sent it here (or a dead letter's cause). */
  readonly reason: string;
}

/**
 * A SpillRecord of `record`, built field by field: `{ ...record, reason }`
 * gives objects of another shape than the record's, and encoding those cost
 * 3-4x more (3 µs instead of 0.8 µs per record, bench/pool-boundary.ts).
 */
export function spillRecord(record: KafkaRecord, reason: string): SpillRecord {
  return {
    id: record.id,
    topic: record.topic,
    key: record.key,
    value: record.value,
    headers: record.headers,
    timestamp: record.timestamp,
    receivedAt: record.receivedAt,
    reason,
  };
}

/** The payload layout this build writes (docs/spill-format.md); its first byte. */
export const FORMAT_VERSION = 1;
/**
 * First byte of a padding payload: recovery overwrites a damaged record with
 * one, so offsets after it stay valid. Readers skip it.
 */
export const PADDING_VERSION = 0;

const TOMBSTONE = 0x01;

export type PayloadDecode =
  | { readonly kind: 'record'; readonly record: SpillRecord }
  | { readonly kind: 'padding' }
  /** Written by a newer commitlog: not damage, but this build cannot read it. */
  | { readonly kind: 'unsupported'; readonly version: number; readonly message: string }
  | { readonly kind: 'malformed'; readonly message: string };

/** A string this short (UTF-16 units) takes under 128 UTF-8 bytes: its length prefix is one byte. */
const SHORT_STRING = 42;

/** An upper bound of the string's UTF-8 bytes with their length prefix, without encoding it. */
function stringBound(value: string): number {
  if (value.length <= SHORT_STRING) return 1 + 3 * value.length;
  const bytes = Buffer.byteLength(value);
  return varintBytes(bytes) + bytes;
}

/** Exact bytes of a length-prefixed byte field. */
function bytesField(value: Uint8Array): number {
  return varintBytes(value.length) + value.length;
}

/**
 * Encodes the payload after `headroom` free bytes (the frame header goes
 * there, so a record is encoded into its final buffer in one go).
 * Layout, version 1: u8 version, f64 receivedAt, f64 timestamp, u8 flags,
 * then varint-length-prefixed id, topic, key, [value], header count + pairs, reason.
 *
 * One pass, nothing allocated but the buffer: the buffer is sized by an upper
 * bound (3 bytes per UTF-16 unit of short strings) and the result is the part
 * written. Sizing each header exactly first (arrays of entries and lengths)
 * was a fifth of the gateway's time in the spill-only bench profile.
 */
export function encodeSpillPayload(record: SpillRecord, headroom = 0): Buffer {
  let bound = headroom + 1 + 8 + 8 + 1;
  bound += stringBound(record.id) + stringBound(record.topic) + stringBound(record.reason) + bytesField(record.key);
  if (record.value !== null) bound += bytesField(record.value);
  // node-rdkafka headers are single-entry objects; an object with more entries
  // is kept as that many headers, in order.
  let headerCount = 0;
  for (const header of record.headers) {
    for (const name in header) {
      headerCount++;
      bound += stringBound(name) + stringBound(header[name]);
    }
  }
  bound += varintBytes(headerCount);
  const buf = Buffer.allocUnsafe(bound);
  const w = new ByteWriter(buf, headroom);
  w.u8(FORMAT_VERSION);
  // f64 keeps every JS number exactly, so a replay carries the same timestamp.
  w.f64(record.receivedAt);
  w.f64(record.timestamp);
  w.u8(record.value === null ? TOMBSTONE : 0);
  writeString(w, record.id);
  writeString(w, record.topic);
  w.bytes(record.key);
  if (record.value !== null) w.bytes(record.value);
  w.varint(headerCount);
  for (const header of record.headers) {
    for (const name in header) {
      writeString(w, name);
      writeString(w, header[name]);
    }
  }
  writeString(w, record.reason);
  return buf.subarray(0, w.position);
}

function writeString(w: ByteWriter, value: string): void {
  if (value.length <= SHORT_STRING) w.shortUtf8(value);
  else w.utf8(value, Buffer.byteLength(value));
}

/** Decodes one payload. Never throws: what is wrong is in the result. */
export function decodeSpillPayload(payload: Buffer): PayloadDecode {
  if (payload.length === 0) return { kind: 'malformed', message: 'empty payload' };
  const version = payload[0];
  if (version === PADDING_VERSION) return { kind: 'padding' };
  if (version !== FORMAT_VERSION)
    return {
      kind: 'unsupported',
      version,
      message: `payload format version ${version}: this build reads version ${FORMAT_VERSION} (written by a newer commitlog?)`,
    };
  const r = new ByteReader(payload);
  try {
    r.u8('version');
    const receivedAt = r.f64('receivedAt');
    const timestamp = r.f64('timestamp');
    const flags = r.u8('flags');
    if ((flags & ~TOMBSTONE) !== 0) return { kind: 'malformed', message: `unknown flags 0x${flags.toString(16)}` };
    const id = r.utf8('id');
    const topic = r.utf8('topic');
    const key = r.bytes('key');
    const value = flags & TOMBSTONE ? null : r.bytes('value');
    const count = r.varint('header count');
    if (count > r.remaining) return { kind: 'malformed', message: `header count ${count} exceeds the payload` };
    const headers: Array<Record<string, string>> = [];
    for (let i = 0; i < count; i++) {
      const name = r.utf8(`header ${i} name`);
      headers.push({ [name]: r.utf8(`header ${i} value`) });
    }
    const reason = r.utf8('reason');
    if (r.remaining !== 0) return { kind: 'malformed', message: `${r.remaining} bytes after the reason` };
    return { kind: 'record', record: { id, topic, key, value, headers, timestamp, receivedAt, reason } };
  } catch (err) {
    if (err instanceof Truncated) return { kind: 'malformed', message: err.message };
    throw err;
  }
}
