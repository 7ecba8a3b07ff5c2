import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/load';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import type { CommitResponse__Output } from '../../src/gen/commitlog/v1/CommitResponse';
import { grpcServerOptions } from '../../src/server/server-options';
import { startGateway, storeEvent, uniqueTopic, type TestGateway } from '../common';
import { failed, type CallResult } from './grpc-clients';

/** One unary Commit, its failure as data. */
function commit(
  gw: TestGateway,
  events: CommitEvent[],
  timeoutMs = 10_000,
): Promise<CallResult<CommitResponse__Output>> {
  return new Promise((resolve) => {
    gw.client.Commit({ events }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) =>
      resolve(err || !response ? failed(err) : { ok: true, value: response }),
    );
  });
}

describe('gRPC server limits', () => {
  it('refuses a message over limits.maxMessageBytes RESOURCE_EXHAUSTED, and the same channel goes on working', async () => {
    const topic = uniqueTopic('max-message');
    const gw = await startGateway({ routing: { defaultTopic: topic }, limits: { maxMessageBytes: 64 * 1024 } });
    try {
      const big = await commit(gw, [storeEvent('big-1', 'k', 'x'.repeat(100 * 1024))]);
      expect(big).to.include({ ok: false, code: Status.RESOURCE_EXHAUSTED });

      const normal = await commit(gw, [storeEvent('small-1', 'k', 'v')]);
      expect(normal.ok && normal.value.acks.map((a) => [a.id, a.outcome])).to.deep.equal([
        ['small-1', 'OUTCOME_DELIVERED'],
      ]);

      // On a stream the over-sized message ends that stream; a new one on the same channel works.
      const stream = gw.openStream();
      stream.write([storeEvent('big-2', 'k', 'x'.repeat(100 * 1024))]);
      const ended = await stream.finish().then(
        () => 'OK',
        (err: ServiceError) => err.code,
      );
      expect(ended).to.equal(Status.RESOURCE_EXHAUSTED);
      const next = gw.openStream();
      next.write([storeEvent('small-2', 'k', 'v')]);
      expect((await next.finish()).map((a) => [a.id, a.outcome])).to.deep.equal([['small-2', 'OUTCOME_DELIVERED']]);
    } finally {
      await gw.close();
    }
  });

  it('caps calls open at once on one connection with grpc.maxConcurrentStreams: the next call waits for a free slot', async () => {
    const topic = uniqueTopic('max-streams');
    const gw = await startGateway({ routing: { defaultTopic: topic }, grpc: { maxConcurrentStreams: 1 } });
    try {
      const stream = gw.openStream();
      stream.write([storeEvent('ms-1', 'k', 'v')]);
      await new Promise((r) => setTimeout(r, 200));
      // The only slot is taken by the open stream: this call cannot start before its deadline.
      const waiting = await commit(gw, [storeEvent('ms-2', 'k', 'v')], 1000);
      expect(waiting).to.include({ ok: false, code: Status.DEADLINE_EXCEEDED });
      expect((await stream.finish()).map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED']);
      const after = await commit(gw, [storeEvent('ms-3', 'k', 'v')]);
      expect(after.ok && after.value.acks.map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED']);
    } finally {
      await gw.close();
    }
  });
});

describe('grpc settings', () => {
  it('become grpc-js server options; 0 leaves a setting out (no limit)', () => {
    expect(grpcServerOptions(loadConfig())).to.deep.equal({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.max_concurrent_streams': 1000,
    });
    const tuned = loadConfig({
      base: {
        grpc: {
          keepaliveTimeMs: 0,
          maxConnectionAgeMs: 1_800_000,
          maxConnectionAgeGraceMs: 30_000,
          maxConnectionIdleMs: 600_000,
        },
      },
    });
    expect(grpcServerOptions(tuned)).to.deep.equal({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.max_concurrent_streams': 1000,
      'grpc.max_connection_age_ms': 1_800_000,
      'grpc.max_connection_age_grace_ms': 30_000,
      'grpc.max_connection_idle_ms': 600_000,
    });
  });

  it('refuse a value that is neither 0 nor sensible, naming the setting', () => {
    expect(() => loadConfig({ base: { grpc: { keepaliveTimeMs: 10 } } })).to.throw(
      'grpc.keepaliveTimeMs (from settings): 0 (off) or at least 1000',
    );
    expect(() => loadConfig({ base: { grpc: { maxConcurrentStreams: 0 } } })).to.throw('grpc.maxConcurrentStreams');
    expect(() => loadConfig({ base: { grpc: { reflection: 'yes' } } as never })).to.throw('grpc.reflection');
  });
});
