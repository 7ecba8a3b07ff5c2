import { unlink } from 'node:fs/promises';
import { loadConfig } from '../config/load';
import { CommitlogError } from '../errors';
import { deliveryRecorder, ProducerSink } from '../kafka/producer-sink';
import { RecordTracing } from '../kafka/record-tracing';
import { Replayer, type ReplayTarget } from '../kafka/replayer';
import { SpilledKeys } from '../kafka/spilled-keys';
import { SpillingSink } from '../kafka/spilling-sink';
import { sendAll, type KafkaRecord } from '../sink';
import { DeadLetterLog, DiskBudget, SpillLog } from '../spill';
import { lockSpillDir, walkSegments } from '../spill/spill-tools';
import { createLogger } from '../telemetry/logger';
import { Telemetry, type Instruments } from '../telemetry/telemetry';
import { VERSION } from '../version';

export interface SpillReplayOptions {
  brokers?: string;
  topic?: string;
  dead?: boolean;
  config?: string;
  timeout: number;
}

/**
 * `commitlog spill replay DIR`: empties a spill directory no gateway is using
 * (a scaled-away pod's volume, as a Kubernetes Job; the directory's lock,
 * taken as a gateway takes it, refuses one in use) into Kafka, with the same
 * replayer the gateway runs. With --dead it produces the dead letters instead,
 * once the operator has fixed their cause (e.g. to a topic that takes larger
 * records), and deletes their segments when every one of them is delivered.
 */
export async function spillReplayCommand(dir: string, options: SpillReplayOptions): Promise<void> {
  const config = loadConfig({
    file: options.config,
    env: process.env,
    base: { spill: { dir }, ...(options.brokers === undefined ? {} : { kafka: { brokers: options.brokers } }) },
  });
  const log = createLogger(config.log.level);
  // No Prometheus endpoint for a one-off command; traces of replayed records still go to OTLP when configured.
  const telemetry = new Telemetry({ ...config.telemetry, metricsListen: '' }, VERSION, log);
  const instruments = telemetry.instruments;
  const producer = new ProducerSink(config.kafka, log, deliveryRecorder(instruments.metrics));
  await producer.start();
  if (!producer.connected) {
    await producer.close(0);
    throw new CommitlogError(
      'SPILL_UNAVAILABLE',
      `cannot reach Kafka at ${config.kafka.brokers}: ${producer.lastError}`,
    );
  }
  const target: ReplayTarget = {
    get connected() {
      return producer.connected;
    },
    send: (records, settle) =>
      producer.send(
        options.topic === undefined ? records : records.map((r) => ({ ...r, topic: options.topic! })),
        settle,
      ),
  };
  try {
    process.exitCode =
      options.dead === true
        ? await replayDead(dir, target)
        : await replaySpill(config, target, producer, log, instruments, options.timeout);
  } finally {
    await producer.close(5_000);
    await telemetry.close();
  }
}

async function replaySpill(
  config: ReturnType<typeof loadConfig>,
  target: ReplayTarget,
  producer: ProducerSink,
  log: ReturnType<typeof createLogger>,
  instruments: Instruments,
  timeoutMs: number,
): Promise<number> {
  const { dir, maxBytes, segmentBytes } = config.spill;
  const budget = new DiskBudget(maxBytes);
  const spill = new SpillLog({ dir, maxBytes, segmentBytes }, { budget });
  const dead = new DeadLetterLog({ dir, maxBytes, segmentBytes }, { budget });
  const report = await spill.open();
  await dead.open();
  const keys = new SpilledKeys();
  const tracing = new RecordTracing(instruments);
  const sink = new SpillingSink(producer, spill, dead, keys, instruments.metrics, tracing, () => undefined);
  const replayer = new Replayer(spill, target, sink, keys, config.spill.replay, log, tracing);
  const timer = setTimeout(() => void replayer.close(), timeoutMs);
  try {
    await replayer.drain();
  } finally {
    clearTimeout(timer);
    await replayer.close();
  }
  const left = spill.backlog.events;
  await spill.close();
  await dead.close();
  process.stdout.write(
    `${JSON.stringify({ dir, backlogAtStart: report.backlog.events, replayed: replayer.replayed, left, deadLetters: dead.stored.events })}\n`,
  );
  return left === 0 ? 0 : 1;
}

/** Holds the directory's locks throughout: a gateway appending to the dead letters deleted below would lose records. */
async function replayDead(dir: string, target: ReplayTarget): Promise<number> {
  const locks = await lockSpillDir(dir);
  for (const line of locks.takenOver) process.stderr.write(`${line}\n`);
  try {
    return await produceDead(dir, target);
  } finally {
    await locks.release();
  }
}

async function produceDead(dir: string, target: ReplayTarget): Promise<number> {
  const records: KafkaRecord[] = [];
  const segments = new Set<string>();
  await walkSegments(dir, (ref, _offset, _bytes, record) => {
    if (ref.log !== 'dead') return;
    segments.add(ref.path);
    const { reason, ...rest } = record;
    records.push(rest);
  });
  const outcomes = await Promise.all(sendAll(target, records));
  const failed = outcomes.flatMap((o, i) => (o.kind === 'delivered' ? [] : [{ id: records[i].id, outcome: o }]));
  for (const f of failed) process.stderr.write(`${JSON.stringify(f)}\n`);
  if (failed.length === 0) for (const file of segments) await unlink(file);
  process.stdout.write(
    `${JSON.stringify({ dir, deadLetters: records.length, delivered: records.length - failed.length, failed: failed.length, segmentsDeleted: failed.length === 0 ? segments.size : 0 })}\n`,
  );
  return failed.length === 0 ? 0 : 1;
}
