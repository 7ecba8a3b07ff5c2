import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import { loadCommitlogProto } from '../../src/server/proto';
import { readTopic, startGateway, uniqueTopic, type TestGateway } from '../common';
import { COMMIT, COMMIT_STREAM, frame, rawCall } from './raw-grpc';

/**
 * Property tests against the real gateway and broker, bounded in runs and
 * time so they fit CI (FUZZ_RUNS / FUZZ_SECONDS raise them for a longer hunt).
 * A failure prints fast-check's seed and path: rerun with them to replay it.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);

const LIMITS = {
  maxIdBytes: 24,
  maxKeyBytes: 16,
  maxValueBytes: 48,
  maxBucketBytes: 8,
  maxContentTypeBytes: 10,
  maxMetadataEntries: 3,
  maxMetadataBytes: 32,
  maxEventsPerMessage: 6,
  maxCommitTimeAheadMs: 3_600_000,
};

const commit = loadCommitlogProto().commitlog.v1.CommitLogService.service.Commit;
const bytes = (s: string): number => Buffer.byteLength(s);

/** The fields an event breaks, by the documented rules (docs/limits.md); empty: it must be taken. */
function brokenFields(e: Required<Pick<CommitEvent, 'id' | 'bucket' | 'contentType' | 'topic'>> & FuzzEvent): string[] {
  const broken: string[] = [];
  if (e.id === '' || bytes(e.id) > LIMITS.maxIdBytes) broken.push('id');
  if (e.key.length === 0 || e.key.length > LIMITS.maxKeyBytes) broken.push('key');
  if (e.action === 'ACTION_UNSPECIFIED') broken.push('action');
  if (e.action === 'ACTION_STORE' && e.value.length > LIMITS.maxValueBytes) broken.push('value');
  if (bytes(e.bucket) > LIMITS.maxBucketBytes) broken.push('bucket');
  if (bytes(e.contentType) > LIMITS.maxContentTypeBytes) broken.push('content_type');
  if (e.topic !== '' && !/^[a-zA-Z0-9._-]{1,249}$/.test(e.topic)) broken.push('topic');
  const entries = Object.entries(e.metadata);
  const metadataBytes = entries.reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0);
  if (
    entries.length > LIMITS.maxMetadataEntries ||
    metadataBytes > LIMITS.maxMetadataBytes ||
    entries.some(([k]) => k === '' || k.startsWith('commitlog-'))
  ) {
    broken.push('metadata');
  }
  const time = e.commitTime;
  if (
    time !== undefined &&
    (Number(time.seconds) < 0 ||
      time.nanos > 999_999_999 ||
      Number(time.seconds) * 1000 - Date.now() > LIMITS.maxCommitTimeAheadMs)
  ) {
    broken.push('commit_time');
  }
  return broken;
}

interface FuzzEvent {
  id: string;
  action: 'ACTION_STORE' | 'ACTION_DELETE' | 'ACTION_UNSPECIFIED';
  bucket: string;
  key: Buffer;
  value: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  commitTime?: { seconds: string; nanos: number };
  topic: string;
}

const text = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength });

