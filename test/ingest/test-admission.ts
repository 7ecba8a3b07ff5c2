import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { kafka, readTopic, startGateway, storeEvent, uniqueTopic } from '../common';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('admission control against a real broker', () => {
  it('refuses a unary call past the in-flight cap with RESOURCE_EXHAUSTED and a retry hint; what it took still settles', async function () {
    const broker = await kafka();
    if (broker.local === undefined) this.skip(); // pausing needs a broker process of our own
    const topic = uniqueTopic('admit-unary');
    const gw = await startGateway({
      routing: { defaultTopic: topic },
      admission: { maxInFlightEvents: 10, retryAfterMs: 250 },
    });
    try {
      await gw.commit([storeEvent('warm', 'k', 'v')]);
      broker.pause();
      const held = gw.commit(Array.from({ length: 10 }, (_, i) => storeEvent(`held-${i}`, `k${i}`, 'v')));
      await sleep(200);
      expect(gw.gateway.inFlight.events).to.equal(10);
      const refused = (await gw.commit([storeEvent('over', 'k', 'v')]).then(
        () => undefined,
        (err: ServiceError) => err,
      ))!;
      expect(refused?.code).to.equal(Status.RESOURCE_EXHAUSTED);
      expect(refused.details).to.contain('admission.maxInFlightEvents 10');
      expect(refused.metadata.get('grpc-retry-pushback-ms')).to.deep.equal(['250']);
      broker.resume();
      const acks = await held;
      expect(acks.map((a) => a.outcome)).to.deep.equal(Array(10).fill('OUTCOME_DELIVERED'));
      expect(gw.gateway.inFlight).to.deep.equal({ events: 0, bytes: 0 });
      const ids = (await readTopic(topic, 11)).map((r) => r.headers['commitlog-event-id']);
      expect(ids).to.have.length(11);
      expect(ids).to.not.include('over');
    } finally {
      broker.resume();
      await gw.close();
    }
  });

  it('stops reading a stream at the cap while Kafka hangs, and takes the rest once acks free room', async function () {
    const broker = await kafka();
    if (broker.local === undefined) this.skip();
    const topic = uniqueTopic('admit-stream');
    const cap = 200;
    const batch = 50;
    const messages = 100;
    const gw = await startGateway({ routing: { defaultTopic: topic }, admission: { maxInFlightEvents: cap } });
    try {
      await gw.commit([storeEvent('warm', 'k', 'v')]);
      broker.pause();
      const stream = gw.openStream();
      for (let m = 0; m < messages; m++) {
        stream.write(
          Array.from({ length: batch }, (_, j) => storeEvent(`st-${m * batch + j}`, `k${j}`, 'v'.repeat(200))),
        );
      }
      await sleep(1500);
      // Read past the cap by at most what the stream buffers once paused
      // (grpc-js pulls one message ahead; Node's readable keeps up to 16).
      const held = gw.gateway.inFlight.events;
      expect(held).to.be.at.least(cap);
      expect(held).to.be.at.most(cap + 17 * batch);
      broker.resume();
      const acks = await stream.finish();
      expect(acks).to.have.length(batch * messages);
      expect(acks.every((a) => a.outcome === 'OUTCOME_DELIVERED')).to.equal(true);
      expect(await readTopic(topic, batch * messages + 1)).to.have.length(batch * messages + 1);
    } finally {
      broker.resume();
      await gw.close();
    }
  });
});
