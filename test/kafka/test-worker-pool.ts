import { expect } from 'chai';
import pino from 'pino';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import { freePort, readTopic, startGateway, storeEvent, uniqueTopic, until, type TestGateway } from '../common';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger that keeps the gateway's log lines, parsed. */
function captureLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}

/** The pool's restart log lines. */
function restarts(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter((l) => typeof l.msg === 'string' && /restarting it/.test(l.msg));
}
const KEYS = 20;

/**
 * Streams `total` events (batches of 100, 20 keys, one batch every `gapMs`)
 * and calls `during` once half of them are written. Returns every ack.
 */
async function stream(
  gw: TestGateway,
  prefix: string,
  total: number,
  gapMs: number,
  during: () => void | Promise<void>,
): Promise<Ack__Output[]> {
  const call = gw.openStream();
  for (let sent = 0; sent < total; sent += 100) {
    if (sent === total / 2) await during();
    call.write(
      Array.from({ length: 100 }, (_, i) =>
        storeEvent(`${prefix}-${sent + i}`, `k${(sent + i) % KEYS}`, `v${sent + i}`),
      ),
    );
    await sleep(gapMs);
  }
  return call.finish();
}

/** Every id acked exactly once and durably; every acked id in Kafka, and per key in send order. */
async function expectAllInKafka(gw: TestGateway, topic: string, total: number, acks: Ack__Output[]) {
  const outcomes = new Map<string, string[]>();
  for (const ack of acks) outcomes.set(ack.id, [...(outcomes.get(ack.id) ?? []), ack.outcome]);
  expect(outcomes.size, 'ids acked').to.equal(total);
  for (const [id, list] of outcomes) {
    expect(list, `acks of ${id}`).to.have.length(1);
    expect(['OUTCOME_DELIVERED', 'OUTCOME_SPILLED'], `outcome of ${id}`).to.include(list[0]);
  }
  await until('the spill backlog replayed', () => gw.gateway.spillBacklog === 0, 60_000);
  const records = await readTopic(topic, total, 1000);
  const firstSeen = new Map<string, number>();
  records.forEach((r, at) => {
    const id = r.headers['commitlog-event-id'];
    if (!firstSeen.has(id)) firstSeen.set(id, at);
  });
  const missing = [...outcomes.keys()].filter((id) => !firstSeen.has(id));
  expect(missing, 'acked ids missing from Kafka').to.deep.equal([]);
  // Per key, the first copy of each event is in the order the events were sent.
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < total; i++) {
    const key = `k${i % KEYS}`;
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  }
  for (const [key, seqs] of byKey) {
    const keyRecords = records.filter((r) => r.key === key);
    const order = [...new Set(keyRecords.map((r) => Number(r.headers['commitlog-event-id'].split('-').pop())))];
    expect(order, `order of key ${key}`).to.deep.equal(seqs);
  }
  return records;
}

