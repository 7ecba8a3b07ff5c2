import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { CommitLogClient, isDurable, type ClientEvent, type CommitOutcome } from '../../src/client';
import { readTopic, startGateway, uniqueTopic, type TestGateway } from '../common';
import { wireLog } from './counting-interceptor';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('CommitLogClient against a real gateway and broker', () => {
  let gw: TestGateway;
  const clients: CommitLogClient[] = [];
  const client = (options: Omit<ConstructorParameters<typeof CommitLogClient>[0], 'address'>): CommitLogClient => {
    const c = new CommitLogClient({ address: gw.gateway.address, ...options });
    clients.push(c);
    return c;
  };

  before(async () => {
    gw = await startGateway();
  });
  afterEach(() => Promise.all(clients.splice(0).map((c) => c.close(5_000))));
  after(() => gw.close());

  it('commitMany (unary): one outcome per event in order, ids generated, invalid events rejected at once', async () => {
    const topic = uniqueTopic('client-unary');
    const c = client({ mode: 'unary' });
    const outcomes = await c.commitMany([
      { key: 'k1', value: 'v1', topic, bucket: 'users', metadata: { vclock: 'a1' } },
      { id: 'given-1', key: 'k2', value: 'v2', topic },
      { id: 'bad-1', key: '', value: 'v3', topic },
      { key: 'k1', action: 'DELETE', topic },
      { id: 'untyped-1', key: 42 } as unknown as ClientEvent,
    ]);
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['delivered', 'delivered', 'rejected', 'delivered', 'rejected']);
    // Refused by the client, which cannot encode it: the rest of the batch went.
    expect(outcomes[4]).to.include({ code: Status.INVALID_ARGUMENT, attempts: 0 });
    expect(outcomes[0].id).to.match(UUID);
    expect(outcomes[1].id).to.equal('given-1');
    expect(outcomes[2]).to.include({ kind: 'rejected', code: Status.INVALID_ARGUMENT, attempts: 1 });
    expect((outcomes[2] as { message: string }).message).to.match(/^key:/);
    const records = await readTopic(topic, 3);
    const durable = outcomes.filter(isDurable);
    expect(records.map((r) => r.headers['commitlog-event-id'])).to.have.members(durable.map((o) => o.id));
    for (const o of durable) {
      if (o.kind !== 'delivered') throw new Error(o.kind);
      const record = records.find((r) => r.partition === o.partition && String(r.offset) === o.offset);
      expect(record?.headers['commitlog-event-id'], `record at ${o.partition}/${o.offset}`).to.equal(o.id);
    }
    expect(records.find((r) => r.headers['commitlog-event-id'] === outcomes[3].id)?.value).to.equal(null);
    expect(records.find((r) => r.headers['commitlog-event-id'] === outcomes[0].id)?.headers.vclock).to.equal('a1');
  });

  it('stream mode batches: 2,000 commit() calls go as 20 CommitStream messages of 100', async () => {
    const topic = uniqueTopic('client-batching');
    const wire = wireLog();
    const c = client({ mode: 'stream', batchSize: 100, lingerMs: 20, interceptors: [wire.interceptor] });
    const total = 2_000;
    const outcomes = await Promise.all(
      Array.from({ length: total }, (_, i) => c.commit({ id: `b-${i}`, key: `key-${i % 50}`, value: `${i}`, topic })),
    );
    expect(outcomes.filter((o) => o.kind !== 'delivered')).to.deep.equal([]);
    expect(wire.calls.get('CommitStream')).to.equal(1);
    expect(wire.messages.get('CommitStream')).to.equal(total / 100);
    expect(c.stats).to.include({ streams: 1, streamMessages: total / 100, eventsSent: total, resends: 0, calls: 0 });
    expect(wire.acks).to.have.length(total);
    const records = await readTopic(topic, total);
    expect(new Set(records.map((r) => r.headers['commitlog-event-id'])).size).to.equal(total);
  });

  it('linger gathers single commits made a few ms apart into one message', async () => {
    const topic = uniqueTopic('client-linger');
    const wire = wireLog();
    const c = client({ mode: 'stream', batchSize: 100, lingerMs: 200, interceptors: [wire.interceptor] });
    const outcomes: Promise<CommitOutcome>[] = [];
    for (let i = 0; i < 10; i++) {
      outcomes.push(c.commit({ id: `l-${i}`, key: 'k', value: `${i}`, topic }));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await Promise.all(outcomes)).map((o) => o.kind)).to.deep.equal(Array(10).fill('delivered'));
    expect(wire.messages.get('CommitStream')).to.equal(1);
  });

  it('a retried id is answered duplicate with the first outcome; an id-less object keeps its id when handed over again', async () => {
    const topic = uniqueTopic('client-dup');
    const c = client({ mode: 'stream' });
    const event = { key: 'k', value: 'v', topic };
    const first = await c.commit(event);
    const again = await c.commit(event);
    expect(again.id).to.equal(first.id);
    expect(first.kind).to.equal('delivered');
    expect(again).to.deep.include({ kind: 'duplicate', id: first.id });
    if (again.kind !== 'duplicate' || first.kind !== 'delivered') throw new Error('unreachable');
    expect(again.first).to.deep.equal({
      kind: 'delivered',
      topic: first.topic,
      partition: first.partition,
      offset: first.offset,
    });
    expect(await readTopic(topic, 1)).to.have.length(1);
  });

  it('caps buffered events: whenFull reject refuses the overflow at once, wait holds it until there is room', async () => {
    const topic = uniqueTopic('client-cap');
    const refusing = client({ mode: 'unary', maxBufferedEvents: 10, whenFull: 'reject' });
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => refusing.commit({ id: `r-${i}`, key: 'k', value: 'v', topic })),
    );
    expect(outcomes.filter((o) => o.kind === 'delivered')).to.have.length(10);
    const overflow = outcomes.filter((o) => o.kind === 'rejected');
    expect(overflow).to.have.length(20);
    for (const o of overflow) expect(o).to.include({ code: Status.RESOURCE_EXHAUSTED, attempts: 0 });

    let most = 0;
    const wire = wireLog();
    const waiting = client({ mode: 'stream', maxBufferedEvents: 10, batchSize: 4, interceptors: [wire.interceptor] });
    const sampler = setInterval(() => (most = Math.max(most, waiting.stats.buffered)), 1);
    const all = await waiting.commitMany(
      Array.from({ length: 200 }, (_, i) => ({ id: `w-${i}`, key: 'k', value: 'v', topic })),
    );
    clearInterval(sampler);
    expect(all.filter((o) => o.kind === 'delivered')).to.have.length(200);
    expect(most).to.be.within(1, 10);
    expect(waiting.stats.buffered).to.equal(0);

    // A reader that paces itself with whenRoom() never has a commit() waiting for room.
    const paced: Array<Promise<CommitOutcome>> = [];
    let waitedForRoom = 0;
    for (let i = 0; i < 100; i++) {
      await waiting.whenRoom();
      if (waiting.stats.buffered >= 10) waitedForRoom++;
      paced.push(waiting.commit({ id: `p-${i}`, key: 'k', value: 'v', topic }));
    }
    expect(waitedForRoom).to.equal(0);
    expect((await Promise.all(paced)).filter((o) => o.kind === 'delivered')).to.have.length(100);
  });

  it('close() waits for every outcome, then refuses new events as rejected CANCELLED', async () => {
    const topic = uniqueTopic('client-close');
    const c = client({ mode: 'stream', lingerMs: 1_000 });
    const pending = Array.from({ length: 5 }, (_, i) => c.commit({ id: `c-${i}`, key: 'k', value: 'v', topic }));
    await c.close();
    expect((await Promise.all(pending)).map((o) => o.kind)).to.deep.equal(Array(5).fill('delivered'));
    expect(await c.commit({ id: 'late', key: 'k', topic })).to.include({ kind: 'rejected', code: Status.CANCELLED });
  });
});
