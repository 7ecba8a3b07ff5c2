import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdminClient } from 'node-rdkafka';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import { kafka, type ReadRecord, readTopic, runCli, startGateway, storeEvent, uniqueTopic, until } from '../common';
import { RestartableKafka } from './restartable-kafka';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ids that appear more than once must have a replayed copy: delivered in flight, timed out, spilled, replayed. */
function unexplainedDuplicates(records: ReadRecord[]): string[] {
  const byId = new Map<string, ReadRecord[]>();
  for (const r of records)
    byId.set(r.headers['commitlog-event-id'], [...(byId.get(r.headers['commitlog-event-id']) ?? []), r]);
  return [...byId]
    .filter(([, copies]) => copies.length > 1 && !copies.some((c) => 'commitlog-replayed' in c.headers))
    .map(([id]) => id);
}

describe('spill: Kafka goes away, events are spilled and replayed by themselves', () => {
  const broker = new RestartableKafka();

  before(async () => {
    await broker.start();
  });
  after(() => broker.close());

  for (const workers of [0, 2])
    it(`acks SPILLED while Kafka is down mid-stream and replays every acked event once it is back (workers: ${workers})`, async () => {
      const topic = uniqueTopic('spill-stream');
      const gw = await startGateway({
        workers,
        kafka: { brokers: broker.brokers, deliveryTimeoutMs: 3000 },
        routing: { defaultTopic: topic },
        spill: { replay: { retryMs: 200 } },
      });
      try {
        const stream = gw.openStream();
        let sent = 0;
        for (let b = 0; b < 40; b++) {
          if (b === 10) await broker.stop(); // Kafka goes away a quarter in
          stream.write(
            Array.from({ length: 50 }, (_, j) =>
              storeEvent(`sp-${sent + j}`, `key-${(sent + j) % 37}`, `v${sent + j}`),
            ),
          );
          sent += 50;
          await sleep(20);
        }
        const acks: Ack__Output[] = await stream.finish();
        expect(acks).to.have.length(sent);
        const outcomes = new Map<string, number>();
        for (const a of acks) outcomes.set(a.outcome, (outcomes.get(a.outcome) ?? 0) + 1);
        expect(
          [...outcomes.keys()].every((o) => o === 'OUTCOME_DELIVERED' || o === 'OUTCOME_SPILLED'),
          JSON.stringify([...outcomes]),
        ).to.equal(true);
        expect(outcomes.get('OUTCOME_SPILLED') ?? 0).to.be.greaterThan(0);
        expect(gw.gateway.spillBacklog).to.equal(outcomes.get('OUTCOME_SPILLED'));

        await broker.start();
        await until('replay to empty the spill log', () => gw.gateway.spillBacklog === 0, 90_000);
        const records = await readTopic(topic, sent, 1000, 60_000, broker.brokers);
        const ids = new Set(records.map((r) => r.headers['commitlog-event-id']));
        for (const a of acks) expect(ids.has(a.id), `acked ${a.outcome} ${a.id} in Kafka`).to.equal(true);
        expect(unexplainedDuplicates(records)).to.deep.equal([]);
        const replayed = records.filter((r) => 'commitlog-replayed' in r.headers);
        expect(replayed.length).to.be.at.least(outcomes.get('OUTCOME_SPILLED')!);
      } finally {
        await broker.start().catch(() => undefined);
        await gw.close();
      }
    });

  it('keeps per-key order across spill and replay: a key with spilled events keeps spilling until replay caught up', async () => {
    const topic = uniqueTopic('spill-order');
    const gw = await startGateway({
      kafka: { brokers: broker.brokers, deliveryTimeoutMs: 3000 },
      routing: { defaultTopic: topic },
      spill: { replay: { retryMs: 200, batch: 1, ratePerSecond: 2 } },
    });
    try {
      expect((await gw.commit([storeEvent('o-warm', 'warm', '0')]))[0].outcome).to.equal('OUTCOME_DELIVERED');
      await broker.stop();
      const first = await gw.commit(Array.from({ length: 10 }, (_, i) => storeEvent(`o-${i}`, 'k', String(i))));
      expect(first.map((a) => a.outcome)).to.deep.equal(Array(10).fill('OUTCOME_SPILLED'));
      await broker.start();
      // Replay's first delivery tells the producer Kafka takes records again.
      await until('replay to deliver a first record', () => gw.gateway.replayed > 0);
      // Replay is throttled to 2/s: these arrive while key k still waits in the spill log.
      const second = await gw.commit(
        Array.from({ length: 10 }, (_, i) => storeEvent(`o-${10 + i}`, 'k', String(10 + i))),
      );
      expect(second.map((a) => a.outcome)).to.deep.equal(Array(10).fill('OUTCOME_SPILLED'));
      await until('replay to empty the spill log', () => gw.gateway.spillBacklog === 0, 60_000);
      const records = (await readTopic(topic, 21, 1000, 60_000, broker.brokers)).filter((r) => r.key === 'k');
      expect(records.map((r) => Number(r.value!.toString()))).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await gw.close();
    }
  });
});

