import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { COMMITLOG_SERVICE } from '../../src/server/health';
import { freePort, kafka, readTopic, startGateway, storeEvent, tcpProxy, uniqueTopic, until } from '../common';
import { HealthClient } from './grpc-clients';

/** A loopback port with nothing listening on it (yet). */

describe('grpc.health.v1', () => {
  it('answers SERVING for the server and for commitlog.v1.CommitLogService once Kafka is connected, NOT_FOUND for others', async () => {
    const gw = await startGateway();
    const health = new HealthClient(gw.gateway.address);
    try {
      expect(await health.check('')).to.deep.equal({ ok: true, value: 'SERVING' });
      expect(await health.check(COMMITLOG_SERVICE)).to.deep.equal({ ok: true, value: 'SERVING' });
      const unknown = await health.check('no.such.Service');
      expect(unknown).to.include({ ok: false, code: Status.NOT_FOUND });
    } finally {
      health.close();
      await gw.close();
    }
  });

  it('stays SERVING while Kafka is unreachable but the spill log has room, NOT_SERVING when it is full too, SERVING again when Kafka comes', async () => {
    const { brokers } = await kafka();
    const port = await freePort();
    const topic = uniqueTopic('health-spill');
    const gw = await startGateway({
      kafka: { brokers: `127.0.0.1:${port}`, connectTimeoutMs: 1000 },
      routing: { defaultTopic: topic },
      spill: { maxBytes: 1024 * 1024, replay: { retryMs: 100 } },
    });
    const health = new HealthClient(gw.gateway.address);
    let proxy: { close(): Promise<void> } | undefined;
    try {
      expect(gw.gateway.kafkaConnected).to.equal(false);
      expect(await health.check('')).to.deep.equal({ ok: true, value: 'SERVING' });
      const watch = health.watch(COMMITLOG_SERVICE);
      await until('the first Watch answer', () => watch.statuses.length > 0);

      // Fill the spill log: 100 KB values, 1 MiB cap.
      const big = 'x'.repeat(100_000);
      const acks = await gw.commit(Array.from({ length: 12 }, (_, i) => storeEvent(`full-${i}`, `k${i}`, big)));
      const spilled = acks.filter((a) => a.outcome === 'OUTCOME_SPILLED').map((a) => a.id);
      expect(spilled.length).to.be.within(8, 11);
      const refused = acks.filter((a) => a.outcome === 'OUTCOME_REJECTED');
      expect(refused.length).to.equal(12 - spilled.length);
      expect(refused.every((a) => a.code === Number(Status.RESOURCE_EXHAUSTED))).to.equal(true);
      await until('NOT_SERVING', async () => (await health.check('')).ok && gw.gateway.health === 'NOT_SERVING');
      expect(await health.check(COMMITLOG_SERVICE)).to.deep.equal({ ok: true, value: 'NOT_SERVING' });

      // The bootstrap address starts answering: the producer connects, replay empties the spill log.
      proxy = await tcpProxy(port, brokers.split(',')[0]);
      await until('SERVING', async () => (await health.check('')).ok && gw.gateway.health === 'SERVING');
      await until('replay to empty the spill log', () => gw.gateway.spillBacklog === 0);
      await until('Watch to report SERVING', () => watch.statuses.length >= 3);
      expect(watch.statuses).to.deep.equal(['SERVING', 'NOT_SERVING', 'SERVING']);
      const records = await readTopic(topic, spilled.length);
      expect(records.map((r) => r.headers['commitlog-event-id']).sort()).to.deep.equal([...spilled].sort());
      expect(records.every((r) => r.headers['commitlog-replayed'] !== undefined)).to.equal(true);

      await gw.gateway.close();
      // Watch hears NOT_SERVING when the drain starts, then its stream is ended by the shutdown.
      expect(await watch.ended).to.deep.include({ ok: false, code: Status.UNAVAILABLE });
      expect(watch.statuses).to.deep.equal(['SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    } finally {
      health.close();
      await gw.close();
      await proxy?.close();
    }
  });
});
