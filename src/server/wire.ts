import type { ServiceDefinition } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Root, type Message, type Type } from 'protobufjs';
import type { Ack } from '../gen/commitlog/v1/Ack';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import type { CommitRequest__Output } from '../gen/commitlog/v1/CommitRequest';
import { COMMITLOG_PROTO, PROTO_DIR } from './proto';

/**
 * The CommitLogService's request and response codecs on the server, replacing
 * proto-loader's for its two methods. Same wire format, fewer copies:
 *
 * - proto-loader decodes a request into protobufjs messages and then copies
 *   them into plain objects (toObject), allocating two empty Buffers per event
 *   for the bytes defaults it then overwrites. Here the decoded message is
 *   turned into the same plain shape (CommitEvent__Output) in one step.
 * - proto-loader encodes a response by copying the plain acks into protobufjs
 *   messages (fromObject) and building a Writer's list of operations, one
 *   object per field. Here the acks are written straight into one Buffer.
 *
 * In the bench those copies were a third of the bytes the gateway allocated
 * per event (bench/ingest-path.ts, docs/benchmarks.md). test/server/test-wire.ts
 * checks both against proto-loader's codecs on generated messages.
 */

/** The service definition of the server: proto-loader's, with these codecs. */
export function withWireCodecs(service: ServiceDefinition): ServiceDefinition {
  const { Commit, CommitStream } = service;
  return {
    ...service,
    Commit: { ...Commit, requestDeserialize: decodeCommitRequest, responseSerialize: encodeAckResponse },
    CommitStream: { ...CommitStream, requestDeserialize: decodeCommitRequest, responseSerialize: encodeAckResponse },
  };
}

// ---- requests: CommitRequest and CommitStreamRequest (both `repeated CommitEvent events = 1`)

const root = new Root();
// As proto-loader's includeDirs: our protos from proto/, google/protobuf/* from protobufjs's bundled copies.
const resolveBundled = root.resolvePath.bind(root);
root.resolvePath = (origin, target) => {
  const local = path.join(PROTO_DIR, target);
  return existsSync(local) ? local : resolveBundled(origin, target);
};
root.loadSync(COMMITLOG_PROTO, { keepCase: false });
root.resolveAll();
const requestType: Type = root.lookupType('commitlog.v1.CommitRequest');
// The codecs here are written for these messages as they are; a field added to the proto must be added here too.
expectFields('commitlog.v1.CommitRequest', ['1 events commitlog.v1.CommitEvent repeated']);
expectFields('commitlog.v1.CommitStreamRequest', ['1 events commitlog.v1.CommitEvent repeated']);
expectFields('commitlog.v1.CommitEvent', [
  '1 id string',
  '2 action commitlog.v1.Action',
  '3 bucket string',
  '4 key bytes',
  '5 value bytes',
  '6 contentType string',
  '7 metadata string map',
  '8 commitTime google.protobuf.Timestamp',
  '9 topic string',
]);
expectFields('commitlog.v1.CommitResponse', ['1 acks commitlog.v1.Ack repeated']);
expectFields('commitlog.v1.CommitStreamResponse', ['1 acks commitlog.v1.Ack repeated']);
expectFields('commitlog.v1.Ack', [
  '1 id string',
  '2 outcome commitlog.v1.Outcome',
  '3 topic string',
  '4 partition int32',
  '5 offset int64',
  '6 firstOutcome commitlog.v1.Outcome',
  '7 code int32',
  '8 message string',
]);
/** Action numbers to names, as proto-loader's `enums: String` yields them; unknown numbers stay numbers. */
const ACTION_NAMES = root.lookupEnum('commitlog.v1.Action').valuesById;
/** An absent bytes field (protobufjs's default is an empty array, not a Buffer). Never written to. */
const NO_BYTES = Buffer.alloc(0);

