import { expect } from 'chai';
import { readTopic, startGateway, storeEvent, uniqueTopic, type TestGateway } from '../common';

describe('CommitStream (bidi) against a real broker', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  it('acks 10,000 events sent in batches, each once, and every record is in Kafka intact', async function () {
    const topic = uniqueTopic('stream-10k');
    const total = 10_000;
    const batchSize = 100;
    const stream = gw.openStream();
    const started = process.hrtime.bigint();
    for (let b = 0; b < total / batchSize; b++) {
      stream.write(
        Array.from({ length: batchSize }, (_, j) => {
          const i = b * batchSize + j;
          return storeEvent(`s-${i}`, `key-${i % 500}`, `value-${i}`, { topic, metadata: { seq: String(i) } });
        }),
      );
    }
    const acks = await stream.finish();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.test!.title += ` (${Math.round(total / seconds)} events/s)`;

    expect(acks).to.have.length(total);
    const ids = new Set(acks.map((a) => a.id));
    expect(ids.size).to.equal(total);
    for (let i = 0; i < total; i++) expect(ids.has(`s-${i}`), `ack for s-${i}`).to.equal(true);
    expect(acks.filter((a) => a.outcome !== 'OUTCOME_DELIVERED')).to.deep.equal([]);

    const records = await readTopic(topic, total);
    expect(records).to.have.length(total);
    const byId = new Map(records.map((r) => [r.headers['commitlog-event-id'], r]));
    expect(byId.size).to.equal(total);
    for (const ack of acks) {
      const i = Number(ack.id.slice(2));
      const record = byId.get(ack.id)!;
      expect([record.key, record.value?.toString(), record.headers.seq]).to.deep.equal([
        `key-${i % 500}`,
        `value-${i}`,
        String(i),
      ]);
      expect([record.partition, String(record.offset)]).to.deep.equal([ack.partition, ack.offset]);
    }
  });

  it('keeps per-key send order when batches interleave hundreds of keys', async () => {
    const topic = uniqueTopic('stream-order');
    const keys = 300;
    const perKey = 20;
    const stream = gw.openStream();
    // Round-robin over keys, 150 events per message: every message mixes many keys.
    const events = Array.from({ length: keys * perKey }, (_, i) =>
      storeEvent(`o-${i}`, `key-${i % keys}`, String(Math.floor(i / keys)), { topic }),
    );
    for (let i = 0; i < events.length; i += 150) stream.write(events.slice(i, i + 150));
    const acks = await stream.finish();
    expect(acks.filter((a) => a.outcome === 'OUTCOME_DELIVERED')).to.have.length(keys * perKey);

    const records = await readTopic(topic, keys * perKey);
    const seen = new Map<string, { partition: number; values: number[] }>();
    for (const r of records) {
      const entry = seen.get(r.key) ?? { partition: r.partition, values: [] };
      expect(r.partition, `partition of ${r.key}`).to.equal(entry.partition);
      entry.values.push(Number(r.value!.toString()));
      seen.set(r.key, entry);
    }
    expect(seen.size).to.equal(keys);
    const inOrder = Array.from({ length: perKey }, (_, i) => i);
    for (const [key, { values }] of seen) expect(values, key).to.deep.equal(inOrder);
  });

  it('rejects invalid events on a stream without ending it', async () => {
    const topic = uniqueTopic('stream-invalid');
    const stream = gw.openStream();
    stream.write([storeEvent('v-1', 'k', 'v', { topic }), storeEvent('v-2', '', 'v', { topic })]);
    stream.write([storeEvent('v-3', 'k', 'v', { topic })]);
    const acks = await stream.finish();
    const byId = Object.fromEntries(acks.map((a) => [a.id, a]));
    expect(byId['v-1'].outcome).to.equal('OUTCOME_DELIVERED');
    expect(byId['v-2'].outcome).to.equal('OUTCOME_REJECTED');
    expect(byId['v-2'].message).to.match(/^key:/);
    expect(byId['v-3'].outcome).to.equal('OUTCOME_DELIVERED');
    expect((await readTopic(topic, 2)).map((r) => r.headers['commitlog-event-id']).sort()).to.deep.equal([
      'v-1',
      'v-3',
    ]);
  });
});
