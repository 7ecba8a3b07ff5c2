import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { walkSegments } from '../../src/spill/spill-tools';
import { freePort, kafka, readTopic, startGateway, storeEvent, uniqueTopic } from '../common';

describe('Kafka unavailable', () => {
  it("spills events (acked SPILLED, fsync'd on disk) on unary and stream calls when no broker can be reached", async () => {
    const gw = await startGateway({ kafka: { brokers: `127.0.0.1:${await freePort()}`, connectTimeoutMs: 1000 } });
    try {
      expect(gw.gateway.kafkaConnected).to.equal(false);
      const acks = await gw.commit([storeEvent('u-1', 'k', 'v1'), storeEvent('u-2', 'k', 'v2')]);
      expect(acks.map((a) => [a.id, a.outcome])).to.deep.equal([
        ['u-1', 'OUTCOME_SPILLED'],
        ['u-2', 'OUTCOME_SPILLED'],
      ]);
      const stream = gw.openStream();
      stream.write([storeEvent('u-3', 'k', 'v3')]);
      const streamAcks = await stream.finish();
      expect(streamAcks.map((a) => [a.id, a.outcome])).to.deep.equal([['u-3', 'OUTCOME_SPILLED']]);
      expect(gw.gateway.spillBacklog).to.equal(3);
      const kept: Array<[string, string, string]> = [];
      await walkSegments(gw.spillDir, (_ref, _offset, _bytes, r) => {
        kept.push([r.id, r.value!.toString(), r.reason]);
      });
      expect(kept.map(([id, value]) => [id, value])).to.deep.equal([
        ['u-1', 'v1'],
        ['u-2', 'v2'],
        ['u-3', 'v3'],
      ]);
      expect(kept[0][2]).to.match(/^Kafka unavailable/);
    } finally {
      await gw.close();
    }
  });

  it('acks nothing while the broker hangs; the call runs out of time and the events still reach Kafka', async function () {
    const broker = await kafka();
    if (broker.local === undefined) this.skip(); // pausing needs a broker process of our own
    const topic = uniqueTopic('hung');
    const gw = await startGateway({ routing: { defaultTopic: topic } });
    try {
      // Warm up so the topic and its leader are known, then hang the broker.
      expect((await gw.commit([storeEvent('h-0', 'k', 'v')]))[0].outcome).to.equal('OUTCOME_DELIVERED');
      broker.pause();
      const events = Array.from({ length: 20 }, (_, i) => storeEvent(`h-${i + 1}`, `k${i}`, 'v'));
      const error = await gw.commit(events, 3000).then(
        (acks) => new Error(`expected no acks while Kafka hangs, got ${JSON.stringify(acks)}`),
        (err: Error & { code?: number }) => err,
      );
      expect((error as { code?: number }).code, error.message).to.equal(Status.DEADLINE_EXCEEDED);
      broker.resume();
      const ids = (await readTopic(topic, 21)).map((r) => r.headers['commitlog-event-id']);
      expect(new Set(ids)).to.deep.equal(new Set(['h-0', ...events.map((e) => e.id)]));
    } finally {
      broker.resume();
      await gw.close();
    }
  });
});