describe('fuzz: event fields through the real gateway (fast-check)', () => {
  let gw: TestGateway;
  const topic = uniqueTopic('fuzz');
  const otherTopic = uniqueTopic('fuzz-own');
  let serial = 0;
  let warmed = 0;
  before(async () => {
    gw = await startGateway({ routing: { defaultTopic: topic }, limits: LIMITS });
    // Both topics exist before the run: the first record to a topic the broker has yet to
    // create can be spilled (acked SPILLED, replayed later) rather than delivered.
    const warm = await gw.commit([
      { id: 'warm-default', action: 'ACTION_STORE', key: Buffer.from('k') },
      { id: 'warm-own', action: 'ACTION_STORE', key: Buffer.from('k'), topic: otherTopic },
    ]);
    warmed = warm.filter((a) => a.outcome === 'OUTCOME_DELIVERED' || a.outcome === 'OUTCOME_SPILLED').length;
  });
  after(() => gw.close());

  /** Usually within the limits, sometimes anything: so that both outcomes are common. */
  const mostly = <T>(valid: fc.Arbitrary<T>, wild: fc.Arbitrary<T>): fc.Arbitrary<T> =>
    fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: wild });
  const event: fc.Arbitrary<FuzzEvent> = fc.record({
    // The tail of the id; a number unique per call goes in front when it is sent (a retry is
    // DUPLICATE, tested elsewhere), except for an empty id.
    id: mostly(text(6), fc.oneof(fc.constant(''), text(30))),
    action: mostly(fc.constantFrom('ACTION_STORE', 'ACTION_DELETE'), fc.constant('ACTION_UNSPECIFIED')),
    bucket: mostly(text(2), text(12)),
    key: mostly(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.uint8Array({ maxLength: 20 })).map((a) =>
      Buffer.from(a),
    ),
    value: mostly(fc.uint8Array({ maxLength: 48 }), fc.uint8Array({ maxLength: 60 })).map((a) => Buffer.from(a)),
    contentType: mostly(text(2), text(14)),
    metadata: mostly(
      fc.dictionary(text(4), text(4), { maxKeys: 2 }),
      fc.dictionary(fc.oneof(text(12), fc.constant('commitlog-x'), fc.constant('')), text(14), { maxKeys: 5 }),
    ),
    // Recent commit times (an old one is delivered, then soon deleted by the topic's time-based
    // retention); wild ones: negative, nanos out of range, hours or centuries ahead.
    commitTime: fc.option(
      mostly(
        fc.record({
          seconds: fc.integer({ min: -86_400, max: 1_800 }).map((s) => String(Math.floor(Date.now() / 1000) + s)),
          nanos: fc.nat(999_999_999),
        }),
        fc.oneof(
          fc.record({ seconds: fc.integer({ min: -5, max: -1 }).map(String), nanos: fc.nat(999_999_999) }),
          fc.record({
            seconds: fc.constant(String(Math.floor(Date.now() / 1000))),
            nanos: fc.integer({ min: 1e9, max: 2e9 }),
          }),
          fc.record({
            seconds: fc.integer({ min: 7_200, max: 4e9 }).map((s) => String(Math.floor(Date.now() / 1000) + s)),
            nanos: fc.nat(999_999_999),
          }),
        ),
      ),
      { nil: undefined },
    ),
    topic: mostly(fc.constantFrom('', otherTopic), fc.constantFrom('no/slashes', 'x'.repeat(250), '')),
  });

  it('gives every event exactly one outcome: taken ones are in Kafka byte for byte, rejected ones name their field', async () => {
    const delivered = new Map<string, FuzzEvent>();
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: LIMITS.maxEventsPerMessage }), async (drawn) => {
        const events = drawn.map((e) => ({ ...e, id: e.id === '' ? '' : `${serial++}-${e.id}` }));
        const acks = await gw.commit(events);
        expect(acks.map((a) => a.id)).to.deep.equal(events.map((e) => e.id));
        events.forEach((e, i) => {
          const ack = acks[i];
          const broken = brokenFields(e);
          if (broken.length === 0) {
            // Taken: delivered, or (Kafka slow to take it) spilled and replayed; both durable.
            expect(['OUTCOME_DELIVERED', 'OUTCOME_SPILLED'], `${JSON.stringify(e)}: ${ack.message}`).to.include(
              ack.outcome,
            );
            delivered.set(e.id, e);
          } else {
            expect(ack.outcome, JSON.stringify(e)).to.equal('OUTCOME_REJECTED');
            rejected++;
            expect(ack.code).to.equal(Status.INVALID_ARGUMENT);
            const field = /^([a-z_]+)/.exec(ack.message)?.[1];
            expect(broken, `${ack.message} for ${JSON.stringify(e)}`).to.include(field);
          }
        });
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: SECONDS * 1000 },
    );
    // Both outcomes were exercised.
    expect(delivered.size).to.be.greaterThan(RUNS / 4);
    expect(rejected).to.be.greaterThan(RUNS / 4);

    const mine = [...delivered.values()];
    const toDefault = mine.filter((e) => e.topic === '').length;
    const records = [
      ...(await readTopic(topic, toDefault + 1)),
      ...(await readTopic(otherTopic, mine.length - toDefault + 1)),
    ].filter((r) => !r.headers['commitlog-event-id'].startsWith('warm-'));
    expect(warmed).to.equal(2);
    expect(records).to.have.length(mine.length);
    for (const record of records) {
      const e = delivered.get(record.headers['commitlog-event-id']);
      expect(e, record.headers['commitlog-event-id']).to.not.equal(undefined);
      expect(record.key).to.equal(e!.key.toString());
      if (e!.action === 'ACTION_DELETE') expect(record.value).to.equal(null);
      else expect(Buffer.compare(record.value ?? Buffer.alloc(0), e!.value)).to.equal(0);
      for (const [name, value] of Object.entries(e!.metadata)) expect(record.headers[name]).to.equal(value);
      if (e!.bucket !== '') expect(record.headers['commitlog-bucket']).to.equal(e!.bucket);
      if (e!.contentType !== '') expect(record.headers['commitlog-content-type']).to.equal(e!.contentType);
    }
  });
});