interface DecodedEvent {
  id: string;
  action: number;
  bucket: string;
  key: Buffer;
  value: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  commitTime: { seconds: number | { toString(): string }; nanos: number } | null;
  topic: string;
}

function expectFields(name: string, expected: string[]): void {
  const fields = root
    .lookupType(name)
    .fieldsArray.map(
      (f) =>
        `${f.id} ${f.name} ${f.resolvedType?.fullName.slice(1) ?? f.type}${f.repeated ? ' repeated' : ''}${f.map ? ' map' : ''}`,
    );
  if (fields.join(', ') !== expected.join(', ')) {
    throw new Error(
      `src/server/wire.ts is written for ${name} {${expected.join(', ')}}; the proto has {${fields.join(', ')}}`,
    );
  }
}

/** A CommitRequest or CommitStreamRequest as proto-loader's deserializer would yield it. */
export function decodeCommitRequest(bytes: Buffer): CommitRequest__Output {
  const decoded = (requestType.decode(bytes) as Message & { events: DecodedEvent[] }).events;
  const events = new Array<CommitEvent__Output>(decoded.length);
  for (let i = 0; i < decoded.length; i++) events[i] = toEvent(decoded[i]);
  return { events };
}

function toEvent(m: DecodedEvent): CommitEvent__Output {
  const time = m.commitTime;
  return {
    id: m.id,
    action: (ACTION_NAMES[m.action] ?? m.action) as CommitEvent__Output['action'],
    bucket: m.bucket,
    key: m.key.length === 0 ? NO_BYTES : m.key,
    value: m.value.length === 0 ? NO_BYTES : m.value,
    contentType: m.contentType,
    // protobufjs gives each decoded message a map object of its own; nothing writes to it.
    metadata: m.metadata,
    commitTime: time === null ? null : { seconds: time.seconds.toString(), nanos: time.nanos },
    topic: m.topic,
  };
}

// ---- responses: CommitResponse and CommitStreamResponse (both `repeated Ack acks = 1`)

const OUTCOME_NUMBERS: Readonly<Record<string, number>> = {
  OUTCOME_UNSPECIFIED: 0,
  OUTCOME_DELIVERED: 1,
  OUTCOME_SPILLED: 2,
  OUTCOME_DUPLICATE: 3,
  OUTCOME_DEAD_LETTERED: 4,
  OUTCOME_REJECTED: 5,
};

/** Field keys, (field number << 3) | wire type: 0 varint, 2 length-delimited. */
const KEY = {
  acks: (1 << 3) | 2,
  id: (1 << 3) | 2,
  outcome: 2 << 3,
  topic: (3 << 3) | 2,
  partition: 4 << 3,
  offset: 5 << 3,
  firstOutcome: 6 << 3,
  code: 7 << 3,
  message: (8 << 3) | 2,
} as const;

/**
 * A CommitResponse or CommitStreamResponse, in one Buffer: the same bytes as
 * proto-loader's serializer, which writes every field the ack object has
 * (zeros and empty strings too, as a client reading with proto-loader's
 * `defaults: false` expects: `partition: 0` is there) and leaves out those
 * that are undefined or null.
 */
