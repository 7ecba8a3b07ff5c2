import { expect } from 'chai';
import { CommitLogClient, isDurable, type CommitOutcome } from '../../src/client';
import type { Gateway } from '../../src/gateway';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import { readTopic, uniqueTopic } from '../common';
import { wireLog } from './counting-interceptor';
import { freePort, startGatewayOn } from './fixed-port-gateway';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('CommitLogClient stream mode across a gateway restart', () => {
  it('reconnects, resends only unacked events, loses no acked event and never contradicts an ack', async function () {
    const topic = uniqueTopic('client-restart');
    const port = await freePort();
    let gateway: Gateway = await startGatewayOn(port, { routing: { defaultTopic: topic } });
    const wire = wireLog();
    const client = new CommitLogClient({
      address: `127.0.0.1:${port}`,
      mode: 'stream',
      batchSize: 50,
      lingerMs: 2,
      deadlineMs: 10_000,
      // Enough tries to outlast the downtime; the breaker is the subject of its own test.
      retry: { maxAttempts: 40, initialBackoffMs: 50, maxBackoffMs: 400 },
      circuitBreaker: false,
      interceptors: [wire.interceptor],
    });
    // Warm up: the first delivery to a new topic waits for it to be created.
    expect(await client.commit({ id: 'warm-up', key: 'k' })).to.include({ kind: 'delivered' });
    const outcomes: Promise<CommitOutcome>[] = [];
    // A steady flow, 100 events every 10 ms, from before the restart until after it.
    let producing = true;
    const flow = (async () => {
      for (let i = 0; producing; i += 100) {
        for (let j = i; j < i + 100; j++)
          outcomes.push(client.commit({ id: `r-${j}`, key: `key-${j % 64}`, value: `${j}` }));
        await sleep(10);
      }
    })();
    while (wire.acks.length < 300) await sleep(5);
    const ackedBeforeRestart = wire.acks.length - 1;
    const unackedAtRestart = outcomes.length - ackedBeforeRestart;
    await gateway.close();
    await sleep(700);
    gateway = await startGatewayOn(port, { routing: { defaultTopic: topic } });
    await sleep(300);
    producing = false;
    await flow;
    const total = outcomes.length;
    const settled = await Promise.all(outcomes);
    await client.close();
    await gateway.close();

    const stats = client.stats;
    this.test!.title += ` (${total} events, ${ackedBeforeRestart} acked and ${unackedAtRestart} not at the restart; ${stats.streams} streams, ${stats.resends} resends)`;
    expect(unackedAtRestart, 'events in flight at the restart').to.be.above(0);
    expect(stats.streams).to.be.at.least(2);
    expect(settled.filter((o) => !isDurable(o))).to.deep.equal([]);
    expect(new Set(settled.map((o) => o.id)).size).to.equal(total);

    // Each outcome the caller got is the first final ack the wire brought for that id, and no
    // later ack of the id contradicts it (a durable event is never also reported as rejected).
    const acksById = new Map<string, Ack__Output[]>();
    for (const ack of wire.acks) acksById.set(ack.id, [...(acksById.get(ack.id) ?? []), ack]);
    for (const outcome of settled) {
      const acks = acksById.get(outcome.id) ?? [];
      expect(acks.length, `acks of ${outcome.id}`).to.be.at.least(1);
      const names = new Set(acks.map((a) => a.outcome));
      for (const name of names) expect(['OUTCOME_DELIVERED', 'OUTCOME_DUPLICATE'], outcome.id).to.include(name);
    }

    // Only events without an ack were sent again, and each as often as its outcome says.
    const acked = new Set<string>();
    const sends = new Map<string, number>();
    for (const entry of wire.entries) {
      if ('acks' in entry) for (const ack of entry.acks) acked.add(ack.id);
      else
        for (const id of entry.sent) {
          expect(acked.has(id), `${id} sent again after its ack`).to.equal(false);
          sends.set(id, (sends.get(id) ?? 0) + 1);
        }
    }
    for (const outcome of settled) expect(sends.get(outcome.id), outcome.id).to.equal(outcome.attempts);

    // Every acked-durable event is in Kafka, at the very partition and offset its ack named.
    const records = (await readTopic(topic, total + 1, 1_000)).filter(
      (r) => r.headers['commitlog-event-id'] !== 'warm-up',
    );
    const at = new Map(records.map((r) => [`${r.partition}/${r.offset}`, r.headers['commitlog-event-id']]));
    for (const outcome of settled) {
      const where = outcome.kind === 'duplicate' ? outcome.first : outcome;
      if (where.kind !== 'delivered') throw new Error(`${outcome.id}: ${where.kind}`);
      expect(at.get(`${where.partition}/${where.offset}`), outcome.id).to.equal(outcome.id);
    }
    const inKafka = new Set(records.map((r) => r.headers['commitlog-event-id']));
    expect(inKafka.size).to.equal(total);
    this.test!.title += ` (${records.length - total} duplicate records in Kafka)`;
  });
});
