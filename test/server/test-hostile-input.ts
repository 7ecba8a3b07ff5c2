import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import type { ConfigInput } from '../../src/config/schema';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import { loadCommitlogProto } from '../../src/server/proto';
import { readTopic, startGateway, storeEvent, uniqueTopic, type TestGateway } from '../common';
import { COMMIT_STREAM, decodeAcks, frame, rawCall, type RawResult } from './raw-grpc';

const commitRequest = loadCommitlogProto().commitlog.v1.CommitLogService.service.Commit;
/** The bytes grpc-js would send for a CommitRequest (what the frame carries). */
const encode = (events: CommitEvent[]): Buffer => commitRequest.requestSerialize({ events });

const LIMITS = {
  maxIdBytes: 16,
  maxKeyBytes: 24,
  maxValueBytes: 64,
  maxBucketBytes: 8,
  maxContentTypeBytes: 12,
  maxMetadataEntries: 2,
  maxMetadataBytes: 20,
  maxEventsPerMessage: 4,
  maxCommitTimeAheadMs: 60_000,
} satisfies ConfigInput['limits'];

type Case = readonly [name: string, under: Partial<CommitEvent>, over: Partial<CommitEvent>, message: string];

/** Each per-event limit, at the limit (accepted) and one past it (REJECTED, message naming field and setting). */
const CASES: Case[] = [
  ['id', { id: 'i'.repeat(16) }, { id: 'i'.repeat(17) }, 'id: 17 bytes, more than limits.maxIdBytes (16)'],
  // A multi-byte character counts its UTF-8 bytes.
  ['id (UTF-8)', { id: 'é'.repeat(8) }, { id: `${'é'.repeat(8)}x` }, 'id: 17 bytes, more than limits.maxIdBytes (16)'],
  [
    'key',
    { key: Buffer.alloc(24, 1) },
    { key: Buffer.alloc(25, 1) },
    'key: 25 bytes, more than limits.maxKeyBytes (24)',
  ],
  [
    'value',
    { value: Buffer.alloc(64, 2) },
    { value: Buffer.alloc(65, 2) },
    'value: 65 bytes, more than limits.maxValueBytes (64)',
  ],
  [
    'bucket',
    { bucket: 'b'.repeat(8) },
    { bucket: 'b'.repeat(9) },
    'bucket: 9 bytes, more than limits.maxBucketBytes (8)',
  ],
  [
    'content_type',
    { contentType: 'c'.repeat(12) },
    { contentType: 'c'.repeat(13) },
    'content_type: 13 bytes, more than limits.maxContentTypeBytes (12)',
  ],
  [
    'metadata entries',
    { metadata: { a: '1', b: '2' } },
    { metadata: { a: '1', b: '2', c: '3' } },
    'metadata: 3 entries, more than limits.maxMetadataEntries (2)',
  ],
  [
    'metadata bytes',
    { metadata: { name: 'v'.repeat(16) } },
    { metadata: { name: 'v'.repeat(17) } },
    'metadata: 21 bytes, more than limits.maxMetadataBytes (20)',
  ],
  [
    'metadata name',
    { metadata: { 'x-trace': 'v' } },
    { metadata: { 'commitlog-event-id': 'forged' } },
    'metadata["commitlog-event-id"]: names starting with "commitlog-" are reserved',
  ],
  [
    'topic syntax',
    { topic: '' }, // the topic is filled in per run: 249 legal characters
    { topic: `${'t'.repeat(249)}x` },
    'topic: not a legal Kafka topic name (1-249 characters of [a-zA-Z0-9._-])',
  ],
  ['topic characters', {}, { topic: 'orders/eu' }, 'topic: not a legal Kafka topic name'],
  [
    'commit_time ahead',
    { commitTime: { seconds: String(Math.floor(Date.now() / 1000) + 30), nanos: 0 } },
    // Computed when the file loads, minutes before this case runs in a full suite: far enough ahead to stay past the limit.
    { commitTime: { seconds: String(Math.floor(Date.now() / 1000) + 1800), nanos: 0 } },
    'more than limits.maxCommitTimeAheadMs (60000)',
  ],
  [
    'commit_time range',
    { commitTime: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 999_999_999 } },
    { commitTime: { seconds: '-1', nanos: 0 } },
    'commit_time: seconds must be >= 0 and nanos within 0..999999999',
  ],
  ['empty id', {}, { id: '' }, 'id: required, must not be empty'],
  ['empty key', {}, { key: Buffer.alloc(0) }, 'key: required, must not be empty'],
  ['action', {}, { action: 'ACTION_UNSPECIFIED' }, 'action: must be ACTION_STORE or ACTION_DELETE'],
];