describe('producer worker pool', function () {
  this.timeout(180_000);

  it('produces through two worker processes, keys spread over both, order per key kept', async () => {
    const topic = uniqueTopic('pool');
    const metricsListen = `127.0.0.1:${await freePort()}`;
    const gw = await startGateway({ workers: 2, routing: { defaultTopic: topic }, telemetry: { metricsListen } });
    try {
      const pids = gw.gateway.workers.map((w) => w.pid);
      expect(pids).to.have.length(2);
      expect(pids.every((pid) => typeof pid === 'number' && pid !== process.pid)).to.equal(true);
      const acks = await stream(gw, 'p', 2000, 5, () => {});
      expect(acks.every((a) => a.outcome === 'OUTCOME_DELIVERED')).to.equal(true);
      await expectAllInKafka(gw, topic, 2000, acks);
      const workers = gw.gateway.workers;
      expect(workers.map((w) => w.delivered).reduce((a, b) => a + b)).to.equal(2000);
      expect(
        workers.every((w) => w.delivered > 0),
        'both workers produced',
      ).to.equal(true);
      expect(workers.map((w) => w.restarts)).to.deep.equal([0, 0]);
      // The same per worker on /metrics.
      const text = await fetch(`http://${metricsListen}/metrics`).then((r) => r.text());
      const series = (name: string) =>
        [0, 1].map((w) => Number(new RegExp(`^${name}\\{worker="${w}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]));
      expect(series('commitlog_worker_delivered_total')).to.deep.equal(workers.map((w) => w.delivered));
      expect(series('commitlog_worker_restarts_total')).to.deep.equal([0, 0]);
      expect(series('commitlog_worker_errors_total')).to.deep.equal([0, 0]);
      expect(series('commitlog_worker_inflight')).to.deep.equal([0, 0]);
    } finally {
      await gw.close();
    }
  });

  it('replaces a worker killed mid-stream; every acked id is in Kafka, none acked twice', async () => {
    const topic = uniqueTopic('pool-kill');
    const { log, lines } = captureLog();
    const gw = await startGateway({ workers: 2, routing: { defaultTopic: topic } }, log);
    try {
      const victim = gw.gateway.workers[0].pid!;
      // Stopped first, so the batches sent in the next 200 ms are surely unanswered when it dies.
      const acks = await stream(gw, 'c', 4000, 10, () => {
        process.kill(victim, 'SIGSTOP');
        setTimeout(() => process.kill(victim, 'SIGKILL'), 200);
      });
      await expectAllInKafka(gw, topic, 4000, acks);
      const [restart] = restarts(lines);
      expect(restart).to.include({ worker: 0, reason: 'killed by SIGKILL', restarts: 1 });
      expect(restart.requeued, 'records re-sent to the new worker').to.be.greaterThan(0);
      const [first] = gw.gateway.workers;
      expect(first.restarts).to.equal(1);
      expect(first.pid).to.be.a('number').and.not.equal(victim);
      expect(gw.gateway.health).to.equal('SERVING');
    } finally {
      await gw.close();
    }
  });

  it('kills and replaces a worker that stops heartbeating (SIGSTOP)', async () => {
    const topic = uniqueTopic('pool-hang');
    const { log, lines } = captureLog();
    const gw = await startGateway(
      { workers: 2, supervisor: { hangTimeoutMs: 1000 }, routing: { defaultTopic: topic } },
      log,
    );
    try {
      const victim = gw.gateway.workers[1].pid!;
      const acks = await stream(gw, 'h', 3000, 20, () => void process.kill(victim, 'SIGSTOP'));
      await expectAllInKafka(gw, topic, 3000, acks);
      const [restart] = restarts(lines);
      expect(restart).to.include({ worker: 1, restarts: 1 });
      expect(restart.reason).to.match(/^hung \(no heartbeat for 1000 ms\), killed by SIGKILL$/);
      expect(restart.requeued, 'records re-sent to the new worker').to.be.greaterThan(0);
      const second = gw.gateway.workers[1];
      expect(second.restarts).to.equal(1);
      expect(second.pid).to.not.equal(victim);
      expect(() => process.kill(victim, 0), 'the hung worker is gone').to.throw();
    } finally {
      await gw.close();
    }
  });

  it('does not take a stalled gateway event loop for a hung worker', async () => {
    const topic = uniqueTopic('pool-stall');
    const gw = await startGateway({
      workers: 1,
      supervisor: { hangTimeoutMs: 1000 },
      routing: { defaultTopic: topic },
    });
    try {
      const pid = gw.gateway.workers[0].pid;
      expect((await gw.commit([storeEvent('s-1', 'k', 'v')]))[0].outcome).to.equal('OUTCOME_DELIVERED');
      // The gateway's own loop blocked for longer than the hang timeout; the worker kept beating.
      const until = Date.now() + 1500;
      while (Date.now() < until);
      await sleep(1000);
      expect(gw.gateway.workers[0]).to.include({ pid, restarts: 0 });
      expect((await gw.commit([storeEvent('s-2', 'k', 'v')]))[0].outcome).to.equal('OUTCOME_DELIVERED');
    } finally {
      await gw.close();
    }
  });

  it('gives up past the restart budget: NOT_SERVING with the reason, and new events still made durable', async () => {
    const topic = uniqueTopic('pool-budget');
    const gw = await startGateway({
      workers: 1,
      supervisor: { maxRestarts: 1, restartWindowMs: 60_000 },
      routing: { defaultTopic: topic },
    });
    try {
      process.kill(gw.gateway.workers[0].pid!, 'SIGKILL');
      await until(
        'worker 0 restarted',
        () => gw.gateway.workers[0].restarts === 1 && gw.gateway.kafkaConnected,
        30_000,
      );
      process.kill(gw.gateway.workers[0].pid!, 'SIGKILL');
      await until('health NOT_SERVING', () => gw.gateway.health === 'NOT_SERVING', 10_000);
      expect(gw.gateway.notServingReason).to.match(/producer worker 0 killed by SIGKILL: more than 1 restarts/);
      expect(gw.gateway.notServingReason).to.include('supervisor.maxRestarts');
      const acks = await gw.commit([storeEvent('after-1', 'k', 'v'), storeEvent('after-2', 'k', 'v')]);
      expect(acks.map((a) => a.outcome)).to.deep.equal(['OUTCOME_SPILLED', 'OUTCOME_SPILLED']);
      expect(gw.gateway.spillBacklog).to.equal(2);
      expect(gw.gateway.workers[0].restarts).to.equal(1);
    } finally {
      await gw.close();
    }
  });
});
