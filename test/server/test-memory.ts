import { credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import type { CommitStreamResponse__Output } from '../../src/gen/commitlog/v1/CommitStreamResponse';
import { loadCommitlogProto } from '../../src/server/proto';
import { freePort, kafka, storeEvent, uniqueTopic } from '../common';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'commitlog.js');
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

/**
 * The gateway in its own process, so its RSS is its own: a client writes as
 * fast as HTTP/2 flow control lets it while the broker hangs, and the
 * gateway's memory must stay within the in-flight byte cap plus a fixed margin.
 */
describe('bounded memory (gateway process, broker hung)', () => {
  // Measured margin over the byte cap (docs/limits.md); the assertion leaves headroom for noise.
  const maxInFlightBytes = 32 * MiB;
  const allowedGrowth = 2 * maxInFlightBytes + 48 * MiB;
  let gateway: ChildProcess | undefined;

  after(() => gateway?.kill('SIGKILL'));

  it(`keeps RSS growth under ${allowedGrowth / MiB} MiB with a ${maxInFlightBytes / MiB} MiB in-flight cap, and loses nothing`, async function () {
    const broker = await kafka();
    if (broker.local === undefined) this.skip(); // pausing needs a broker process of our own
    const topic = uniqueTopic('memory');
    const address = `127.0.0.1:${await freePort()}`;
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'commitlog-memory-')), 'commitlog.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        listen: address,
        log: { level: 'warn' },
        kafka: { brokers: broker.brokers, lingerMs: 5 },
        routing: { defaultTopic: topic },
        admission: { maxInFlightEvents: 1_000_000, maxInFlightBytes },
        telemetry: { metricsListen: '' },
        spill: { dir: path.join(path.dirname(file), 'spill') },
      }),
    );
    gateway = spawn(process.execPath, [BIN, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    const proto = loadCommitlogProto();
    const client = new proto.commitlog.v1.CommitLogService(address, credentials.createInsecure());
    try {
      // Up and delivering (a few hundred warm-up events also warm the JIT and the producer).
      for (let attempt = 0; ; attempt++) {
        const ok = await new Promise<boolean>((resolve) =>
          client.Commit({ events: [storeEvent(`warm-${attempt}`, 'k', 'v')] }, (err, res) =>
            resolve(!err && res?.acks[0].outcome === 'OUTCOME_DELIVERED'),
          ),
        );
        if (ok) break;
        if (attempt > 100) throw new Error('gateway did not come up');
        await sleep(100);
      }
      const baseline = rssBytes(gateway.pid!);
      broker.pause();

      const value = 'x'.repeat(1024);
      let sent = 0;
      let acked = 0;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(gateway!.pid!))), 50);
      const streams = Array.from({ length: 4 }, (_, s) => {
        const call = client.CommitStream();
        const done = new Promise<void>((resolve, reject) => {
          call.on('data', (r: CommitStreamResponse__Output) => {
            acked += r.acks.filter((a) => a.outcome === 'OUTCOME_DELIVERED').length;
          });
          call.on('end', resolve);
          call.on('error', reject);
        });
        return { call, done, s };
      });
      // Write for 4 s as fast as flow control allows.
      const until = Date.now() + 4000;
      await Promise.all(
        streams.map(async ({ call, s }) => {
          while (Date.now() < until) {
            const events: CommitEvent[] = Array.from({ length: 100 }, (_, i) =>
              storeEvent(`m-${s}-${sent + i}`, `k${i}`, value),
            );
            sent += events.length;
            if (!call.write({ events })) {
              await Promise.race([
                new Promise((resolve) => call.once('drain', resolve)),
                sleep(Math.max(0, until - Date.now())),
              ]);
            }
          }
        }),
      );
      await sleep(1000);
      clearInterval(sampler);
      const growth = peak - baseline;
      this.test!.title += ` [baseline ${(baseline / MiB).toFixed(0)} MiB, peak growth ${(growth / MiB).toFixed(1)} MiB, ${sent} events written]`;
      broker.resume();
      for (const { call } of streams) call.end();
      await Promise.all(streams.map((s) => s.done));
      expect(acked).to.equal(sent);
      expect(growth).to.be.below(allowedGrowth);
    } finally {
      broker.resume();
      client.close();
    }
  });
});
