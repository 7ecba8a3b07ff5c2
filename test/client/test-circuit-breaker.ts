import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { CommitLogClient } from '../../src/client';
import type { Gateway } from '../../src/gateway';
import { kafka, uniqueTopic } from '../common';
import { wireLog } from './counting-interceptor';
import { freePort, startGatewayOn } from './fixed-port-gateway';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('CommitLogClient circuit breaker', () => {
  let gateway: Gateway | undefined;
  // The broker's first start takes seconds; it must not eat into a cool-down.
  before(() => kafka());
  afterEach(() => gateway?.close());

  for (const mode of ['unary', 'stream'] as const) {
    it(`${mode}: opens after N failures and fails fast without the network; a probe after the cool-down closes it`, async () => {
      const topic = uniqueTopic(`client-breaker-${mode}`);
      const port = await freePort();
      const wire = wireLog();
      // Longer than a gateway takes to start, so that the breaker is still open once it is back.
      const coolDownMs = 3_000;
      const client = new CommitLogClient({
        address: `127.0.0.1:${port}`,
        mode,
        retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 },
        circuitBreaker: { failureThreshold: 3, coolDownMs },
        interceptors: [wire.interceptor],
      });
      const method = mode === 'unary' ? 'Commit' : 'CommitStream';
      const attempts = (): number => wire.calls.get(method) ?? 0;
      try {
        // Gateway down: one event spends its three tries; that is three failures in a row.
        const first = await client.commit({ id: 'e-1', key: 'k', topic });
        expect(first).to.include({ kind: 'rejected', code: Status.UNAVAILABLE, attempts: 3 });
        expect(attempts()).to.equal(3);
        expect(client.stats.breaker).to.equal('open');

        // Open: refused at once, nothing reaches grpc-js.
        const started = Date.now();
        const fast = await client.commitMany([1, 2, 3, 4].map((i) => ({ id: `f-${i}`, key: 'k', topic })));
        const tookMs = Date.now() - started;
        for (const o of fast) expect(o).to.include({ kind: 'rejected', code: Status.UNAVAILABLE, attempts: 0 });
        expect((fast[0] as { message: string }).message).to.match(/^circuit breaker open after 3 consecutive failures/);
        expect(attempts()).to.equal(3);
        expect(tookMs).to.be.below(100);

        // Half-open, gateway still down: the one probe fails and opens it again.
        await sleep(coolDownMs + 50);
        expect(client.stats.breaker).to.equal('half_open');
        const probe = await client.commit({ id: 'p-1', key: 'k', topic });
        expect(probe).to.include({ kind: 'rejected', attempts: 1 });
        expect(attempts()).to.equal(4);
        expect(client.stats.breaker).to.equal('open');

        // Gateway back, but the cool-down is not over: still refused.
        gateway = await startGatewayOn(port, { routing: { defaultTopic: topic } });
        expect(client.stats.breaker).to.equal('open');
        expect(await client.commit({ id: 'f-5', key: 'k', topic })).to.include({ kind: 'rejected', attempts: 0 });
        expect(attempts()).to.equal(4);

        // After the cool-down the probe succeeds and closes the breaker.
        while (client.stats.breaker === 'open') await sleep(50);
        const ok = await client.commit({ id: 'ok-1', key: 'k', value: 'v', topic });
        expect(ok).to.include({ kind: 'delivered', attempts: 1 });
        expect(client.stats.breaker).to.equal('closed');
        const more = await client.commitMany([1, 2, 3].map((i) => ({ id: `ok-${i + 1}`, key: 'k', topic })));
        expect(more.map((o) => o.kind)).to.deep.equal(['delivered', 'delivered', 'delivered']);
        expect(client.stats.fastFailures).to.be.at.least(3);
      } finally {
        await client.close(5_000);
      }
    });
  }
});
