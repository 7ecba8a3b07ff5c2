import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import net from 'node:net';
import { kafka, readTopic, startGateway, storeEvent, uniqueTopic } from '../common';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Kafka unavailable', () => {
  it('rejects events UNAVAILABLE, on unary and stream calls, when no broker can be reached', async () => {
    const gw = await startGateway({ kafka: { brokers: `127.0.0.1:${await closedPort()}`, connectTimeoutMs: 1000 } });
    try {
      expect(gw.gateway.kafkaConnected).to.equal(false);
      const acks = await gw.commit([storeEvent('u-1', 'k', 'v'), storeEvent('u-2', 'k', 'v')]);
      expect(acks.map((a) => [a.outcome, a.code])).to.deep.equal([
        ['OUTCOME_REJECTED', Status.UNAVAILABLE],
        ['OUTCOME_REJECTED', Status.UNAVAILABLE],
      ]);
      expect(acks[0].message).to.match(/^Kafka is unreachable \(127\.0\.0\.1:\d+\)/);
      const stream = gw.openStream();
      stream.write([storeEvent('u-3', 'k', 'v')]);
      const streamAcks = await stream.finish();
      expect(streamAcks.map((a) => [a.id, a.outcome, a.code])).to.deep.equal([
        ['u-3', 'OUTCOME_REJECTED', Status.UNAVAILABLE],
      ]);
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
