import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/load';
import type { ConfigInput } from '../../src/config/schema';
import type { CommitEvent__Output } from '../../src/gen/commitlog/v1/CommitEvent';
import { EventValidator, type Validated } from '../../src/ingest/validate';

function validator(settings: ConfigInput = {}): EventValidator {
  const config = loadConfig({ base: settings });
  return new EventValidator(config.limits, config.routing);
}

/** A decoded event as proto-loader yields it (every field present). */
function decoded(fields: Partial<CommitEvent__Output> = {}): CommitEvent__Output {
  return {
    id: 'e-1',
    action: 'ACTION_STORE',
    bucket: 'users',
    key: Buffer.from('alice'),
    value: Buffer.from('v'),
    contentType: '',
    metadata: {},
    commitTime: null,
    topic: '',
    ...fields,
  };
}

function rejection(result: Validated): [number, string] {
  if (result.ok) throw new Error('expected a rejection');
  if (result.outcome.kind !== 'rejected') throw new Error(`expected rejected, got ${result.outcome.kind}`);
  return [result.outcome.code, result.outcome.message];
}

describe('EventValidator', () => {
  it('builds the Kafka record: key, value, headers in order, timestamp from commit_time', () => {
    const result = validator().validate(
      decoded({
        contentType: 'text/plain',
        metadata: { b: '2', a: '1' },
        commitTime: { seconds: '1700000000', nanos: 999_999_999 },
      }),
    );
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    const { receivedAt, ...record } = result.record;
    expect(receivedAt).to.be.within(Date.now() - 1000, Date.now());
    expect(record).to.deep.equal({
      id: 'e-1',
      topic: 'commits',
      key: Buffer.from('alice'),
      value: Buffer.from('v'),
      headers: [
        { 'commitlog-event-id': 'e-1' },
        { 'commitlog-action': 'STORE' },
        { 'commitlog-bucket': 'users' },
        { 'commitlog-content-type': 'text/plain' },
        { b: '2' },
        { a: '1' },
      ],
      timestamp: 1_700_000_000_999,
    });
  });

  it('leaves out empty bucket and content type, and makes a DELETE a tombstone', () => {
    const result = validator().validate(
      decoded({ action: 'ACTION_DELETE', bucket: '', value: Buffer.from('x'.repeat(5_000_000)) }),
    );
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.record.value).to.equal(null);
    expect(result.record.headers).to.deep.equal([{ 'commitlog-event-id': 'e-1' }, { 'commitlog-action': 'DELETE' }]);
  });

  it('keys by bucket/key when routing.kafkaKey is bucket_key', () => {
    const result = validator({ routing: { kafkaKey: 'bucket_key' } }).validate(decoded());
    expect(result.ok && result.record.key.toString()).to.equal('users/alice');
  });

  it('names the field and the limit for every kind of invalid event', () => {
    const v = validator({
      limits: {
        maxIdBytes: 4,
        maxKeyBytes: 3,
        maxValueBytes: 2,
        maxBucketBytes: 5,
        maxContentTypeBytes: 3,
        maxMetadataEntries: 1,
        maxMetadataBytes: 4,
      },
    });
    const cases: Array<[Partial<CommitEvent__Output>, string]> = [
      [{ id: '' }, 'id: required, must not be empty'],
      [{ id: 'e-123' }, 'id: 5 bytes, more than limits.maxIdBytes (4)'],
      [{ key: Buffer.alloc(0) }, 'key: required, must not be empty'],
      [{ key: Buffer.from('abcd') }, 'key: 4 bytes, more than limits.maxKeyBytes (3)'],
      [{ key: Buffer.from('k'), action: 'ACTION_UNSPECIFIED' }, 'action: must be ACTION_STORE or ACTION_DELETE'],
      [{ key: Buffer.from('k'), value: Buffer.from('abc') }, 'value: 3 bytes, more than limits.maxValueBytes (2)'],
      [{ key: Buffer.from('k'), bucket: 'tenant' }, 'bucket: 6 bytes, more than limits.maxBucketBytes (5)'],
      [
        { key: Buffer.from('k'), contentType: 'text' },
        'content_type: 4 bytes, more than limits.maxContentTypeBytes (3)',
      ],
      [
        { key: Buffer.from('k'), topic: 'a/b' },
        'topic: not a legal Kafka topic name (1-249 characters of [a-zA-Z0-9._-])',
      ],
      [
        { key: Buffer.from('k'), metadata: { a: '1', b: '2' } },
        'metadata: 2 entries, more than limits.maxMetadataEntries (1)',
      ],
      [{ key: Buffer.from('k'), metadata: { abc: 'de' } }, 'metadata: 5 bytes, more than limits.maxMetadataBytes (4)'],
      [{ key: Buffer.from('k'), metadata: { '': 'x' } }, 'metadata: an entry has an empty name'],
      [
        { key: Buffer.from('k'), commitTime: { seconds: '-1', nanos: 0 } },
        'commit_time: seconds must be >= 0 and nanos within 0..999999999',
      ],
    ];
    for (const [fields, message] of cases) {
      expect(rejection(v.validate(decoded(fields))), message).to.deep.equal([Status.INVALID_ARGUMENT, message]);
    }
  });

  it('refuses a commit_time further ahead of the clock than limits.maxCommitTimeAheadMs; 0 turns the check off', () => {
    const now = Math.floor(Date.now() / 1000);
    const at = (seconds: number) => decoded({ commitTime: { seconds: String(seconds), nanos: 0 } });
    const v = validator({ limits: { maxCommitTimeAheadMs: 60_000 } });
    expect(v.validate(at(now + 30)).ok).to.equal(true);
    const [code, message] = rejection(v.validate(at(now + 3600)));
    expect(code).to.equal(Status.INVALID_ARGUMENT);
    expect(message).to.match(
      /^commit_time: \d+ s since the epoch is \d+ ms ahead of the gateway's clock, more than limits\.maxCommitTimeAheadMs \(60000\)$/,
    );
    expect(validator({ limits: { maxCommitTimeAheadMs: 0 } }).validate(at(now + 3600)).ok).to.equal(true);
    expect(validator().validate(at(now + 7200)).ok).to.equal(false);
  });

  it('refuses an explicit topic with PERMISSION_DENIED when events may not choose one', () => {
    const v = validator({ routing: { allowEventTopic: false } });
    expect(rejection(v.validate(decoded({ topic: 'other' })))[0]).to.equal(Status.PERMISSION_DENIED);
  });
});
