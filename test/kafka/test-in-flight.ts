import { expect } from 'chai';
import { InFlight, PendingRecord } from '../../src/kafka/pending-record';
import type { KafkaRecord } from '../../src/sink';

describe('InFlight', () => {
  const record = (id: string): KafkaRecord => ({
    id,
    topic: 't',
    key: Buffer.from(id),
    value: null,
    headers: [],
    timestamp: 0,
    receivedAt: 0,
  });
  const pending = (id: string): PendingRecord => new PendingRecord(record(id), () => undefined, 0);

  it('holds what was added until deleted or drained; a second delete, or one after the drain, is refused', () => {
    const list = new InFlight();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(pending);
    for (const p of [a, b, c, d]) list.add(p);
    expect(list.size).to.equal(4);
    expect(list.delete(b)).to.equal(true);
    expect(list.delete(b)).to.equal(false);
    expect(list.delete(d)).to.equal(true); // the most recently added: the head
    expect(list.size).to.equal(2);
    expect(
      list
        .drain()
        .map((p) => p.record.id)
        .sort(),
    ).to.deep.equal(['a', 'c']);
    expect(list.size).to.equal(0);
    // A delivery report after close() drained the list must not settle the record twice.
    expect(list.delete(a)).to.equal(false);
    expect(list.drain()).to.deep.equal([]);
    expect(list.delete(pending('never added'))).to.equal(false);
  });
});
