import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { readTopic, startGateway, storeEvent, uniqueTopic, type TestGateway } from '../common';

describe('Commit (unary) against a real broker', () => {
  const topic = uniqueTopic('unary');
  let gw: TestGateway;

  before(async () => {
    gw = await startGateway({ routing: { defaultTopic: topic }, limits: { maxValueBytes: 1000 } });
  });
  after(() => gw.close());

  it('delivers one event and acks it with the coordinates Kafka gave it', async () => {
    const [ack] = await gw.commit([
      storeEvent('one-1', 'alice', '{"name":"Alice"}', {
        bucket: 'users',
        contentType: 'application/json',
        metadata: { 'riak-vclock': 'a85hYGBgzGDKBVIcqZ', source: 'test' },
        commitTime: { seconds: 1_700_000_000, nanos: 123_000_000 },
      }),
    ]);
    expect(ack).to.include({ id: 'one-1', outcome: 'OUTCOME_DELIVERED', topic });
    const [record] = await readTopic(topic, 1);
    expect(record.partition).to.equal(ack.partition);
    expect(String(record.offset)).to.equal(ack.offset);
    expect(record.key).to.equal('alice');
    expect(record.value?.toString()).to.equal('{"name":"Alice"}');
    expect(record.timestamp).to.equal(1_700_000_000_123);
    expect(record.headers).to.deep.equal({
      'commitlog-event-id': 'one-1',
      'commitlog-action': 'STORE',
      'commitlog-bucket': 'users',
      'commitlog-content-type': 'application/json',
      'riak-vclock': 'a85hYGBgzGDKBVIcqZ',
      source: 'test',
    });
  });

  it('settles a batch with one ack per event, in request order, each record where its ack says', async () => {
    const batchTopic = uniqueTopic('unary-batch');
    const events = Array.from({ length: 50 }, (_, i) =>
      storeEvent(`batch-${i}`, `key-${i % 7}`, `value-${i}`, { topic: batchTopic }),
    );
    const acks = await gw.commit(events);
    expect(acks.map((a) => a.id)).to.deep.equal(events.map((e) => e.id));
    expect(acks.every((a) => a.outcome === 'OUTCOME_DELIVERED' && a.topic === batchTopic)).to.equal(true);
    const records = await readTopic(batchTopic, 50);
    expect(records).to.have.length(50);
    for (const ack of acks) {
      const record = records.find((r) => r.partition === ack.partition && String(r.offset) === ack.offset);
      expect(record?.headers['commitlog-event-id'], ack.id).to.equal(ack.id);
    }
  });

  it('turns a DELETE into a tombstone', async () => {
    const deleteTopic = uniqueTopic('unary-delete');
    const acks = await gw.commit([
      storeEvent('del-1', 'bob', 'v1', { topic: deleteTopic }),
      {
        id: 'del-2',
        action: 'ACTION_DELETE',
        bucket: 'users',
        key: Buffer.from('bob'),
        value: Buffer.from('ignored'),
        topic: deleteTopic,
      },
    ]);
    expect(acks.map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED', 'OUTCOME_DELIVERED']);
    const records = await readTopic(deleteTopic, 2);
    expect(records.map((r) => [r.key, r.value?.toString() ?? null, r.headers['commitlog-action']])).to.deep.equal([
      ['bob', 'v1', 'STORE'],
      ['bob', null, 'DELETE'],
    ]);
  });

  it('rejects each invalid event alone, naming the field, and delivers the rest of the batch', async () => {
    const mixedTopic = uniqueTopic('unary-invalid');
    const acks = await gw.commit([
      storeEvent('ok-1', 'k1', 'v1', { topic: mixedTopic }),
      storeEvent('', 'k2', 'v2', { topic: mixedTopic }),
      storeEvent('no-key', '', 'v3', { topic: mixedTopic }),
      storeEvent('too-big', 'k4', 'x'.repeat(1001), { topic: mixedTopic }),
      storeEvent('bad-topic', 'k5', 'v5', { topic: 'no spaces allowed' }),
      storeEvent('reserved', 'k6', 'v6', { topic: mixedTopic, metadata: { 'commitlog-event-id': 'forged' } }),
      { id: 'no-action', key: Buffer.from('k7'), topic: mixedTopic },
      storeEvent('ok-2', 'k8', 'v8', { topic: mixedTopic }),
    ]);
    expect(acks.map((a) => [a.id, a.outcome])).to.deep.equal([
      ['ok-1', 'OUTCOME_DELIVERED'],
      ['', 'OUTCOME_REJECTED'],
      ['no-key', 'OUTCOME_REJECTED'],
      ['too-big', 'OUTCOME_REJECTED'],
      ['bad-topic', 'OUTCOME_REJECTED'],
      ['reserved', 'OUTCOME_REJECTED'],
      ['no-action', 'OUTCOME_REJECTED'],
      ['ok-2', 'OUTCOME_DELIVERED'],
    ]);
    const rejected = acks.filter((a) => a.outcome === 'OUTCOME_REJECTED');
    expect(rejected.every((a) => a.code === Number(Status.INVALID_ARGUMENT))).to.equal(true);
    expect(rejected.map((a) => a.message.split(':')[0])).to.deep.equal([
      'id',
      'key',
      'value',
      'topic',
      'metadata["commitlog-event-id"]',
      'action',
    ]);
    const records = await readTopic(mixedTopic, 2);
    expect(records.map((r) => r.headers['commitlog-event-id']).sort()).to.deep.equal(['ok-1', 'ok-2']);
  });

  it('rejects a message that carries more events than limits.maxEventsPerMessage', async () => {
    const small = await startGateway({
      limits: { maxEventsPerMessage: 3 },
      routing: { defaultTopic: uniqueTopic('cap') },
    });
    try {
      const acks = await small.commit([1, 2, 3, 4].map((i) => storeEvent(`cap-${i}`, 'k', 'v')));
      expect(acks.map((a) => a.code)).to.deep.equal(Array(4).fill(Status.INVALID_ARGUMENT));
      expect(acks[0].message).to.contain('limits.maxEventsPerMessage');
    } finally {
      await small.close();
    }
  });
});

describe('routing', () => {
  it('uses the event topic where allowed, else the bucket mapping, else the default topic', async () => {
    const [defaultTopic, usersTopic, explicitTopic] = [
      uniqueTopic('route-default'),
      uniqueTopic('route-users'),
      uniqueTopic('route-explicit'),
    ];
    const gw = await startGateway({ routing: { defaultTopic, bucketTopics: { users: usersTopic } } });
    try {
      const acks = await gw.commit([
        storeEvent('r-1', 'k', 'v', { bucket: 'users' }),
        storeEvent('r-2', 'k', 'v', { bucket: 'orders' }),
        storeEvent('r-3', 'k', 'v', { bucket: 'users', topic: explicitTopic }),
      ]);
      expect(acks.map((a) => a.topic)).to.deep.equal([usersTopic, defaultTopic, explicitTopic]);
      expect((await readTopic(usersTopic, 1)).map((r) => r.headers['commitlog-event-id'])).to.deep.equal(['r-1']);
      expect((await readTopic(defaultTopic, 1)).map((r) => r.headers['commitlog-event-id'])).to.deep.equal(['r-2']);
      expect((await readTopic(explicitTopic, 1)).map((r) => r.headers['commitlog-event-id'])).to.deep.equal(['r-3']);
    } finally {
      await gw.close();
    }
  });

  it('refuses an explicit topic with PERMISSION_DENIED when routing.allowEventTopic is false, and can key by bucket/key', async () => {
    const defaultTopic = uniqueTopic('route-locked');
    const gw = await startGateway({ routing: { defaultTopic, allowEventTopic: false, kafkaKey: 'bucket_key' } });
    try {
      const acks = await gw.commit([
        storeEvent('l-1', 'k', 'v', { topic: 'elsewhere' }),
        storeEvent('l-2', 'carol', 'v', { bucket: 'users' }),
      ]);
      expect(acks.map((a) => [a.outcome, a.code])).to.deep.equal([
        ['OUTCOME_REJECTED', Status.PERMISSION_DENIED],
        ['OUTCOME_DELIVERED', 0],
      ]);
      const records = await readTopic(defaultTopic, 1);
      expect(records.map((r) => r.key)).to.deep.equal(['users/carol']);
    } finally {
      await gw.close();
    }
  });
});
