import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { DedupSink } from '../../src/ingest/dedup-sink';
import { sendAll, type KafkaRecord, type Outcome, type Settle, type Sink } from '../../src/sink';
import { readTopic, startGateway, storeEvent, uniqueTopic } from '../common';

/** A sink whose outcomes the test settles by hand, recording what reached it. */
class ManualSink implements Sink {
  readonly received: string[] = [];
  readonly #settle = new Map<string, (outcome: Outcome) => void>();

  send(records: readonly KafkaRecord[], settle: Settle): void {
    records.forEach((r, i) => {
      this.received.push(r.id);
      this.#settle.set(r.id, (outcome) => settle(i, outcome));
    });
  }

  settle(id: string, outcome: Outcome): void {
    this.#settle.get(id)!(outcome);
  }
}

const record = (id: string): KafkaRecord => ({
  id,
  topic: 't',
  key: Buffer.from('k'),
  value: null,
  headers: [],
  timestamp: 0,
  receivedAt: 0,
});
const delivered = (offset: string): Outcome => ({ kind: 'delivered', topic: 't', partition: 0, offset });
const unavailable: Outcome = { kind: 'rejected', code: Status.UNAVAILABLE, message: 'down' };
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('DedupSink', () => {
  it('answers a retry of a delivered id DUPLICATE with the first coordinates, without sending it again', async () => {
    const inner = new ManualSink();
    const sink = new DedupSink(inner, { maxEntries: 10, windowMs: 60_000 });
    const [first] = sendAll(sink, [record('a')]);
    inner.settle('a', delivered('7'));
    expect(await first).to.deep.equal(delivered('7'));
    await tick();
    expect(await sendAll(sink, [record('a')])[0]).to.deep.equal({ kind: 'duplicate', first: delivered('7') });
    expect(inner.received).to.deep.equal(['a']);
  });

  it('lets a retry in flight, in the same batch or a later one, share the first outcome', async () => {
    const inner = new ManualSink();
    const sink = new DedupSink(inner, { maxEntries: 10, windowMs: 60_000 });
    const [a1, a2] = sendAll(sink, [record('a'), record('a')]);
    const [a3] = sendAll(sink, [record('a')]);
    inner.settle('a', delivered('1'));
    expect(await Promise.all([a1, a2, a3])).to.deep.equal([
      delivered('1'),
      { kind: 'duplicate', first: delivered('1') },
      { kind: 'duplicate', first: delivered('1') },
    ]);
    expect(inner.received).to.deep.equal(['a']);
  });

  it('forgets an id that settled as not durable, so its retry is sent again', async () => {
    const inner = new ManualSink();
    const sink = new DedupSink(inner, { maxEntries: 10, windowMs: 60_000 });
    const [first] = sendAll(sink, [record('a')]);
    inner.settle('a', unavailable);
    expect(await first).to.deep.equal(unavailable);
    await tick();
    const [retry] = sendAll(sink, [record('a')]);
    inner.settle('a', delivered('2'));
    expect(await retry).to.deep.equal(delivered('2'));
    expect(inner.received).to.deep.equal(['a', 'a']);
  });

  it('holds at most maxEntries ids, evicting the oldest, and forgets ids older than the window', async () => {
    const inner = new ManualSink();
    const sink = new DedupSink(inner, { maxEntries: 2, windowMs: 60_000 });
    const sent = sendAll(sink, [record('a'), record('b'), record('c')]);
    for (const id of ['a', 'b', 'c']) inner.settle(id, delivered(id));
    await Promise.all(sent);
    await tick();
    expect(sink.size).to.equal(2);
    void sendAll(sink, [record('a')]); // evicted: sent again
    expect(inner.received).to.deep.equal(['a', 'b', 'c', 'a']);

    const aged = new DedupSink(inner, { maxEntries: 10, windowMs: 0 });
    const [x] = sendAll(aged, [record('x')]);
    inner.settle('x', delivered('x'));
    await x;
    await new Promise((resolve) => setTimeout(resolve, 5));
    void sendAll(aged, [record('x')]);
    expect(inner.received.filter((id) => id === 'x')).to.have.length(2);
  });

  it('against the real broker: a retried id is produced once and acked DUPLICATE with its first offset', async () => {
    const topic = uniqueTopic('dedup');
    const gw = await startGateway({ routing: { defaultTopic: topic } });
    try {
      const [first] = await gw.commit([storeEvent('d-1', 'k', 'v1')]);
      const [retry, other] = await gw.commit([storeEvent('d-1', 'k', 'v1'), storeEvent('d-2', 'k', 'v2')]);
      expect(first.outcome).to.equal('OUTCOME_DELIVERED');
      expect(retry).to.include({
        outcome: 'OUTCOME_DUPLICATE',
        firstOutcome: 'OUTCOME_DELIVERED',
        topic,
        offset: first.offset,
      });
      expect(retry.partition).to.equal(first.partition);
      expect(other.outcome).to.equal('OUTCOME_DELIVERED');
      const ids = (await readTopic(topic, 2)).map((r) => r.headers['commitlog-event-id']);
      expect(ids).to.deep.equal(['d-1', 'd-2']);
    } finally {
      await gw.close();
    }
  });
});