export function encodeAckResponse(response: { acks?: Ack[] | null }): Buffer {
  const acks = response.acks ?? [];
  // First pass: each ack's length, and its strings' UTF-8 lengths (three per ack), so the second pass only writes.
  const ackLengths = new Array<number>(acks.length);
  const stringLengths = new Array<number>(acks.length * 3);
  let total = 0;
  for (let i = 0; i < acks.length; i++) {
    const ack = acks[i];
    let length = 0;
    length += stringField(ack.id, stringLengths, i * 3);
    length += int32Field(enumNumber(ack.outcome));
    length += stringField(ack.topic, stringLengths, i * 3 + 1);
    length += int32Field(ack.partition);
    length += int64Field(ack.offset);
    length += int32Field(enumNumber(ack.firstOutcome));
    length += int32Field(ack.code);
    length += stringField(ack.message, stringLengths, i * 3 + 2);
    ackLengths[i] = length;
    total += 1 + varintLength(length) + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < acks.length; i++) {
    const ack = acks[i];
    out[at++] = KEY.acks;
    at = writeVarint(out, at, ackLengths[i]);
    at = writeString(out, at, KEY.id, ack.id, stringLengths[i * 3]);
    at = writeInt32(out, at, KEY.outcome, enumNumber(ack.outcome));
    at = writeString(out, at, KEY.topic, ack.topic, stringLengths[i * 3 + 1]);
    at = writeInt32(out, at, KEY.partition, ack.partition);
    at = writeInt64(out, at, KEY.offset, ack.offset);
    at = writeInt32(out, at, KEY.firstOutcome, enumNumber(ack.firstOutcome));
    at = writeInt32(out, at, KEY.code, ack.code);
    at = writeString(out, at, KEY.message, ack.message, stringLengths[i * 3 + 2]);
  }
  if (at !== total) throw new Error(`encodeAckResponse: wrote ${at} bytes of ${total}`);
  return out;
}

type Int64 = number | string | { toString(): string };

/** Every key here is one byte: field numbers up to 15. */
function stringField(value: string | null | undefined, lengths: number[], slot: number): number {
  if (value === undefined || value === null) return 0;
  const bytes = Buffer.byteLength(value);
  lengths[slot] = bytes;
  return 1 + varintLength(bytes) + bytes;
}

/** An outcome's number; undefined when the field is absent. */
function enumNumber(value: string | number | null | undefined): number | undefined {
  if (value === undefined || value === null || typeof value === 'number') return value ?? undefined;
  const number = OUTCOME_NUMBERS[value];
  if (number === undefined) throw new Error(`encodeAckResponse: unknown outcome ${value}`);
  return number;
}

/** proto3 int32 (and enums): a negative value is sign-extended to 64 bits, ten bytes. */
function int32Field(value: number | null | undefined): number {
  if (value === undefined || value === null) return 0;
  const int = value | 0;
  return 1 + (int < 0 ? 10 : varintLength(int));
}

function int64Field(value: Int64 | null | undefined): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return 1 + varintLength(value);
  return 1 + bigVarintLength(int64Bits(value));
}

/** The int64's two's-complement bits, as protobufjs writes a Long. */
function int64Bits(value: Int64): bigint {
  return BigInt.asUintN(64, BigInt(typeof value === 'number' ? Math.trunc(value) : value.toString()));
}

/** Bytes of a varint of a non-negative safe integer. */
function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

function bigVarintLength(value: bigint): number {
  let length = 1;
  while (value >= 128n) {
    value >>= 7n;
    length++;
  }
  return length;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  while (value >= 128) {
    out[at++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

function writeBigVarint(out: Buffer, at: number, value: bigint): number {
  while (value >= 128n) {
    out[at++] = Number(value & 127n) | 128;
    value >>= 7n;
  }
  out[at++] = Number(value);
  return at;
}

function writeString(out: Buffer, at: number, key: number, value: string | null | undefined, bytes: number): number {
  if (value === undefined || value === null) return at;
  out[at++] = key;
  at = writeVarint(out, at, bytes);
  return at + out.write(value, at, bytes, 'utf8');
}

function writeInt32(out: Buffer, at: number, key: number, value: number | null | undefined): number {
  if (value === undefined || value === null) return at;
  const int = value | 0;
  out[at++] = key;
  return int < 0 ? writeBigVarint(out, at, BigInt.asUintN(64, BigInt(int))) : writeVarint(out, at, int);
}

function writeInt64(out: Buffer, at: number, key: number, value: Int64 | null | undefined): number {
  if (value === undefined || value === null) return at;
  out[at++] = key;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return writeVarint(out, at, value);
  return writeBigVarint(out, at, int64Bits(value));
}
