import { Metadata, status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { Batcher } from '../../src/client/batcher';
import { CircuitBreaker } from '../../src/client/circuit-breaker';
import { EventBudget } from '../../src/client/event-budget';
import { toWire, type ClientEvent } from '../../src/client/event';
import { isDurable, settlementFromAck } from '../../src/client/outcome';
import { backoffMs, pushbackMs, retryDelayMs } from '../../src/client/retry-policy';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('client parts', () => {
  it('circuit breaker: opens after N consecutive failures, one probe when half-open, closes on a success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1_000 }, () => now);
    breaker.failure();
    breaker.failure();
    breaker.success(); // not consecutive any more
    breaker.failure();
    breaker.failure();
    expect([breaker.state, breaker.tryAcquire()]).to.deep.equal(['closed', true]);
    breaker.failure();
    expect([breaker.state, breaker.tryAcquire(), breaker.retryInMs]).to.deep.equal(['open', false, 1_000]);
    now = 999;
    expect(breaker.tryAcquire()).to.equal(false);
    now = 1_000;
    expect(breaker.state).to.equal('half_open');
    expect([breaker.tryAcquire(), breaker.tryAcquire()]).to.deep.equal([true, false]);
    breaker.release(); // the probe said nothing (e.g. RESOURCE_EXHAUSTED): another may go
    expect(breaker.tryAcquire()).to.equal(true);
    breaker.failure(); // a failed probe opens it for another cool-down
    expect([breaker.state, breaker.retryInMs]).to.deep.equal(['open', 1_000]);
    now = 2_000;
    expect(breaker.tryAcquire()).to.equal(true);
    breaker.success();
    expect([breaker.state, breaker.consecutiveFailures, breaker.tryAcquire()]).to.deep.equal(['closed', 0, true]);
  });

  it('backoff: full jitter under an exponential ceiling; pushback used as is', () => {
    const policy = { maxAttempts: 9, initialBackoffMs: 100, maxBackoffMs: 1_000, multiplier: 2 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, () => 0.999999))).to.deep.equal([99, 199, 399, 799, 999]);
    expect(backoffMs(policy, 3, () => 0)).to.equal(0);
    const samples = Array.from({ length: 2_000 }, () => backoffMs(policy, 3));
    expect(Math.max(...samples)).to.be.below(400);
    expect(samples.reduce((a, b) => a + b, 0) / samples.length).to.be.within(170, 230); // uniform: mean ≈ 200
    const trailer = new Metadata();
    trailer.set('grpc-retry-pushback-ms', '250');
    expect(pushbackMs(trailer)).to.equal(250);
    expect(retryDelayMs(policy, 1, Status.RESOURCE_EXHAUSTED, trailer)).to.equal(250);
    expect(retryDelayMs(policy, 1, Status.UNAVAILABLE, trailer)).to.be.below(100);
    trailer.set('grpc-retry-pushback-ms', '-1');
    expect(pushbackMs(trailer)).to.equal(undefined);
  });

  it('batcher: a full batch goes at once, the rest after the linger time; paused batches wait; retries go first', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number>({ maxItems: 3, lingerMs: 30 }, (b) => batches.push(b));
    for (let i = 0; i < 7; i++) batcher.add(i);
    expect(batches).to.deep.equal([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches.at(-1)).to.deep.equal([6]);
    batcher.pause();
    for (let i = 7; i < 11; i++) batcher.add(i);
    batcher.addFront([-1]);
    batcher.flush();
    expect(batches).to.have.length(3);
    batcher.resume();
    expect(batches.slice(3)).to.deep.equal([[-1, 7, 8]]);
    batcher.flush();
    expect(batches.slice(4)).to.deep.equal([[9, 10]]);
    batcher.close();
  });

  it('event budget: a cap, room handed to waiters in order, waiters refused on close', async () => {
    const budget = new EventBudget(2);
    expect([budget.tryTake(), budget.tryTake(), budget.tryTake()]).to.deep.equal([true, true, false]);
    const order: string[] = [];
    const a = budget.take().then((ok) => order.push(`a:${ok}`));
    const b = budget.take().then((ok) => order.push(`b:${ok}`));
    budget.give();
    await tick();
    expect(budget.tryTake()).to.equal(false); // b is waiting; no jumping the queue
    expect([order, budget.used]).to.deep.equal([['a:true'], 2]);
    let roomy = false;
    const room = budget.whenRoom().then(() => (roomy = true));
    budget.give(); // to b, still waiting: no room yet for anyone else
    await tick();
    expect([order, roomy]).to.deep.equal([['a:true', 'b:true'], false]);
    budget.give();
    await room;
    expect([roomy, budget.used]).to.deep.equal([true, 1]);
    expect([budget.tryTake(), budget.tryTake()]).to.deep.equal([true, false]);
    const d = budget.take().then((ok) => order.push(`d:${ok}`));
    budget.close();
    await Promise.all([a, b, d, budget.whenRoom()]);
    expect(order).to.deep.equal(['a:true', 'b:true', 'd:false']);
  });

  it('acks map onto outcomes; duplicate carries the first outcome; durable means delivered or spilled', () => {
    const base = {
      id: 'e',
      topic: '',
      partition: 0,
      offset: '0',
      firstOutcome: 'OUTCOME_UNSPECIFIED',
      code: 0,
      message: '',
    } as const;
    const delivered = settlementFromAck({
      ...base,
      outcome: 'OUTCOME_DELIVERED',
      topic: 't',
      partition: 2,
      offset: '7',
    });
    expect(delivered).to.deep.equal({ kind: 'delivered', topic: 't', partition: 2, offset: '7' });
    const duplicate = settlementFromAck({
      ...base,
      outcome: 'OUTCOME_DUPLICATE',
      firstOutcome: 'OUTCOME_DELIVERED',
      topic: 't',
      partition: 2,
      offset: '7',
    });
    expect(duplicate).to.deep.equal({ kind: 'duplicate', first: delivered });
    const spilled = settlementFromAck({ ...base, outcome: 'OUTCOME_SPILLED' });
    const dead = settlementFromAck({
      ...base,
      outcome: 'OUTCOME_DEAD_LETTERED',
      code: Status.FAILED_PRECONDITION,
      message: 'too large',
    });
    expect(dead).to.deep.equal({ kind: 'dead_lettered', code: Status.FAILED_PRECONDITION, message: 'too large' });
    expect(settlementFromAck({ ...base, outcome: 'OUTCOME_UNSPECIFIED' })).to.include({
      kind: 'rejected',
      code: Status.UNKNOWN,
    });
    expect([delivered, duplicate, spilled, dead].map(isDurable)).to.deep.equal([true, true, true, false]);
    expect(
      isDurable({ kind: 'duplicate', first: dead as { kind: 'dead_lettered'; code: number; message: string } }),
    ).to.equal(false);
  });

  it('events go on the wire as the proto wants them', () => {
    const wire = toWire(
      {
        key: 'k',
        value: new Uint8Array([1, 2]),
        action: 'DELETE',
        commitTime: new Date(1_700_000_000_123),
        metadata: { a: 'b' },
      },
      'id-1',
    );
    expect(wire).to.deep.equal({
      id: 'id-1',
      action: 'ACTION_DELETE',
      bucket: '',
      key: Buffer.from('k'),
      value: Buffer.from([1, 2]),
      contentType: '',
      metadata: { a: 'b' },
      commitTime: { seconds: 1_700_000_000, nanos: 123_000_000 },
      topic: '',
    });
    const untyped = (event: object): ClientEvent => event as ClientEvent;
    expect(() => toWire(untyped({}), 'x')).to.throw(TypeError, /^key: expected/);
    expect(() => toWire(untyped({ key: 'k', metadata: { n: 1 } }), 'x')).to.throw(
      TypeError,
      /^metadata\.n: expected a string/,
    );
    expect(() => toWire({ key: 'k', commitTime: NaN }, 'x')).to.throw(TypeError, /^commitTime/);
  });
});
