import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTopic, uniqueTopic } from '../common';
import {
  COMMIT,
  COMMIT_STREAM,
  commitOne,
  frame,
  rawCall,
  rssBytes,
  startGatewayProcess,
  type GatewayProcess,
} from './raw-grpc';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Samples the RSS of `pid` every 20 ms while `work` runs; returns the work's result and the peak growth. */
async function peakGrowth<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const baseline = rssBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
  try {
    const result = await work();
    await sleep(200);
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * The gateway in its own process, so that its RSS is its own, under inputs
 * built to cost the server far more than they cost the client.
 */
describe('hostile input: memory stays bounded (gateway process)', () => {
  const topic = uniqueTopic('hostile-memory');
  let gw: GatewayProcess;
  // 1 GiB of zeros as 16 gzip members of 64 MiB each (gunzip reads them as one stream): about 1 MiB on the wire.
  const bomb = Buffer.concat(Array<Buffer>(16).fill(gzipSync(Buffer.alloc(64 * MiB), { level: 9 })));
  before(async () => {
    gw = await startGatewayProcess({ routing: { defaultTopic: topic }, grpc: { maxCallIdleMs: 2000 } });
  });
  after(() => gw?.close());

  it('refuses a gzip bomb (1 MiB inflating to 1 GiB) RESOURCE_EXHAUSTED once it inflates past limits.maxMessageBytes', async function () {
    expect(bomb.length).to.be.below(1.1 * MiB);
    const { result, growth } = await peakGrowth(gw.pid, () =>
      rawCall(gw.address, frame(bomb, { compressed: true }), { headers: { 'grpc-encoding': 'gzip' } }),
    );
    this.test!.title += ` [RSS peak growth ${(growth / MiB).toFixed(1)} MiB]`;
    expect(result.grpcStatus).to.equal(Status.RESOURCE_EXHAUSTED);
    expect(result.grpcMessage).to.equal('Received message that decompresses to a size larger than 16777216');
    // grpc-js stops inflating at limits.maxMessageBytes (16 MiB); 1 GiB would show.
    expect(growth).to.be.below(96 * MiB);
    expect(await commitOne(gw.client, 'after-bomb')).to.equal('OUTCOME_DELIVERED');
  });

  it('holds 16 bombs inflating at once on one connection to about 16 × limits.maxMessageBytes', async function () {
    const session = http2.connect(`http://${gw.address}`);
    session.on('error', () => undefined);
    try {
      const { result, growth } = await peakGrowth(gw.pid, () =>
        Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            rawCall(session, frame(bomb, { compressed: true }), {
              path: i % 2 === 0 ? COMMIT : COMMIT_STREAM,
              headers: { 'grpc-encoding': 'gzip' },
            }),
          ),
        ),
      );
      this.test!.title += ` [RSS peak growth ${(growth / MiB).toFixed(1)} MiB]`;
      expect(result.map((r) => r.grpcStatus)).to.deep.equal(Array(16).fill(Status.RESOURCE_EXHAUSTED));
      expect(growth).to.be.below(16 * 16 * MiB + 96 * MiB);
    } finally {
      session.close();
    }
    expect(await commitOne(gw.client, 'after-bombs')).to.equal('OUTCOME_DELIVERED');
  });

  it('holds 2000 silent streams over 10 connections in bounded memory, serves a normal client, and cuts them when idle', async function () {
    const sessions = Array.from({ length: 10 }, () => http2.connect(`http://${gw.address}`));
    for (const s of sessions) s.on('error', () => undefined);
    try {
      let served = '';
      const { result, growth } = await peakGrowth(gw.pid, async () => {
        const held = sessions.flatMap((session) =>
          Array.from({ length: 200 }, () => rawCall(session, [], { path: COMMIT_STREAM, end: false })),
        );
        served = await commitOne(gw.client, 'during-flood');
        return Promise.all(held);
      });
      this.test!.title += ` [RSS peak growth ${(growth / MiB).toFixed(1)} MiB]`;
      expect(served).to.equal('OUTCOME_DELIVERED');
      expect(result.filter((r) => r.grpcStatus === Status.UNAVAILABLE)).to.have.length(2000);
      expect(growth).to.be.below(128 * MiB);
    } finally {
      for (const s of sessions) s.close();
    }
    const ids = (await readTopic(topic, 3)).map((r) => r.headers['commitlog-event-id']);
    expect(ids).to.include.members(['after-bomb', 'after-bombs', 'during-flood']);
  });

  it('does not even read a bomb from a caller that is not authenticated (security.requireAuth)', async function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-tokens-'));
    writeFileSync(path.join(dir, 'tokens.yaml'), 'writer: s3cret-token-for-the-test\n');
    const authed = await startGatewayProcess(
      {
        routing: { defaultTopic: topic },
        security: { tokens: { file: path.join(dir, 'tokens.yaml') } },
      },
      's3cret-token-for-the-test',
    );
    const session = http2.connect(`http://${authed.address}`);
    session.on('error', () => undefined);
    try {
      const one = await rawCall(authed.address, frame(bomb, { compressed: true }), {
        headers: { 'grpc-encoding': 'gzip' },
      });
      expect([one.grpcStatus, one.grpcMessage]).to.deep.equal([
        Status.UNAUTHENTICATED,
        'authentication required: a bearer token or a client certificate',
      ]);
      const { result, growth } = await peakGrowth(authed.pid, () =>
        Promise.all(
          Array.from({ length: 16 }, () =>
            rawCall(session, frame(bomb, { compressed: true }), { headers: { 'grpc-encoding': 'gzip' } }),
          ),
        ),
      );
      this.test!.title += ` [RSS peak growth ${(growth / MiB).toFixed(1)} MiB]`;
      // Each call ends at its metadata and its body is never read, let alone inflated. The
      // client goes on sending bodies for streams already ended, and Node's HTTP/2 layer resets
      // the connection ENHANCE_YOUR_CALM (grpc-js clients see RESOURCE_EXHAUSTED), most likely
      // at its cap on invalid frames per connection.
      for (const r of result) {
        expect(r.grpcStatus === Status.UNAUTHENTICATED || r.resetCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM).to
          .be.true;
      }
      // 16 inflating bombs cost over 200 MiB when authenticated (above).
      expect(growth).to.be.below(48 * MiB);
      expect(await commitOne(authed.client, 'authed-after-bombs', 30_000, 's3cret-token-for-the-test')).to.equal(
        'OUTCOME_DELIVERED',
      );
    } finally {
      session.close();
      await authed.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
