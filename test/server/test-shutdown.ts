import { Metadata, status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import type { CommitLogServiceClient } from '../../src/gen/commitlog/v1/CommitLogService';
import { walkSegments } from '../../src/spill/spill-tools';
import { kafka, readTopic, startGateway, storeEvent, uniqueTopic, until } from '../common';
import { failed, HealthClient, type CallResult } from './grpc-clients';
import { busyStream, type BusyStream } from './stream-writer';

function commit(client: CommitLogServiceClient, id: string, topic: string): Promise<CallResult<Ack__Output[]>> {
  return new Promise((resolve) => {
    client.Commit(
      { events: [storeEvent(id, 'k', 'v', { topic })] },
      new Metadata(),
      { deadline: Date.now() + 30_000 },
      (err, response) => resolve(err || !response ? failed(err) : { ok: true, value: response.acks }),
    );
  });
}

/** Unary Commits back to back until one fails; every result kept. */
async function unaryLoop(client: CommitLogServiceClient, topic: string, results: CallResult<Ack__Output[]>[]) {
  for (let i = 0; ; i++) {
    const result = await commit(client, `unary-${i}`, topic);
    results.push(result);
    if (!result.ok) return;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every ack names an event its stream sent, once; every event without an ack is covered by a non-OK end. */
async function checkAccounted(stream: BusyStream): Promise<CallResult<null>> {
  const ended = await stream.ended;
  const sent = new Set(stream.sent);
  const acked = stream.acks.map((a) => a.id);
  expect(new Set(acked).size, 'one ack per event').to.equal(acked.length);
  for (const id of acked) expect(sent.has(id), `ack for ${id} names a sent event`).to.equal(true);
  if (acked.length < sent.size) expect(ended.ok, 'a stream with unacked events ends non-OK').to.equal(false);
  return ended;
}

describe('graceful shutdown', () => {
  it('drains streams that never half-close: every taken event acked, then UNAVAILABLE; health NOT_SERVING; new calls refused', async () => {
    const topic = uniqueTopic('drain');
    const drainTimeoutMs = 5_000;
    const gw = await startGateway({ drainTimeoutMs, routing: { defaultTopic: topic } });
    const health = new HealthClient(gw.gateway.address);
    try {
      const watch = health.watch();
      const streams = ['a', 'b', 'c', 'd'].map((name) => busyStream(gw.client, name, topic));
      const unary: CallResult<Ack__Output[]>[] = [];
      const unaryDone = unaryLoop(gw.client, topic, unary);
      // The topic exists and every stream is in full flow.
      await until('acks on every stream', () => streams.every((s) => s.acks.length > 0));
      await sleep(300);

      const started = Date.now();
      const closing = gw.gateway.close();
      // Asked while the drain waits for acks of events already taken.
      const [check, refused] = await Promise.all([health.check(), commit(gw.client, 'late-1', topic)]);
      await closing;
      const elapsed = Date.now() - started;

      expect(elapsed).to.be.below(drainTimeoutMs);
      expect(check).to.deep.equal({ ok: true, value: 'NOT_SERVING' });
      expect(refused).to.include({ ok: false, code: Status.UNAVAILABLE });
      expect(watch.statuses).to.deep.equal(['SERVING', 'NOT_SERVING']);
      expect(await watch.ended).to.include({ ok: false, code: Status.UNAVAILABLE });

      for (const stream of streams) {
        const ended = await checkAccounted(stream);
        expect(ended).to.deep.equal({ ok: false, code: Status.UNAVAILABLE, details: 'gateway is shutting down' });
        // Kafka was healthy: everything the gateway took was delivered before the stream was ended.
        expect(stream.acks.filter((a) => a.outcome !== 'OUTCOME_DELIVERED')).to.deep.equal([]);
      }
      await unaryDone;
      expect(unary.at(-1)).to.include({ ok: false, code: Status.UNAVAILABLE });
      const unaryAcks = unary.flatMap((r) => (r.ok ? r.value : []));
      expect(unaryAcks.every((a) => a.outcome === 'OUTCOME_DELIVERED')).to.equal(true);

      // Exactly the acked events are in Kafka: none delivered behind a client's back, none acked and missing.
      const acked = [...streams.flatMap((s) => s.acks), ...unaryAcks];
      const records = await readTopic(topic, acked.length, 1_000);
      expect(records.map((r) => r.headers['commitlog-event-id']).sort()).to.deep.equal(acked.map((a) => a.id).sort());
      for (const ack of acked) {
        const record = records.find((r) => r.partition === ack.partition && String(r.offset) === ack.offset);
        expect(record?.headers['commitlog-event-id'], ack.id).to.equal(ack.id);
      }

      // After the close nothing listens any more: still UNAVAILABLE.
      expect(await commit(gw.client, 'after-1', topic)).to.include({ ok: false, code: Status.UNAVAILABLE });
    } finally {
      health.close();
      await gw.close();
    }
  });

  for (const workers of [0, 2])
    it(`with Kafka hung, spills what it took before drainTimeoutMs (acked SPILLED) and serves NOT_SERVING until then (workers: ${workers})`, async function () {
      const broker = await kafka();
      if (broker.local === undefined) this.skip(); // pausing needs a broker process of our own
      const topic = uniqueTopic('drain-hung');
      const drainTimeoutMs = 3_000;
      const gw = await startGateway({ workers, drainTimeoutMs, routing: { defaultTopic: topic } });
      try {
        expect((await commit(gw.client, 'warm-up', topic)).ok).to.equal(true);
        const streams = ['x', 'y'].map((name) => busyStream(gw.client, name, topic, 10, 10));
        await until('acks on every stream', () => streams.every((s) => s.acks.length > 0));
        broker.pause();
        // A stream whose client half-closed, everything read: it ends OK once answered.
        const finished = gw.openStream();
        finished.write(['z-1', 'z-2', 'z-3'].map((id) => storeEvent(id, 'k', 'v', { topic })));
        const finishedAcks = finished.finish();
        await sleep(300);

        const started = Date.now();
        const closing = gw.gateway.close();
        await sleep(500);
        // A client that connects only now still reaches the health service.
        const late = new HealthClient(gw.gateway.address);
        const check = await late.check();
        late.close();
        const refused = await commit(gw.client, 'late-1', topic);
        await closing;
        const elapsed = Date.now() - started;
        broker.resume();

        expect(check).to.deep.equal({ ok: true, value: 'NOT_SERVING' });
        expect(refused).to.deep.equal({ ok: false, code: Status.UNAVAILABLE, details: 'gateway is shutting down' });
        // The producer gets the drain timeout less a quarter (at most 2 s) kept for spilling what it still holds.
        expect(elapsed).to.be.within(drainTimeoutMs * 0.75 - 100, drainTimeoutMs + 2_000);

        const delivered: Ack__Output[] = [];
        const spilled: string[] = [];
        for (const stream of streams) {
          const ended = await checkAccounted(stream);
          expect(ended).to.include({ ok: false, code: Status.UNAVAILABLE });
          const notDelivered = stream.acks.filter((a) => a.outcome !== 'OUTCOME_DELIVERED');
          // What was in flight when Kafka hung was answered, not dropped.
          expect(notDelivered.length).to.be.above(0);
          for (const ack of notDelivered) expect(ack.outcome).to.equal('OUTCOME_SPILLED');
          delivered.push(...stream.acks.filter((a) => a.outcome === 'OUTCOME_DELIVERED'));
          spilled.push(...notDelivered.map((a) => a.id));
        }
        const closedAcks = await finishedAcks;
        expect(closedAcks.map((a) => [a.id, a.outcome]).sort()).to.deep.equal([
          ['z-1', 'OUTCOME_SPILLED'],
          ['z-2', 'OUTCOME_SPILLED'],
          ['z-3', 'OUTCOME_SPILLED'],
        ]);
        // Every SPILLED ack is a record in the spill log the next start replays.
        const kept: string[] = [];
        await walkSegments(
          gw.spillDir,
          (ref, _offset, _bytes, record) => void (ref.log === 'spill' && kept.push(record.id)),
        );
        expect(kept.sort()).to.deep.equal([...spilled, 'z-1', 'z-2', 'z-3'].sort());
        const inKafka = new Set(
          (await readTopic(topic, delivered.length + 1)).map((r) => r.headers['commitlog-event-id']),
        );
        for (const ack of delivered)
          expect(inKafka.has(ack.id), `${ack.id} acked DELIVERED is in Kafka`).to.equal(true);
      } finally {
        broker.resume();
        await gw.close();
      }
    });
});
