import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { CommitLogClient, type CommitLogClientOptions } from '../../src/client';
import { delivered, rejected, startStub, type StubGateway, type StubScript } from './stub-gateway';

/**
 * Retry behaviour against a scripted stub: the real gateway cannot be made to
 * answer RESOURCE_EXHAUSTED with a hint, or reject one event retryably, on cue.
 * (Retries against the real gateway and broker: test-gateway-restart.ts.)
 */
describe('CommitLogClient retries', () => {
  let stub: StubGateway | undefined;
  let client: CommitLogClient | undefined;
  afterEach(async () => {
    await client?.close(2_000);
    await stub?.close();
  });
  const start = async (script: StubScript, options: Partial<CommitLogClientOptions> = {}): Promise<CommitLogClient> => {
    stub = await startStub(script);
    client = new CommitLogClient({
      address: stub.address,
      retry: { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 2 },
      circuitBreaker: false,
      ...options,
    });
    return client;
  };

  it('honours grpc-retry-pushback-ms on RESOURCE_EXHAUSTED, resending the same ids', async () => {
    const c = await start({
      commit: (events, n) =>
        n === 0
          ? { code: Status.RESOURCE_EXHAUSTED, details: 'at the in-flight cap', pushbackMs: 300 }
          : { acks: events.map((e) => delivered(e.id)) },
    });
    const outcomes = await c.commitMany([{ key: 'a' }, { id: 'b', key: 'b' }]);
    expect(outcomes.map((o) => [o.kind, o.attempts])).to.deep.equal([
      ['delivered', 2],
      ['delivered', 2],
    ]);
    const [first, second] = stub!.received;
    expect(second.ids).to.deep.equal(first.ids);
    expect(first.ids[0]).to.equal(outcomes[0].id);
    // Backoff alone would wait at most 2 ms.
    expect(second.at - first.at).to.be.within(290, 1_000);
  });

  it('retries only events acked REJECTED with UNAVAILABLE or RESOURCE_EXHAUSTED; INVALID_ARGUMENT and PERMISSION_DENIED are final', async () => {
    const c = await start({
      commit: (events, n) => ({
        acks: events.map((e) => {
          if (n > 0 || e.id === 'ok') return delivered(e.id);
          if (e.id === 'bad') return rejected(e.id, Status.INVALID_ARGUMENT, 'key: required');
          if (e.id === 'denied') return rejected(e.id, Status.PERMISSION_DENIED, 'topic: not allowed');
          if (e.id === 'busy') return rejected(e.id, Status.RESOURCE_EXHAUSTED, 'spill log full');
          return rejected(e.id, Status.UNAVAILABLE, 'kafka unavailable');
        }),
      }),
    });
    const outcomes = await c.commitMany([
      { id: 'ok', key: 'k' },
      { key: 'k' },
      { id: 'bad', key: '' },
      { id: 'busy', key: 'k' },
      { id: 'denied', key: 'k', topic: 'x' },
    ]);
    expect(outcomes.map((o) => [o.kind, o.attempts])).to.deep.equal([
      ['delivered', 1],
      ['delivered', 2],
      ['rejected', 1],
      ['delivered', 2],
      ['rejected', 1],
    ]);
    expect(outcomes[2]).to.include({ code: Status.INVALID_ARGUMENT, message: 'key: required' });
    expect(outcomes[4]).to.include({ code: Status.PERMISSION_DENIED });
    expect(stub!.received.map((r) => r.ids)).to.deep.equal([
      ['ok', outcomes[1].id, 'bad', 'busy', 'denied'],
      [outcomes[1].id, 'busy'],
    ]);
  });

  it('resolves a final failure as rejected with the last code and message, after maxAttempts tries with jittered backoff', async () => {
    const c = await start(
      { commit: (_events, n) => ({ code: Status.UNAVAILABLE, details: `down #${n + 1}` }) },
      { retry: { maxAttempts: 5, initialBackoffMs: 40, maxBackoffMs: 100, multiplier: 2 } },
    );
    const outcome = await c.commit({ id: 'e', key: 'k' });
    expect(outcome).to.deep.equal({
      kind: 'rejected',
      code: Status.UNAVAILABLE,
      message: 'down #5',
      id: 'e',
      attempts: 5,
    });
    const at = stub!.received.map((r) => r.at);
    expect(at).to.have.length(5);
    // Full jitter: each wait is in [0, min(100, 40 × 2^(n-1))], plus scheduling slack.
    const caps = [40, 80, 100, 100];
    at.slice(1).forEach((t, i) => expect(t - at[i], `wait ${i + 1}`).to.be.within(0, caps[i] + 40));
  });

  it('retries a call past its deadline (DEADLINE_EXCEEDED) with the same id', async () => {
    const c = await start(
      { commit: (events, n) => (n === 0 ? 'hang' : { acks: events.map((e) => delivered(e.id)) }) },
      { deadlineMs: 200 },
    );
    const started = Date.now();
    const outcome = await c.commit({ key: 'k' });
    expect(outcome).to.include({ kind: 'delivered', attempts: 2 });
    expect(Date.now() - started).to.be.at.least(190);
    expect(stub!.received[1].ids).to.deep.equal([outcome.id]);
  });

  it('treats other call statuses (UNAUTHENTICATED) as final', async () => {
    const c = await start({ commit: () => ({ code: Status.UNAUTHENTICATED, details: 'bad token' }) });
    expect(await c.commit({ id: 'e', key: 'k' })).to.deep.equal({
      kind: 'rejected',
      code: Status.UNAUTHENTICATED,
      message: 'bad token',
      id: 'e',
      attempts: 1,
    });
    expect(stub!.received).to.have.length(1);
  });

  it('stream: after a broken stream, resends on a new one only the events without an ack', async () => {
    const c = await start(
      {
        stream: (events, call, n) => {
          if (n > 0) return void call.write({ acks: events.map((e) => delivered(e.id)) });
          call.write({ acks: events.slice(0, 3).map((e) => delivered(e.id)) });
          // grpc-js: emitting 'error' on a server stream ends the call with that status.
          setTimeout(() => call.emit('error', { code: Status.UNAVAILABLE, details: 'gone' }), 50);
        },
      },
      { mode: 'stream' },
    );
    const outcomes = await c.commitMany(Array.from({ length: 6 }, (_, i) => ({ id: `s-${i}`, key: 'k' })));
    expect(outcomes.map((o) => [o.kind, o.attempts])).to.deep.equal([
      ['delivered', 1],
      ['delivered', 1],
      ['delivered', 1],
      ['delivered', 2],
      ['delivered', 2],
      ['delivered', 2],
    ]);
    expect(stub!.received.map((r) => [r.n, r.ids])).to.deep.equal([
      [0, ['s-0', 's-1', 's-2', 's-3', 's-4', 's-5']],
      [1, ['s-3', 's-4', 's-5']],
    ]);
  });

  it('stream: an event without its ack within deadlineMs replaces the stream; a retryable ack is resent on the same one', async () => {
    const seen = new Set<string>();
    const c = await start(
      {
        stream: (events, call, n) => {
          if (n === 0) return; // swallows everything: a stream that looks alive but is not
          call.write({
            acks: events.map((e) => {
              const again = seen.has(e.id);
              seen.add(e.id);
              return again ? delivered(e.id) : rejected(e.id, Status.UNAVAILABLE, 'kafka unavailable');
            }),
          });
        },
      },
      { mode: 'stream', deadlineMs: 300 },
    );
    const outcome = await c.commit({ id: 'd-1', key: 'k' });
    expect(outcome).to.include({ kind: 'delivered', attempts: 3 });
    expect(stub!.received.map((r) => r.n)).to.deep.equal([0, 1, 1]);
    expect(c.stats).to.include({ streams: 2, resends: 2 });
  });
});
