import type { SpillConfig } from '../config/schema';
import { HEADER, sendAll, type KafkaRecord, type Outcome } from '../sink';
import type { ReadEntry, SpillLog } from '../spill';
import type { Logger } from '../telemetry/logger';
import { isPermanentFailure } from './delivery-error';
import type { KafkaProducer } from './kafka-producer';
import { SpanKind } from '@opentelemetry/api';
import { RecordTracing } from './record-tracing';
import type { SpilledKeys } from './spilled-keys';
import type { SpillingSink } from './spilling-sink';

/** Where replay produces: the gateway's producer, or (`spill replay --topic`) one that retargets records. */
export type ReplayTarget = Pick<KafkaProducer, 'send' | 'connected'>;

/**
 * Replays the spill log into Kafka by itself (DESIGN.md §4): reads records in
 * append order, produces them with their original id and headers plus
 * commitlog-replayed, and acknowledges each once delivered, which moves the
 * durable cursor and deletes fully replayed segments. A round that Kafka
 * fails is retried (the same records, first) after spill.replay.retryMs; a
 * record Kafka refuses for good goes to the dead-letter log. One round of
 * spill.replay.batch records is in flight at a time, at most ratePerSecond
 * per second, so live traffic keeps most of the producer.
 */
export class Replayer {
  readonly #spill: SpillLog;
  readonly #producer: ReplayTarget;
  readonly #sink: SpillingSink;
  readonly #keys: SpilledKeys;
  readonly #config: SpillConfig['replay'];
  readonly #log: Logger;
  readonly #tracing: RecordTracing;
  #running: Promise<void> | undefined;
  #stop: (() => void) | undefined;
  readonly #stopped: Promise<void>;
  #closed = false;
  #replayed = 0;

  constructor(
    spill: SpillLog,
    producer: ReplayTarget,
    sink: SpillingSink,
    keys: SpilledKeys,
    config: SpillConfig['replay'],
    log: Logger,
    tracing: RecordTracing,
  ) {
    this.#tracing = tracing;
    this.#spill = spill;
    this.#producer = producer;
    this.#sink = sink;
    this.#keys = keys;
    this.#config = config;
    this.#log = log.child({ component: 'replay' });
    this.#stopped = new Promise((resolve) => (this.#stop = resolve));
  }

  /** Records delivered by replay since start. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Replays in the background until close(). */
  start(): void {
    this.#running ??= this.#run(false);
  }

  /** Replays until the spill log is empty (or close()): `commitlog spill replay`. */
  drain(): Promise<void> {
    this.#running ??= this.#run(true);
    return this.#running;
  }

  /** Stops after the round in flight; what it did not acknowledge is replayed next time. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop?.();
    await this.#running;
  }

  async #run(untilEmpty: boolean): Promise<void> {
    let retry: ReadEntry[] = [];
    let damageLogged = false;
    while (!this.#closed) {
      if (retry.length === 0) {
        if (untilEmpty && this.#spill.backlog.events === 0) return;
        await Promise.race([this.#spill.whenReadable(), this.#stopped]);
        if (this.#closed) return;
      }
      if (!this.#producer.connected) {
        await this.#pause(this.#config.retryMs);
        continue;
      }
      const started = Date.now();
      const entries = retry.length > 0 ? retry : await this.#spill.readBatch(this.#config.batch);
      retry = [];
      if (entries.length === 0) {
        const damage = this.#spill.damage;
        if (damage !== undefined && !damageLogged) this.#log.error({ damage }, 'replay stopped at a damaged record');
        damageLogged = damage !== undefined;
        await this.#pause(this.#config.retryMs);
        continue;
      }
      retry = await this.#round(entries);
      if (retry.length > 0) {
        this.#log.warn({ failed: retry.length, of: entries.length }, 'replay round failed; retrying');
        await this.#pause(this.#config.retryMs);
      } else if (this.#config.ratePerSecond > 0) {
        await this.#pause((entries.length / this.#config.ratePerSecond) * 1000 - (Date.now() - started));
      }
    }
  }

  /** Produces one round; returns the entries to try again, in order. */
  async #round(entries: ReadEntry[]): Promise<ReadEntry[]> {
    const spans = entries.map(({ record }) =>
      this.#tracing.start(record, `replay ${record.topic}`, SpanKind.PRODUCER, {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': record.topic,
        'commitlog.spill.reason': record.reason,
      }),
    );
    const outcomes = await Promise.all(
      sendAll(
        this.#producer,
        entries.map((e) => replayed(e.record)),
      ),
    );
    for (let i = 0; i < entries.length; i++) RecordTracing.end(spans[i], outcomes[i]);
    const again: ReadEntry[] = [];
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < entries.length; i++) {
      const { record, position } = entries[i];
      const outcome: Outcome = outcomes[i];
      if (outcome.kind === 'rejected' && isPermanentFailure(outcome)) {
        const kept = await this.#sink.deadLetter(record, outcome);
        if (kept.kind !== 'dead_lettered') {
          again.push(entries[i]);
          continue;
        }
      } else if (outcome.kind !== 'delivered') {
        again.push(entries[i]);
        continue;
      } else {
        this.#replayed++;
      }
      this.#keys.release(record);
      acks.push(this.#spill.acknowledge(position));
    }
    for (const result of await Promise.all(acks)) {
      const ack = result as Awaited<ReturnType<SpillLog['acknowledge']>>;
      if (!ack.ok)
        this.#log.error({ err: ack.message }, 'could not move the spill cursor; records will be replayed again');
    }
    return again;
  }

  #pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), this.#stopped]).finally(
      () => clearTimeout(timer),
    );
  }
}

/** The record as replay produces it: the original id and headers, plus why it was spilled. */
function replayed(record: KafkaRecord & { reason: string }): KafkaRecord {
  const { reason, ...rest } = record;
  return { ...rest, headers: [...record.headers, { [HEADER.replayed]: reason.slice(0, 200) || 'spilled' }] };
}
