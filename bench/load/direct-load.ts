import { CODES, Producer, type DeliveryReport, type LibrdKafkaError, type MessageHeader } from 'node-rdkafka';
import { loadConfig } from '../../src/config/load';
import { producerProperties } from '../../src/kafka/producer-config';
import { HEADER } from '../../src/sink';
import type { AckRecorder } from './ack-recorder';
import type { LoadDriver } from './load-driver';
import { Pacer } from './pacer';
import type { LoadPlan } from './protocol';
import { BENCH_BUCKET, pad, valuePool } from './request-template';

const DELIVERED = 1;
const REJECTED = 5;
/** Open loop: past this many records in flight, intended sends are skipped and counted. */
const OPEN_LOOP_CAP = 200_000;

/**
 * The ceiling for this broker on this box: the same events produced by
 * node-rdkafka in one process, no gRPC. The producer is configured exactly as
 * the gateway's (producerProperties of the default kafka settings: idempotent,
 * acks=all, the same linger.ms, batch size, compression, queue and poll
 * interval), records carry the same key, value and headers as the gateway
 * writes, and each one waits for its own delivery report.
 */
export class DirectLoad implements LoadDriver {
  readonly #plan: LoadPlan;
  readonly #recorder: AckRecorder;
  readonly #producer: Producer;
  readonly #pollIntervalMs: number;
  readonly #pool: Buffer;
  #poolAt = 0;
  #pacer: Pacer | undefined;
  #nextSeq = 0;
  #inFlight = 0;
  #running = false;

  constructor(plan: LoadPlan, recorder: AckRecorder) {
    this.#plan = plan;
    this.#recorder = recorder;
    const kafka = loadConfig({ base: { kafka: { brokers: plan.brokers } } }).kafka;
    this.#pollIntervalMs = kafka.pollIntervalMs;
    const properties = producerProperties({ ...kafka, clientId: 'commitlog-bench-direct' });
    this.#producer = new Producer(properties.global, properties.topic);
    this.#producer.on('delivery-report', (err, report) => this.#delivered(err, report));
    this.#pool = valuePool(plan.valueBytes);
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#producer.connect({ timeout: 30_000 }, (err) => {
        if (err) return reject(new Error(`direct producer: ${err.message}`));
        this.#producer.setPollInterval(this.#pollIntervalMs);
        resolve();
      }),
    );
  }

  run(): void {
    this.#running = true;
    if (this.#plan.rate === undefined) {
      this.#pump();
    } else {
      this.#pacer = new Pacer(1000 / this.#plan.rate, (at) => this.#paced(at), this.#recorder);
      this.#pacer.start();
    }
  }

  stop(): void {
    this.#running = false;
    this.#pacer?.stop();
  }

  close(): Promise<void> {
    this.stop();
    return new Promise((resolve) => this.#producer.disconnect(1_000, () => resolve()));
  }

  #pump(): void {
    while (this.#running && this.#inFlight < this.#plan.inflight && this.#produce(performance.now())) {
      // #produce sends one record per turn of this loop.
    }
  }

  #paced(intendedAt: number): void {
    if (this.#inFlight >= OPEN_LOOP_CAP || !this.#produce(intendedAt)) this.#recorder.skipped(1);
  }

  /** One record; its delivery report's latency is measured from `at` (carried as the opaque). False when librdkafka did not take it. */
  #produce(at: number): boolean {
    const seq = this.#nextSeq;
    const digits = pad(seq);
    const valueBytes = this.#plan.valueBytes;
    if (this.#poolAt + valueBytes > this.#pool.length) this.#poolAt = 0;
    // librdkafka copies key and value on produce: a view into the pool is enough.
    const value = this.#pool.subarray(this.#poolAt, this.#poolAt + valueBytes);
    this.#poolAt += valueBytes + 7;
    const headers: MessageHeader[] = [
      { [HEADER.eventId]: `${this.#plan.idPrefix}${digits}` },
      { [HEADER.action]: 'STORE' },
      { [HEADER.bucket]: BENCH_BUCKET },
    ];
    try {
      this.#producer.produce(this.#plan.topic, null, value, Buffer.from(`k${digits}`), 0, at, headers);
    } catch (err) {
      if ((err as LibrdKafkaError).code === CODES.ERRORS.ERR__QUEUE_FULL) return false;
      // Not retried: the loop stops here, and the next delivery report starts it again.
      this.#recorder.callFailed(1, `produce: ${(err as Error).message}`);
      return false;
    }
    this.#nextSeq++;
    this.#inFlight++;
    this.#recorder.sent(1);
    return true;
  }

  #delivered(err: LibrdKafkaError | null, report: DeliveryReport): void {
    this.#inFlight--;
    const latency = performance.now() - (report.opaque as number);
    this.#recorder.ack(err ? REJECTED : DELIVERED, latency);
    if (this.#plan.rate === undefined) this.#pump();
  }
}
