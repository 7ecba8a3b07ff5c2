import { credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommitStreamResponse__Output } from '../../src/gen/commitlog/v1/CommitStreamResponse';
import { loadCommitlogProto } from '../../src/server/proto';
import { freePort, readTopic, storeEvent, uniqueTopic, until } from '../common';
import { RestartableKafka } from './restartable-kafka';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'commitlog.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One gauge or counter value from the gateway's Prometheus endpoint, or undefined while it is not up. */
async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await fetch(url).then(
    (r) => r.text(),
    () => '',
  );
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * kill -9 loses no acknowledged event (DESIGN.md §3): the gateway runs in its
 * own process, is killed with SIGKILL while streaming (Kafka gone, events
 * spilling) and again while replaying, and after the last restart every event
 * it acked DELIVERED or SPILLED is in Kafka.
 */
describe('kill -9 of the gateway, while streaming and while replaying', () => {
  const broker = new RestartableKafka();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-crash-'));
  let gateway: ChildProcess | undefined;

  before(() => broker.start());
  after(async () => {
    gateway?.kill('SIGKILL');
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds every acked id in Kafka after two crashes and a clean restart', async () => {
    const topic = uniqueTopic('crash');
    const address = `127.0.0.1:${await freePort()}`;
    const metricsPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const config = path.join(dir, 'commitlog.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        listen: address,
        log: { level: 'error' },
        kafka: { brokers: broker.brokers, deliveryTimeoutMs: 2000, lingerMs: 2 },
        routing: { defaultTopic: topic },
        spill: { dir: path.join(dir, 'spill'), replay: { retryMs: 200, batch: 20, ratePerSecond: 100 } },
        telemetry: { metricsListen: `127.0.0.1:${metricsPort}` },
      }),
    );
    const start = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [BIN, 'serve', '--config', config], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await until(
        'the gateway to serve metrics',
        async () => (await metric(metricsUrl, 'commitlog_inflight_events')) !== undefined,
      );
      return child;
    };
    const kill = async (child: ChildProcess): Promise<void> => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };
    const proto = loadCommitlogProto();
    const durable = new Set<string>();

    // 1. Stream; Kafka goes away mid-stream (events spill); kill -9 while still streaming.
    gateway = await start();
    const client = new proto.commitlog.v1.CommitLogService(address, credentials.createInsecure());
    const call = client.CommitStream();
    call.on('data', (r: CommitStreamResponse__Output) => {
      for (const ack of r.acks)
        if (ack.outcome === 'OUTCOME_DELIVERED' || ack.outcome === 'OUTCOME_SPILLED') durable.add(ack.id);
    });
    call.on('error', () => undefined); // the gateway dies under it
    let sent = 0;
    const writing = (async () => {
      while (gateway.exitCode === null && gateway.signalCode === null) {
        call.write({
          events: Array.from({ length: 20 }, (_, i) =>
            storeEvent(`c-${sent + i}`, `k${(sent + i) % 13}`, `v${sent + i}`),
          ),
        });
        sent += 20;
        await sleep(10);
      }
    })();
    await until('some acks', () => durable.size > 200);
    await broker.stop();
    await until(
      'events to spill',
      async () => ((await metric(metricsUrl, 'commitlog_spill_backlog_events')) ?? 0) > 300,
      30_000,
    );
    await kill(gateway);
    await writing;
    client.close();
    const ackedBeforeCrash = durable.size;
    expect(ackedBeforeCrash).to.be.greaterThan(300);

    // 2. Kafka back; the restarted gateway replays (slowly); kill -9 in the middle of it.
    await broker.start();
    gateway = await start();
    const backlogAtStart = (await metric(metricsUrl, 'commitlog_spill_backlog_events'))!;
    expect(backlogAtStart).to.be.greaterThan(0);
    await until(
      'replay under way',
      async () => ((await metric(metricsUrl, 'commitlog_spill_backlog_events')) ?? 0) < backlogAtStart - 40,
    );
    const backlogAtCrash = (await metric(metricsUrl, 'commitlog_spill_backlog_events'))!;
    expect(backlogAtCrash).to.be.greaterThan(0);
    await kill(gateway);

    // 3. A clean start replays the rest; every acked event is then in Kafka.
    gateway = await start();
    await until(
      'the spill log to empty',
      async () => (await metric(metricsUrl, 'commitlog_spill_backlog_events')) === 0,
      120_000,
    );
    const exited = new Promise((resolve) => gateway!.once('exit', resolve));
    gateway.kill('SIGTERM');
    expect(await exited).to.equal(0);

    const ids = new Set(
      (await readTopic(topic, ackedBeforeCrash, 2000, 60_000, broker.brokers)).map(
        (r) => r.headers['commitlog-event-id'],
      ),
    );
    const missing = [...durable].filter((id) => !ids.has(id));
    expect(missing, `${missing.length} of ${durable.size} acked ids missing`).to.deep.equal([]);
  });
});
