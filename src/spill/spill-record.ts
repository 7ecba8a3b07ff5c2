import type { KafkaRecord } from '../sink';
import { ByteReader, ByteWriter, Truncated, varintBytes } from './byte-codec';

/** A record kept on disk until it can be produced: everything a replay needs, and why it was kept. */
export interface SpillRecord extends KafkaRecord {
  /** Why it is on disk: the delivery error that sent it here (or a dead letter's cause). */
  readonly reason: string;
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

interface Sized {
  readonly bytes: number;
  readonly id: number;
  readonly topic: number;
  readonly reason: number;
  readonly headers: ReadonlyArray<readonly [string, number, string, number]>;
}

function size(record: SpillRecord): Sized {
  const id = Buffer.byteLength(record.id);
  const topic = Buffer.byteLength(record.topic);
  const reason = Buffer.byteLength(record.reason);
  // node-rdkafka headers are single-entry objects; an object with more entries
  // is kept as that many headers, in order.
  const headers = record.headers.flatMap((h) =>
    Object.entries(h).map(([k, v]) => [k, Buffer.byteLength(k), v, Buffer.byteLength(v)] as const),
  );
  let bytes = 1 + 8 + 8 + 1;
  bytes += varintBytes(id) + id + varintBytes(topic) + topic + varintBytes(reason) + reason;
  bytes += varintBytes(record.key.length) + record.key.length;
  if (record.value !== null) bytes += varintBytes(record.value.length) + record.value.length;
  bytes += varintBytes(headers.length);
  for (const [, kb, , vb] of headers) bytes += varintBytes(kb) + kb + varintBytes(vb) + vb;
  return { bytes, id, topic, reason, headers };
}

/**
 * Encodes the payload after `headroom` free bytes (the frame header goes
 * there, so a record is encoded into its final buffer in one go).
 * Layout, version 1: u8 version, f64 receivedAt, f64 timestamp, u8 flags,
 * then varint-length-prefixed id, topic, key, [value], header count + pairs, reason.
 */
export function encodeSpillPayload(record: SpillRecord, headroom = 0): Buffer {
  const sized = size(record);
  const buf = Buffer.allocUnsafe(headroom + sized.bytes);
  const w = new ByteWriter(buf, headroom);
  w.u8(FORMAT_VERSION);
  // f64 keeps every JS number exactly, so a replay carries the same timestamp.
  w.f64(record.receivedAt);
  w.f64(record.timestamp);
  w.u8(record.value === null ? TOMBSTONE : 0);
  w.utf8(record.id, sized.id);
  w.utf8(record.topic, sized.topic);
  w.bytes(record.key);
  if (record.value !== null) w.bytes(record.value);
  w.varint(sized.headers.length);
  for (const [k, kb, v, vb] of sized.headers) {
    w.utf8(k, kb);
    w.utf8(v, vb);
  }
  w.utf8(record.reason, sized.reason);
  return buf;
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