describe('fuzz: raw random frames (fast-check)', () => {
  let gw: TestGateway;
  const topic = uniqueTopic('fuzz-raw');
  before(async () => {
    // Events may not pick their topic: random bytes that decode to a topic name create no topic.
    gw = await startGateway({ routing: { defaultTopic: topic, allowEventTopic: false } });
  });
  after(() => gw.close());

  const ALLOWED = [Status.OK, Status.INTERNAL, Status.UNIMPLEMENTED, Status.RESOURCE_EXHAUSTED];

  it('answers any bytes with a status; acks only what it took, and what it took is in Kafka', async () => {
    const delivered = new Set<string>();
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 300 }).map((b) => frame(Buffer.from(b))),
      // A valid event followed by random bytes in the same message.
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.uint8Array({ maxLength: 64 })).map(([key, tail]) =>
        frame(
          Buffer.concat([
            commit.requestSerialize({
              events: [
                { id: `raw-${Buffer.from(key).toString('hex')}`, action: 'ACTION_STORE', key: Buffer.from(key) },
              ],
            }),
            Buffer.from(tail),
          ]),
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom(COMMIT, COMMIT_STREAM), fc.boolean(), async (bytes, path, compressed) => {
        const result = await rawCall(gw.gateway.address, bytes, {
          path,
          headers: compressed ? { 'grpc-encoding': 'gzip' } : {},
          timeoutMs: 10_000,
        });
        expect(ALLOWED, `${result.grpcStatus} ${result.grpcMessage}`).to.include(result.grpcStatus);
        // Every response message carries acks; each one names an outcome.
        let rest = result.data;
        while (rest.length >= 5) {
          const length = rest.readUInt32BE(1);
          const response = commit.responseDeserialize(rest.subarray(5, 5 + length));
          for (const ack of response.acks) {
            expect(['OUTCOME_DELIVERED', 'OUTCOME_REJECTED', 'OUTCOME_DUPLICATE']).to.include(ack.outcome);
            if (ack.outcome === 'OUTCOME_DELIVERED') delivered.add(ack.id);
          }
          rest = rest.subarray(5 + length);
        }
      }),
      { numRuns: RUNS * 3, interruptAfterTimeLimit: SECONDS * 1000 },
    );
    const normal = await gw.commit([{ id: 'fuzz-raw-normal', action: 'ACTION_STORE', key: Buffer.from('k') }]);
    expect(normal.map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED']);
    delivered.add('fuzz-raw-normal');
    const ids = new Set((await readTopic(topic, delivered.size)).map((r) => r.headers['commitlog-event-id']));
    for (const id of delivered) expect(ids.has(id), id).to.equal(true);
  });
});
