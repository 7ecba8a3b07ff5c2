import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { credentials, status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { loadCommitlogProto } from '../../src/server/proto';
import { freePort, kafka, uniqueTopic } from '../common';
import { HealthClient } from '../server/grpc-clients';
import { busyStream } from '../server/stream-writer';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'commitlog.js');

/** Polls Check with a fresh channel each time, so no reconnect back-off stretches the wait. */
async function untilServing(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = new HealthClient(address);
    const result = await health.check('', 1_000);
    health.close();
    if (result.ok && result.value === 'SERVING') return;
    if (Date.now() > deadline) throw new Error(`gateway at ${address} not SERVING: ${JSON.stringify(result)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('commitlog serve', () => {
  it('drains on SIGTERM: an open stream is ended UNAVAILABLE and the process exits 0', async () => {
    const { brokers } = await kafka();
    const address = `127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        COMMITLOG_LISTEN: address,
        COMMITLOG_KAFKA_BROKERS: brokers,
        COMMITLOG_DEFAULT_TOPIC: uniqueTopic('serve'),
        COMMITLOG_METRICS_LISTEN: '127.0.0.1:0',
        COMMITLOG_SPILL_DIR: mkdtempSync(path.join(os.tmpdir(), 'commitlog-serve-spill-')),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const proto = loadCommitlogProto();
    const client = new proto.commitlog.v1.CommitLogService(address, credentials.createInsecure());
    try {
      await untilServing(address);
      const stream = busyStream(client, 'serve', uniqueTopic('serve-stream'));
      while (stream.acks.length === 0) await new Promise((r) => setTimeout(r, 20));

      child.kill('SIGTERM');
      expect(await exited, stderr).to.equal(0);
      expect(await stream.ended).to.deep.equal({
        ok: false,
        code: Status.UNAVAILABLE,
        details: 'gateway is shutting down',
      });
      expect(stream.acks.every((a) => a.outcome === 'OUTCOME_DELIVERED')).to.equal(true);
      const logged = stderr
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(logged).to.include.members(['draining', 'closed']);
      expect(logged.indexOf('draining')).to.be.below(logged.indexOf('closed'));
    } finally {
      client.close();
      child.kill('SIGKILL');
    }
  });
});