describe('hostile input: every per-event limit at and past its value (real gateway and broker)', () => {
  let gw: TestGateway;
  const topic = uniqueTopic('limits');
  // A legal name of the longest length Kafka allows, unique per run.
  const longTopic = `${topic}-${'t'.repeat(249 - topic.length - 1)}`;
  before(async () => {
    gw = await startGateway({ routing: { defaultTopic: topic }, limits: LIMITS });
  });
  after(() => gw.close());

  it('accepts and delivers each event at the limit, byte for byte; rejects the one past it naming field and limit', async () => {
    const delivered: CommitEvent[] = [];
    for (const [name, under, over, message] of CASES) {
      const base = (id: string): CommitEvent => storeEvent(id, `key-${id}`, `value-${id}`);
      const n = CASES.findIndex((c) => c[0] === name);
      const good: CommitEvent = { ...base(`u-${n}`), ...under };
      if (name === 'topic syntax') good.topic = longTopic;
      const bad: CommitEvent = { ...base(`o-${n}`), ...over };
      const acks = await gw.commit([good, bad]);
      expect(
        acks.map((a) => a.outcome),
        name,
      ).to.deep.equal(['OUTCOME_DELIVERED', 'OUTCOME_REJECTED']);
      expect(acks[1].code, name).to.equal(Status.INVALID_ARGUMENT);
      expect(acks[1].message, name).to.contain(message);
      if (good.topic !== longTopic) delivered.push(good);
    }
    const records = await readTopic(topic, delivered.length);
    expect(records).to.have.length(delivered.length);
    const byId = new Map(records.map((r) => [r.headers['commitlog-event-id'], r]));
    for (const event of delivered) {
      const record = byId.get(event.id!);
      expect(record, event.id).to.not.equal(undefined);
      expect(Buffer.from(record!.key).equals(Buffer.from(event.key as Buffer)), event.id).to.equal(true);
      expect(record!.value?.equals(Buffer.from(event.value as Buffer)), event.id).to.equal(true);
      for (const [name, value] of Object.entries(event.metadata ?? {})) expect(record!.headers[name]).to.equal(value);
      if (event.contentType) expect(record!.headers['commitlog-content-type']).to.equal(event.contentType);
    }
    const long = await readTopic(longTopic, 1);
    expect(long.map((r) => r.headers['commitlog-event-id'])).to.have.length(1);
  });

  it('delivers a message of maxEventsPerMessage events; one more rejects every event of the message', async () => {
    const events = (n: number, prefix: string): CommitEvent[] =>
      Array.from({ length: n }, (_, i) => storeEvent(`${prefix}-${i}`, `k${i}`, 'v'));
    const atLimit = await gw.commit(events(4, 'm4'));
    expect(atLimit.map((a) => a.outcome)).to.deep.equal(Array(4).fill('OUTCOME_DELIVERED'));
    const past = await gw.commit(events(5, 'm5'));
    expect(past.map((a) => [a.outcome, a.code])).to.deep.equal(Array(5).fill(['OUTCOME_REJECTED', 3]));
    expect(past[0].message).to.equal('events: 5 in one message, more than limits.maxEventsPerMessage (4)');
  });

  it('takes a message of exactly maxMessageBytes and refuses one byte more RESOURCE_EXHAUSTED', async () => {
    const msgTopic = uniqueTopic('max-message');
    const small = await startGateway({ routing: { defaultTopic: msgTopic }, limits: { maxMessageBytes: 1024 } });
    try {
      // Grow the value until the encoded request is exactly 1024 bytes.
      const sized = (id: string, bytes: number): CommitEvent => {
        let value = 0;
        while (encode([storeEvent(id, 'k', 'x'.repeat(value))]).length < bytes) value++;
        return storeEvent(id, 'k', 'x'.repeat(value));
      };
      const fits = sized('fits', 1024);
      expect(encode([fits]).length).to.equal(1024);
      expect((await small.commit([fits])).map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED']);
      const tooBig = sized('too-big', 1025);
      expect(encode([tooBig]).length).to.equal(1025);
      const refused = await small.commit([tooBig]).then(
        () => 'accepted',
        (err: { code: number }) => err.code,
      );
      expect(refused).to.equal(Status.RESOURCE_EXHAUSTED);
      expect((await readTopic(msgTopic, 1)).map((r) => r.headers['commitlog-event-id'])).to.deep.equal(['fits']);
    } finally {
      await small.close();
    }
  });
});

describe('hostile input: raw HTTP/2 frames', () => {
  let gw: TestGateway;
  const topic = uniqueTopic('raw');
  before(async () => {
    gw = await startGateway({ routing: { defaultTopic: topic }, limits: { maxMessageBytes: 64 * 1024 } });
  });
  after(() => gw.close());

  const valid = (id: string): Buffer => encode([storeEvent(id, id, `value-${id}`)]);
  const statusOf = (r: RawResult): [number | undefined, string] => [r.grpcStatus, r.grpcMessage];

  it('answers each malformed request with a clear status, and keeps delivering for a normal client', async () => {
    const address = gw.gateway.address;
    const accepted = await rawCall(address, frame(valid('raw-before')));
    expect(accepted.grpcStatus).to.equal(Status.OK);

    // An event whose id (field 1, a string: wire type 2) comes as a varint (wire type 0):
    // protobufjs skips a field of the wrong wire type, so the event has no id.
    const wrongWireTypes = await rawCall(address, frame(Buffer.from([0x0a, 0x02, 0x08, 0x05])));
    expect(wrongWireTypes.grpcStatus).to.equal(Status.OK);
    expect(decodeAcks(wrongWireTypes).map((a) => [a.outcome, a.code, a.message])).to.deep.equal([
      ['OUTCOME_REJECTED', Status.INVALID_ARGUMENT, 'id: required, must not be empty'],
    ]);
    // The events field declares 100 bytes and carries 3.
    const lyingLength = Buffer.from([0x0a, 0x64, 0x0a, 0x01, 0x41]);
    // Field number 0 is illegal in protobuf.
    const fieldZero = Buffer.from([0x00, 0x01, 0x02, 0x03]);
    const cases: Array<[string, Buffer | Buffer[], RawCallOpts, [number, string]]> = [
      ['malformed protobuf (length past the end)', frame(lyingLength), {}, [Status.INTERNAL, 'Error deserializing']],
      ['illegal field number 0', frame(fieldZero), {}, [Status.INTERNAL, 'Error deserializing']],
      [
        'random bytes declaring 4 GiB',
        Buffer.from('ffffffffff0123456789', 'hex'),
        {},
        [Status.RESOURCE_EXHAUSTED, 'larger than max'],
      ],
      [
        'a frame declaring more than it sends, then half-close',
        frame(valid('raw-cut').subarray(0, 10), { declaredLength: valid('raw-cut').length }),
        {},
        [Status.UNIMPLEMENTED, 'no request message'],
      ],
      ['a 3-byte frame header, then half-close', Buffer.from([0, 0, 0]), {}, [Status.UNIMPLEMENTED, 'no request']],
      [
        'over maxMessageBytes, declared and sent',
        frame(encode([storeEvent('big', 'k', 'x'.repeat(70 * 1024))])),
        {},
        [Status.RESOURCE_EXHAUSTED, 'larger than max'],
      ],
      [
        'two messages on a unary call',
        [frame(valid('two-1')), frame(valid('two-2'))],
        {},
        [Status.UNIMPLEMENTED, 'second request message'],
      ],
      [
        'gzip flag with bytes that are not gzip',
        frame(Buffer.from('not gzip at all'), { compressed: true }),
        { headers: { 'grpc-encoding': 'gzip' } },
        [Status.INTERNAL, 'decompress'],
      ],
      [
        'an encoding grpc-js does not know',
        frame(valid('brotli'), { compressed: true }),
        { headers: { 'grpc-encoding': 'br' } },
        [Status.UNIMPLEMENTED, 'br'],
      ],
      ['a method that does not exist', frame(valid('nope')), { path: '/commitlog.v1.Nope/Commit' }, [12, '']],
    ];
    for (const [name, body, options, [code, text]] of cases) {
      const result = await rawCall(address, body, options);
      expect(statusOf(result)[0], `${name}: ${result.grpcMessage}`).to.equal(code);
      expect(result.grpcMessage, name).to.contain(text);
    }

    // A compressed, well-formed request is taken as any other.
    const gz = await rawCall(address, frame(gzipSync(valid('raw-gzip')), { compressed: true }), {
      headers: { 'grpc-encoding': 'gzip' },
    });
    expect(gz.grpcStatus).to.equal(Status.OK);

    // On a stream, a bad message ends that stream; the events before it are acked and delivered.
    const stream = await rawCall(address, [frame(valid('stream-ok')), frame(lyingLength)], { path: COMMIT_STREAM });
    expect(statusOf(stream)[0]).to.equal(Status.INTERNAL);

    // Not gRPC at all: grpc-js answers HTTP 415 Unsupported Media Type, no gRPC status.
    const wrongType = await rawCall(address, Buffer.from('{"events":[]}'), {
      headers: { 'content-type': 'application/json' },
    });
    expect([wrongType.httpStatus, wrongType.grpcStatus]).to.deep.equal([415, undefined]);

    expect((await gw.commit([storeEvent('raw-after', 'k', 'v')])).map((a) => a.outcome)).to.deep.equal([
      'OUTCOME_DELIVERED',
    ]);
    const ids = (await readTopic(topic, 4)).map((r) => r.headers['commitlog-event-id']).sort();
    expect(ids).to.deep.equal(['raw-after', 'raw-before', 'raw-gzip', 'stream-ok']);
  });

  it('answers many bad requests multiplexed on one connection, each on its own stream', async () => {
    const session = http2.connect(`http://${gw.gateway.address}`);
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          rawCall(session, i % 2 === 0 ? frame(Buffer.from([0x0a, 0x64, 0x0a, 0x01, i])) : frame(valid(`mux-${i}`))),
        ),
      );
      const codes = results.map((r) => r.grpcStatus);
      expect(codes.filter((c) => c === Status.INTERNAL)).to.have.length(25);
      expect(codes.filter((c) => c === Status.OK)).to.have.length(25);
    } finally {
      session.close();
    }
  });
});

type RawCallOpts = Parameters<typeof rawCall>[2];