describe('dead letters', () => {
  it('dead-letters a record whose timestamp Kafka refuses (commit_time hours ahead, the gateway check off)', async () => {
    const topic = uniqueTopic('dead-timestamp');
    const gw = await startGateway({ routing: { defaultTopic: topic }, limits: { maxCommitTimeAheadMs: 0 } });
    try {
      const ahead = { seconds: String(Math.floor(Date.now() / 1000) + 3 * 3600), nanos: 0 };
      expect((await gw.commit([storeEvent('now', 'k', 'v')]))[0].outcome).to.equal('OUTCOME_DELIVERED');
      // Alone in its produce request: Kafka refuses a whole batch for one bad timestamp.
      const [ack] = await gw.commit([storeEvent('later', 'k', 'v', { commitTime: ahead })]);
      expect(ack.outcome).to.equal('OUTCOME_DEAD_LETTERED');
      expect(ack.code).to.equal(3); // INVALID_ARGUMENT
      expect(ack.message).to.match(/timestamp \(commit_time\)/);
      expect(gw.gateway.spillBacklog, 'not spilled for a replay that would fail the same way').to.equal(0);
    } finally {
      await gw.close();
    }
  });

  it('keeps a record too large for the broker as DEAD_LETTERED; spill inspect shows it; spill replay --dead delivers it to a topic that takes it', async () => {
    const { brokers } = await kafka();
    const topic = uniqueTopic('dead');
    const big = uniqueTopic('big');
    const value = randomBytes(1_500_000); // incompressible, over the broker's 1 MiB message.max.bytes
    const spillDir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-dead-spill-'));
    const gw = await startGateway({
      spill: { dir: spillDir },
      routing: { defaultTopic: topic },
      limits: { maxValueBytes: 2_000_000, maxMessageBytes: 4_000_000 },
      kafka: { properties: { 'message.max.bytes': 3_000_000 } },
    });
    let acks: Ack__Output[];
    try {
      acks = await gw.commit([storeEvent('small', 'k', 'fine'), { ...storeEvent('huge', 'k', ''), value }]);
    } finally {
      await gw.close();
    }
    expect(acks.map((a) => [a.id, a.outcome])).to.deep.equal([
      ['small', 'OUTCOME_DELIVERED'],
      ['huge', 'OUTCOME_DEAD_LETTERED'],
    ]);
    expect(acks[1].code).to.equal(3); // INVALID_ARGUMENT: retrying the same record cannot help
    expect(acks[1].message).to.match(/too large/i);

    const inspect = await runCli(['spill', 'inspect', spillDir]);
    expect(inspect.code, inspect.stderr).to.equal(0);
    const kept = inspect.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(kept).to.have.length(1);
    expect(kept[0]).to.include({ id: 'huge', topic, log: 'dead' });
    expect(String(kept[0].reason)).to.match(/too large/i);

    const admin = AdminClient.create({ 'metadata.broker.list': brokers });
    await new Promise<void>((resolve, reject) =>
      admin.createTopic(
        { topic: big, num_partitions: 1, replication_factor: 1, config: { 'max.message.bytes': '3000000' } },
        (err) => (err ? reject(new Error(err.message)) : resolve()),
      ),
    );
    admin.disconnect();
    const config = path.join(mkdtempSync(path.join(os.tmpdir(), 'commitlog-dead-')), 'replay.yaml');
    writeFileSync(
      config,
      JSON.stringify({ log: { level: 'warn' }, kafka: { properties: { 'message.max.bytes': 3_000_000 } } }),
    );
    const replay = await runCli([
      'spill',
      'replay',
      spillDir,
      '--dead',
      '--topic',
      big,
      '--brokers',
      brokers,
      '--config',
      config,
    ]);
    expect(replay.code, replay.stderr).to.equal(0);
    expect(JSON.parse(replay.stdout)).to.include({ deadLetters: 1, delivered: 1, failed: 0 });
    const [record] = await readTopic(big, 1);
    expect(record.headers['commitlog-event-id']).to.equal('huge');
    expect(Buffer.compare(record.value!, value)).to.equal(0);
  });
});
