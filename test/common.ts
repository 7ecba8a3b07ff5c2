import { credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KafkaConsumer, type LibrdKafkaError, type Message, type Metadata as KafkaMetadata } from 'node-rdkafka';
import { loadConfig } from '../src/config/load';
import type { ConfigInput } from '../src/config/schema';
import { Gateway } from '../src/gateway';
import type { Ack__Output } from '../src/gen/commitlog/v1/Ack';
import type { CommitEvent } from '../src/gen/commitlog/v1/CommitEvent';
import type { CommitLogServiceClient } from '../src/gen/commitlog/v1/CommitLogService';
import type { CommitStreamRequest } from '../src/gen/commitlog/v1/CommitStreamRequest';
import type { CommitStreamResponse__Output } from '../src/gen/commitlog/v1/CommitStreamResponse';
import { loadCommitlogProto } from '../src/server/proto';
import { createLogger, type Logger } from '../src/telemetry/logger';
import { startKafka, type KafkaFixture } from './kafka-fixture';

/** One broker per test run, started on first use and stopped after the last test. */
let kafkaFixture: Promise<KafkaFixture> | undefined;

export function kafka(): Promise<KafkaFixture> {
  kafkaFixture ??= startKafka();
  return kafkaFixture;
}

/** Mocha root hooks (this file is loaded with --require). */
export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (kafkaFixture !== undefined) await (await kafkaFixture).close();
  },
};

/** A topic no other test writes to. */
export function uniqueTopic(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

export interface TestGateway {
  readonly gateway: Gateway;
  readonly client: CommitLogServiceClient;
  /** The gateway's spill directory (a fresh temporary one unless the settings named one). */
  readonly spillDir: string;
  /** One unary Commit call. */
  commit(events: CommitEvent[], timeoutMs?: number): Promise<Ack__Output[]>;
  /** Opens a CommitStream that collects every ack until the server ends it. */
  openStream(): TestStream;
  close(): Promise<void>;
}

export interface TestStream {
  write(events: CommitEvent[]): void;
  /** Half-closes and resolves with every ack once the server ends the stream. */
  finish(): Promise<Ack__Output[]>;
  readonly call: ClientDuplexStream<CommitStreamRequest, CommitStreamResponse__Output>;
}

/** A gateway on a free loopback port, on the test broker unless `settings` says otherwise. */
export async function startGateway(settings: ConfigInput = {}, log?: Logger): Promise<TestGateway> {
  const brokers = settings.kafka?.brokers ?? (await kafka()).brokers;
  const spillDir = settings.spill?.dir ?? mkdtempSync(path.join(os.tmpdir(), 'commitlog-spill-'));
  const config = loadConfig({
    base: {
      ...settings,
      spill: { ...settings.spill, dir: spillDir },
      listen: '127.0.0.1:0',
      log: { level: 'silent' },
      telemetry: { metricsListen: '', ...settings.telemetry },
      kafka: { lingerMs: 1, ...settings.kafka, brokers },
    },
  });
  const gateway = new Gateway(config, log ?? createLogger(config.log.level));
  await gateway.start();
  const proto = loadCommitlogProto();
  const client = new proto.commitlog.v1.CommitLogService(gateway.address, credentials.createInsecure());
  return {
    gateway,
    client,
    commit: (events, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        client.Commit({ events }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) =>
          err || !response ? reject(err ?? new Error('no response')) : resolve(response.acks),
        );
      }),
    openStream: () => openStream(client),
    spillDir,
    close: async () => {
      client.close();
      await gateway.close();
      if (settings.spill?.dir === undefined) rmSync(spillDir, { recursive: true, force: true });
    },
  };
}

function openStream(client: CommitLogServiceClient): TestStream {
  const call = client.CommitStream();
  const acks: Ack__Output[] = [];
  const done = new Promise<Ack__Output[]>((resolve, reject) => {
    call.on('data', (response: CommitStreamResponse__Output) => acks.push(...response.acks));
    call.on('end', () => resolve(acks));
    call.on('error', reject);
  });
  return {
    call,
    write: (events) => call.write({ events }),
    finish: () => {
      call.end();
      return done;
    },
  };
}

/** A STORE event with text key and value. */
export function storeEvent(id: string, key: string, value: string, extra: Partial<CommitEvent> = {}): CommitEvent {
  return { id, action: 'ACTION_STORE', bucket: 'test', key: Buffer.from(key), value: Buffer.from(value), ...extra };
}

/** A record read back from Kafka, headers flattened to text. */
export interface ReadRecord {
  readonly key: string;
  readonly value: Buffer | null;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number | undefined;
  readonly headers: Record<string, string>;
}

/**
 * Reads a topic from the start of every partition with a real consumer until
 * `count` records arrived, then keeps listening for `settleMs` so that extra
 * (duplicate) records are caught too. Records are in partition, then offset order.
 */
export async function readTopic(
  topic: string,
  count: number,
  settleMs = 500,
  timeoutMs = 60_000,
  brokersOverride?: string,
): Promise<ReadRecord[]> {
  const brokers = brokersOverride ?? (await kafka()).brokers;
  const consumer = new KafkaConsumer(
    { 'group.id': `test-${randomUUID()}`, 'metadata.broker.list': brokers, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await callback<unknown>((done) => consumer.connect({ timeout: 10_000 }, done));
  try {
    const metadata = await callback<KafkaMetadata>((done) => {
      consumer.getMetadata({ topic, timeout: 10_000 }, done);
    });
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
    const messages: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    let settleUntil = Infinity;
    while (Date.now() < Math.min(deadline, settleUntil)) {
      const batch = await callback<Message[]>((done) => consumer.consume(1000, done));
      messages.push(...batch);
      if (messages.length >= count && settleUntil === Infinity) settleUntil = Date.now() + settleMs;
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    return messages
      .map((m) => ({
        key: m.key === undefined || m.key === null ? '' : m.key.toString(),
        value: m.value,
        partition: m.partition,
        offset: m.offset,
        timestamp: m.timestamp,
        headers: Object.fromEntries(
          (m.headers ?? []).flatMap((h) => Object.entries(h).map(([k, v]) => [k, Buffer.from(v).toString()])),
        ),
      }))
      .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

/** A node-rdkafka callback call as a promise that rejects with a real Error. */
function callback<T>(call: (done: (err: LibrdKafkaError | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    call((err, value) => (err ? reject(new Error(`${err.message} (librdkafka code ${err.code})`)) : resolve(value))),
  );
}

/** Forwards `port` to `target` (host:port): a broker that "comes up" when this starts. */
export async function tcpProxy(port: number, target: string): Promise<{ close(): Promise<void> }> {
  const [host, targetPort] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback port nothing listens on right now (the OS picks it, then we let go of it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The built CLI (bin/commitlog.js runs dist/; `npm test` builds it first). */
export const CLI = path.resolve(__dirname, '..', 'bin', 'commitlog.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a user would, with `input` on stdin. */
export function runCli(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
