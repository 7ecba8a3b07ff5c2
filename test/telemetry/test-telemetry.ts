import { Metadata } from '@grpc/grpc-js';
import { expect } from 'chai';
import pino from 'pino';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import { startJaeger, type JaegerFixture } from '../jaeger-fixture';
import {
  freePort,
  kafka,
  readTopic,
  startGateway,
  storeEvent,
  tcpProxy,
  uniqueTopic,
  until,
  type TestGateway,
} from '../common';

interface JaegerSpan {
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; spanID: string; traceID: string }>;
  tags: Array<{ key: string; value: unknown }>;
}

const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value;

/** One sample's value from a Prometheus text exposition, by metric name and label subset. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('telemetry: traces in a real Jaeger, metrics on the Prometheus endpoint', () => {
  let jaeger: JaegerFixture;
  let gw: TestGateway;
  let metricsUrl: string;
  const topic = uniqueTopic('traced');
  const serviceName = `commitlog-test-${randomBytes(3).toString('hex')}`;
  const traceId = randomBytes(16).toString('hex');
  const clientSpanId = randomBytes(8).toString('hex');
  let acks: Ack__Output[];

  before(async () => {
    jaeger = await startJaeger();
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    gw = await startGateway({
      routing: { defaultTopic: topic },
      telemetry: { otlpEndpoint: jaeger.otlpEndpoint, metricsListen: `127.0.0.1:${metricsPort}`, serviceName },
    });
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${traceId}-${clientSpanId}-01`);
    acks = await new Promise((resolve, reject) =>
      gw.client.Commit(
        { events: [storeEvent('t-1', 'a', 'v1'), storeEvent('t-2', 'b', 'v2'), storeEvent('t-3', '', 'bad')] },
        metadata,
        (err, response) => (err || !response ? reject(err ?? new Error('no response')) : resolve(response.acks)),
      ),
    );
  });

  after(async () => {
    await gw?.close();
    await jaeger?.close();
  });

  it('exposes each golden signal on /metrics with counts equal to what was sent', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const delivered = { messaging_destination_name: topic, commitlog_outcome: 'delivered' };
    expect(sample(text, 'commitlog_events_received_total', delivered)).to.equal(2);
    expect(sample(text, 'commitlog_events_received_total', { commitlog_outcome: 'rejected' })).to.equal(1);
    expect(sample(text, 'commitlog_events_received_size_total', delivered)).to.equal(6); // keys a, b (1 byte each) + values v1, v2 (2 each)
    expect(sample(text, 'commitlog_events_rejected_total', { rpc_grpc_status_code: '3' })).to.equal(1);
    // Latency: one ack per event; delivery: one report per produced record.
    expect(sample(text, 'commitlog_ack_duration_count', { rpc_method: 'Commit' })).to.be.at.least(2);
    expect(sample(text, 'commitlog_kafka_delivery_duration_count')).to.equal(2);
    expect(sample(text, 'commitlog_ack_duration_bucket', { le: '60' })).to.be.at.least(2);
    // Traffic by method and code.
    expect(sample(text, 'commitlog_rpc_calls_total', { rpc_method: 'Commit', rpc_grpc_status_code: '0' })).to.equal(1);
    // Saturation: nothing in flight now, the caps as configured, the event loop watched.
    expect(sample(text, 'commitlog_inflight_events')).to.equal(0);
    expect(sample(text, 'commitlog_inflight_events_limit')).to.equal(50_000);
    expect(sample(text, 'commitlog_kafka_producer_queue_depth')).to.equal(0);
    expect(sample(text, 'commitlog_spill_backlog_events')).to.equal(0);
    expect(sample(text, 'nodejs_eventloop_delay_p99')).to.be.a('number').and.to.be.below(1);
  });

  it('exposes every metric the Grafana dashboard of the Helm chart queries', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const dashboard = readFileSync(
      path.join(__dirname, '..', '..', 'helm', 'commitlog', 'dashboards', 'commitlog.json'),
      'utf8',
    );
    const queried = new Set(dashboard.match(/\b(?:commitlog|nodejs)_[a-z0-9_]+/g));
    expect(queried.size).to.be.greaterThan(8);
    const samples = text.split('\n').filter((l) => !l.startsWith('#'));
    const exposed = new Set([
      ...samples.map((l) => l.split(/[{ ]/)[0]),
      ...samples.flatMap((l) => [...l.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1])), // label names
    ]);
    expect([...queried].filter((name) => !exposed.has(name))).to.deep.equal([]);
  });

  it("shows the client's parent, the server span and one produce span per record in Jaeger, and puts the trace in Kafka headers", async () => {
    expect(acks.map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED', 'OUTCOME_DELIVERED', 'OUTCOME_REJECTED']);
    await gw.close(); // flushes the batch span processor
    let spans: JaegerSpan[] = [];
    for (let attempt = 0; attempt < 50 && spans.length < 3; attempt++) {
      const response = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
      if (response.ok) {
        const body = (await response.json()) as { data: Array<{ spans: JaegerSpan[] }> };
        spans = body.data[0]?.spans ?? [];
      }
      if (spans.length < 3) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const server = spans.find((s) => s.operationName === 'commitlog.v1.CommitLogService/Commit');
    expect(server, JSON.stringify(spans.map((s) => s.operationName))).to.not.equal(undefined);
    expect(server!.references).to.deep.include({ refType: 'CHILD_OF', spanID: clientSpanId, traceID: traceId });
    expect(tag(server!, 'rpc.system')).to.equal('grpc');
    expect(tag(server!, 'rpc.grpc.status_code')).to.equal(0);

    const produce = spans.filter((s) => s.operationName === `send ${topic}`);
    expect(produce).to.have.length(2);
    for (const span of produce) {
      expect(span.references[0]).to.include({ refType: 'CHILD_OF', spanID: server!.spanID });
      expect(tag(span, 'messaging.system')).to.equal('kafka');
      expect(tag(span, 'messaging.destination.name')).to.equal(topic);
      expect(tag(span, 'commitlog.outcome')).to.equal('delivered');
      const ack = acks.find((a) => a.id === tag(span, 'messaging.message.id'))!;
      expect(tag(span, 'messaging.destination.partition.id')).to.equal(String(ack.partition));
      expect(tag(span, 'messaging.kafka.offset')).to.equal(Number(ack.offset));
    }

    const records = await readTopic(topic, 2);
    const produceIds = new Set(produce.map((s) => s.spanID));
    for (const record of records) {
      const [, recordTrace, parent] = record.headers.traceparent.split('-');
      expect(recordTrace).to.equal(traceId);
      expect(produceIds.has(parent), `traceparent parent ${parent}`).to.equal(true);
    }
  });

  it('traces a spilled event from the call through its spill and its replay into Kafka', async () => {
    const { brokers } = await kafka();
    const port = await freePort();
    const spillTopic = uniqueTopic('traced-spill');
    const spillTrace = randomBytes(16).toString('hex');
    const spilling = await startGateway({
      kafka: { brokers: `127.0.0.1:${port}`, connectTimeoutMs: 500 },
      routing: { defaultTopic: spillTopic },
      spill: { replay: { retryMs: 100 } },
      telemetry: { otlpEndpoint: jaeger.otlpEndpoint, serviceName },
    });
    let proxy: { close(): Promise<void> } | undefined;
    try {
      const metadata = new Metadata();
      metadata.set('traceparent', `00-${spillTrace}-${clientSpanId}-01`);
      const [ack] = await new Promise<Ack__Output[]>((resolve, reject) =>
        spilling.client.Commit({ events: [storeEvent('ts-1', 'k', 'v')] }, metadata, (err, response) =>
          err || !response ? reject(err ?? new Error('no response')) : resolve(response.acks),
        ),
      );
      expect(ack.outcome).to.equal('OUTCOME_SPILLED');
      proxy = await tcpProxy(port, brokers);
      await until('replay to empty the spill log', () => spilling.gateway.spillBacklog === 0);
    } finally {
      await spilling.close();
      await proxy?.close();
    }
    let spans: JaegerSpan[] = [];
    for (let attempt = 0; attempt < 50 && spans.length < 4; attempt++) {
      const response = await fetch(`${jaeger.queryUrl}/api/traces/${spillTrace}`);
      if (response.ok)
        spans = ((await response.json()) as { data: Array<{ spans: JaegerSpan[] }> }).data[0]?.spans ?? [];
      if (spans.length < 4) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const byName = (name: string) => spans.find((s) => s.operationName === name);
    const produce = byName(`send ${spillTopic}`);
    const spill = byName('spill');
    const replay = byName(`replay ${spillTopic}`);
    expect(
      [produce, spill, replay].map((s) => s !== undefined),
      JSON.stringify(spans.map((s) => s.operationName)),
    ).to.deep.equal([true, true, true]);
    expect(tag(produce!, 'commitlog.outcome')).to.equal('spilled');
    expect(spill!.references[0]).to.include({ spanID: produce!.spanID });
    expect(tag(spill!, 'commitlog.outcome')).to.equal('spilled');
    expect(replay!.references[0]).to.include({ spanID: produce!.spanID });
    expect(tag(replay!, 'commitlog.outcome')).to.equal('delivered');
    const [record] = await readTopic(spillTopic, 1);
    expect(record.headers.traceparent.split('-')[1]).to.equal(spillTrace);
    expect(record.headers['commitlog-replayed']).to.match(/Kafka unavailable/);
    expect(tag(replay!, 'messaging.kafka.offset')).to.equal(record.offset);
  });

  it('logs a failed RPC as JSON with its trace and span ids', async function () {
    const broker = await kafka();
    if (broker.local === undefined) this.skip(); // pausing needs a broker process of our own
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const logged = await startGateway({ admission: { maxInFlightEvents: 1 } }, log);
    try {
      await logged.commit([storeEvent('l-0', 'k', 'warm')]);
      broker.pause();
      const held = logged.commit([storeEvent('l-1', 'k', 'v')]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const metadata = new Metadata();
      metadata.set('traceparent', `00-${traceId}-${clientSpanId}-01`);
      // Past the in-flight cap: the call fails RESOURCE_EXHAUSTED.
      const error = await new Promise<Error & { code?: number }>((resolve) =>
        logged.client.Commit({ events: [storeEvent('l-2', 'k', 'v')] }, metadata, (err) => resolve(err!)),
      );
      expect(error.code).to.equal(8);
      broker.resume();
      await held;
    } finally {
      broker.resume();
      await logged.close();
    }
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'rpc failed');
    expect(failed).to.include({ trace_id: traceId, method: '/commitlog.v1.CommitLogService/Commit', code: 8 });
    expect(failed?.span_id).to.match(/^[0-9a-f]{16}$/);
  });
});

describe('telemetry: tracing off', () => {
  it("passes a client's traceparent on to the Kafka headers, adds none to calls without one, and still counts every RPC", async () => {
    const topic = uniqueTopic('untraced');
    const metricsPort = await freePort();
    const gw = await startGateway({
      routing: { defaultTopic: topic },
      telemetry: { metricsListen: `127.0.0.1:${metricsPort}` },
    });
    try {
      const traceId = randomBytes(16).toString('hex');
      const parentSpan = randomBytes(8).toString('hex');
      const metadata = new Metadata();
      metadata.set('traceparent', `00-${traceId}-${parentSpan}-01`);
      const commit = (id: string, md: Metadata): Promise<Ack__Output[]> =>
        new Promise((resolve, reject) =>
          gw.client.Commit({ events: [storeEvent(id, id, 'v')] }, md, (err, response) =>
            err || !response ? reject(err ?? new Error('no response')) : resolve(response.acks),
          ),
        );
      expect((await commit('with-parent', metadata))[0].outcome).to.equal('OUTCOME_DELIVERED');
      expect((await commit('without', new Metadata()))[0].outcome).to.equal('OUTCOME_DELIVERED');
      const records = await readTopic(topic, 2);
      const byId = new Map(records.map((r) => [r.headers['commitlog-event-id'], r]));
      // No span of its own with tracing off: the client's context goes on as it came.
      expect(byId.get('with-parent')!.headers.traceparent).to.equal(`00-${traceId}-${parentSpan}-01`);
      expect(byId.get('without')!.headers).to.not.have.property('traceparent');
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(sample(text, 'commitlog_rpc_calls_total', { rpc_method: 'Commit', rpc_grpc_status_code: '0' })).to.equal(
        2,
      );
    } finally {
      await gw.close();
    }
  });
});
