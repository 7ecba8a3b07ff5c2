import { Metadata, status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import http2 from 'node:http2';
import { loadConfig } from '../../src/config/load';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import { loadCommitlogProto } from '../../src/server/proto';
import { kafka, readTopic, startGateway, storeEvent, uniqueTopic, type TestGateway } from '../common';
import { COMMIT, COMMIT_STREAM, frame, rawCall, type RawResult } from './raw-grpc';

const commitRequest = loadCommitlogProto().commitlog.v1.CommitLogService.service.Commit;
const encode = (events: CommitEvent[]): Buffer => commitRequest.requestSerialize({ events });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('hostile input: slow-loris calls (grpc.maxCallIdleMs)', () => {
  let gw: TestGateway;
  const topic = uniqueTopic('loris');
  before(async () => {
    gw = await startGateway({ routing: { defaultTopic: topic }, grpc: { maxCallIdleMs: 1000 } });
  });
  after(() => gw.close());

  it('ends calls that send nothing, or a few bytes, UNAVAILABLE after the idle time, while a normal client is served', async () => {
    const session = http2.connect(`http://${gw.gateway.address}`);
    session.on('error', () => undefined);
    try {
      const started = Date.now();
      const held: Array<Promise<RawResult>> = [
        ...Array.from({ length: 3 }, () => rawCall(session, [], { path: COMMIT_STREAM, end: false })),
        ...Array.from({ length: 2 }, () =>
          rawCall(session, Buffer.from([0, 0, 0]), { path: COMMIT_STREAM, end: false }),
        ),
        rawCall(session, [], { path: COMMIT, end: false }),
        // A unary call whose frame declares 100 bytes and sends 10.
        rawCall(session, frame(Buffer.alloc(10), { declaredLength: 100 }).subarray(0, 15), { end: false }),
        // A stream that sent one event and then nothing: acked, then cut once idle.
        rawCall(session, frame(encode([storeEvent('loris-1', 'k', 'v')])), { path: COMMIT_STREAM, end: false }),
      ];
      // While they are held open, a normal client commits.
      expect((await gw.commit([storeEvent('normal-1', 'k', 'v')])).map((a) => a.outcome)).to.deep.equal([
        'OUTCOME_DELIVERED',
      ]);
      const results = await Promise.all(held);
      const elapsed = Date.now() - started;
      for (const r of results) {
        expect(r.grpcStatus, r.grpcMessage).to.equal(Status.UNAVAILABLE);
        expect(r.grpcMessage).to.match(/grpc\.maxCallIdleMs/);
      }
      expect(results[6].grpcMessage).to.contain('no request message within 1000 ms');
      expect(results[7].grpcMessage).to.contain('stream idle for 1000 ms');
      // The stream that sent an event got its ack before it was cut.
      expect(results[7].data.length).to.be.greaterThan(5);
      expect(elapsed).to.be.within(900, 10_000);
      const ids = (await readTopic(topic, 2)).map((r) => r.headers['commitlog-event-id']).sort();
      expect(ids).to.deep.equal(['loris-1', 'normal-1']);
    } finally {
      session.close();
    }
  });

  it('does not cut a stream that keeps sending, however long it lives', async () => {
    const stream = gw.openStream();
    for (let i = 0; i < 6; i++) {
      stream.write([storeEvent(`busy-${i}`, 'k', 'v')]);
      await sleep(400);
    }
    const acks = await stream.finish();
    expect(acks.map((a) => a.outcome)).to.deep.equal(Array(6).fill('OUTCOME_DELIVERED'));
  });

  it('never cuts a stream that is waiting for its acks, however long Kafka takes', async function () {
    const broker = await kafka();
    if (broker.local === undefined) this.skip(); // hanging the broker needs a broker process of our own
    const stream = gw.openStream();
    broker.pause();
    try {
      stream.write([storeEvent('owed-1', 'k', 'v')]);
      // Three idle periods with an ack owed and nothing sent either way.
      await sleep(3000);
    } finally {
      broker.resume();
    }
    const acks = await stream.finish();
    expect(acks.map((a) => [a.id, a.outcome])).to.deep.equal([['owed-1', 'OUTCOME_DELIVERED']]);
  });

  it('leaves health Watch streams alone: they are idle by design', async () => {
    const session = http2.connect(`http://${gw.gateway.address}`);
    session.on('error', () => undefined);
    try {
      const watch = rawCall(session, frame(Buffer.alloc(0)), {
        path: '/grpc.health.v1.Health/Watch',
        end: false,
        timeoutMs: 2500,
      });
      // Cancelled by us after 2.5 s: no status from the server in that time.
      expect((await watch).grpcStatus).to.equal(undefined);
    } finally {
      session.close();
    }
  });

  it('is off by default: a silent stream stays open, bounded per connection by grpc.maxConcurrentStreams', async () => {
    expect(loadConfig().grpc.maxCallIdleMs).to.equal(0);
    const open = await startGateway({ routing: { defaultTopic: topic }, grpc: { maxConcurrentStreams: 2 } });
    const session = http2.connect(`http://${open.gateway.address}`);
    session.on('error', () => undefined);
    try {
      const held = [1, 2, 3].map(() => rawCall(session, [], { path: COMMIT_STREAM, end: false, timeoutMs: 2000 }));
      const results = await Promise.all(held);
      // None was ended by the server: all three were cancelled by the client at 2 s.
      expect(results.map((r) => r.grpcStatus)).to.deep.equal([undefined, undefined, undefined]);
      expect(session.remoteSettings.maxConcurrentStreams).to.equal(2);
      // Another connection is served meanwhile.
      expect((await open.commit([storeEvent('normal-2', 'k', 'v')])).map((a) => a.outcome)).to.deep.equal([
        'OUTCOME_DELIVERED',
      ]);
    } finally {
      session.close();
      await open.close();
    }
  });
});

describe('hostile input: a flood of streams and calls', () => {
  it('acks every event of a thousand concurrent streams over twenty connections, and serves a normal client meanwhile', async () => {
    const topic = uniqueTopic('flood');
    const gw = await startGateway({ routing: { defaultTopic: topic } });
    const sessions = Array.from({ length: 20 }, () => http2.connect(`http://${gw.gateway.address}`));
    for (const s of sessions) s.on('error', () => undefined);
    try {
      const calls = sessions.flatMap((session, c) =>
        Array.from({ length: 50 }, (_, s) =>
          rawCall(session, frame(encode([storeEvent(`flood-${c}-${s}`, `k${s}`, 'v')])), { path: COMMIT_STREAM }),
        ),
      );
      const normal = await gw.commit([storeEvent('flood-normal', 'k', 'v')]);
      expect(normal.map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED']);
      const results = await Promise.all(calls);
      expect(results.filter((r) => r.grpcStatus === Status.OK)).to.have.length(1000);
      const records = await readTopic(topic, 1001);
      expect(new Set(records.map((r) => r.headers['commitlog-event-id'])).size).to.equal(1001);
    } finally {
      for (const s of sessions) s.close();
      await gw.close();
    }
  });

  it('refuses unary calls past the in-flight cap RESOURCE_EXHAUSTED with a retry hint; every event it took is in Kafka', async () => {
    const topic = uniqueTopic('flood-cap');
    const gw = await startGateway({
      routing: { defaultTopic: topic },
      admission: { maxInFlightEvents: 20 },
      kafka: { lingerMs: 50 },
    });
    try {
      const outcomes = await Promise.all(
        Array.from(
          { length: 200 },
          (_, i) =>
            new Promise<{ code: Status; delivered: string[]; pushback?: string }>((resolve) => {
              const events = Array.from({ length: 5 }, (_, e) => storeEvent(`cap-${i}-${e}`, `k${e}`, 'v'));
              gw.client.Commit({ events }, new Metadata(), { deadline: Date.now() + 30_000 }, (err, res) =>
                resolve(
                  err
                    ? { code: err.code, delivered: [], pushback: String(err.metadata.get('grpc-retry-pushback-ms')[0]) }
                    : {
                        code: Status.OK,
                        delivered: res!.acks.filter((a) => a.outcome === 'OUTCOME_DELIVERED').map((a) => a.id),
                      },
                ),
              );
            }),
        ),
      );
      const refused = outcomes.filter((o) => o.code === Status.RESOURCE_EXHAUSTED);
      const ok = outcomes.filter((o) => o.code === Status.OK);
      expect(refused.length + ok.length).to.equal(200);
      expect(refused.length).to.be.greaterThan(0);
      expect(refused[0].pushback).to.equal('200');
      const delivered = ok.flatMap((o) => o.delivered);
      expect(delivered).to.have.length(ok.length * 5);
      const inKafka = (await readTopic(topic, delivered.length)).map((r) => r.headers['commitlog-event-id']);
      expect(inKafka.sort()).to.deep.equal(delivered.sort());
    } finally {
      await gw.close();
    }
  });
});
