import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { Config } from '../config/schema';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import type { KafkaRecord, Outcome, Settle, Sink } from '../sink';
import type { CounterSeries } from '../telemetry/local-histograms';
import type { Instruments } from '../telemetry/telemetry';
import { Admission } from './admission';
import { DedupSink } from './dedup-sink';
import { ProduceTracing } from './produce-tracing';
import { EventValidator } from './validate';

/**
 * The ingest stage: validates and routes a batch of decoded events, hands the
 * valid ones to the sink as one batch, and settles every event with exactly
 * one outcome. An invalid event is rejected alone; the rest of its
 * batch goes on. Retries of settled ids are caught before the sink.
 * Outcomes are handed to a callback, not returned as promises: at tens of
 * thousands of events a second, a promise per event and per stage was a
 * measurable share of the gateway's CPU and of its garbage.
 */
export class Ingestor {
  readonly #validator: EventValidator;
  readonly #sink: DedupSink;
  readonly #tracing: ProduceTracing;
  readonly #instruments: Instruments;
  readonly admission: Admission;
  readonly #trafficByTopic = new Map<string, Map<Outcome['kind'], Traffic>>();

  constructor(config: Config, sink: Sink, instruments: Instruments) {
    this.#validator = new EventValidator(config.limits, config.routing, config.security.principals);
    this.#sink = new DedupSink(sink, config.dedup);
    this.#tracing = new ProduceTracing(instruments);
    this.#instruments = instruments;
    this.admission = new Admission(config.admission);
  }

  /**
   * For unary calls: false, and nothing taken, when the in-flight caps have no room for the whole batch.
   * `principal` is the authenticated caller (security.principals decides what it may write).
   */
  trySubmit(
    events: readonly CommitEvent__Output[],
    settle: Settle,
    trace: Context = ROOT_CONTEXT,
    principal?: string,
  ): boolean {
    const bytes = batchBytes(events);
    if (!this.admission.tryAcquire(events.length, bytes)) return false;
    this.#submit(events, bytes, settle, trace, principal);
    return true;
  }

  /** For streams: always taken; the caller stops reading while `admission.full`. */
  submit(
    events: readonly CommitEvent__Output[],
    settle: Settle,
    trace: Context = ROOT_CONTEXT,
    principal?: string,
  ): void {
    const bytes = batchBytes(events);
    this.admission.acquire(events.length, bytes);
    this.#submit(events, bytes, settle, trace, principal);
  }

  /**
   * Calls `settle` once per event as it settles (an invalid event during this
   * call). One closure per batch, and no promise of its own per event: the
   * sink's promise is the only one an event costs here.
   */
  #submit(
    events: readonly CommitEvent__Output[],
    bytes: number,
    settle: Settle,
    trace: Context,
    principal: string | undefined,
  ): void {
    const outcomes = new Array<Outcome>(events.length);
    /** Each event's topic once routed, for the traffic metrics. */
    const topics = new Array<string>(events.length);
    let remaining = events.length;
    const settleAt = (i: number, outcome: Outcome): void => {
      outcomes[i] = outcome;
      settle(i, outcome);
      // The batch's room is given back, and its traffic counted, when its last event settles.
      if (--remaining === 0) {
        this.admission.release(events.length, bytes);
        this.#count(events, topics, outcomes);
      }
    };
    let records: KafkaRecord[] = [];
    const positions: number[] = [];
    const invalid: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const result = this.#validator.validate(events[i], principal);
      if (result.ok) {
        records.push(result.record);
        positions.push(i);
        topics[i] = result.record.topic;
      } else {
        topics[i] = UNROUTED;
        outcomes[i] = result.outcome;
        invalid.push(i);
      }
    }
    if (records.length > 0) {
      const traced = this.#tracing.start(records, trace);
      if (traced !== undefined) records = traced.records;
      const ends = traced?.end;
      this.#sink.send(records, (j, outcome) => {
        ends?.[j](outcome);
        settleAt(positions[j], outcome);
      });
    }
    for (const i of invalid) settleAt(i, outcomes[i]);
  }

  /** Traffic and errors by topic and outcome, one counter add per distinct pair in the batch. */
  #count(events: readonly CommitEvent__Output[], topics: string[], outcomes: Outcome[]): void {
    const { rejections } = this.#instruments.metrics;
    let last: Traffic | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i];
      // Nearly every batch has one topic and one outcome: the previous event's counters usually serve.
      const traffic =
        last !== undefined && last.topic === topics[i] && last.kind === outcome.kind
          ? last
          : this.#traffic(topics[i], outcome.kind);
      if (traffic !== last) {
        last?.flush();
        last = traffic;
      }
      traffic.pendingEvents++;
      traffic.pendingBytes += events[i].key.length + events[i].value.length;
      if (outcome.kind === 'rejected') rejections.add(1, { 'rpc.grpc.status_code': outcome.code });
    }
    last?.flush();
  }

  /** The counters of one topic and outcome, made on first use (bounded: topics × five outcomes). */
  #traffic(topic: string, kind: Outcome['kind']): Traffic {
    let byKind = this.#trafficByTopic.get(topic);
    if (byKind === undefined) {
      byKind = new Map();
      this.#trafficByTopic.set(topic, byKind);
    }
    let traffic = byKind.get(kind);
    if (traffic === undefined) {
      const attributes = { 'messaging.destination.name': topic, 'commitlog.outcome': kind };
      const { eventsReceived, bytesReceived } = this.#instruments.metrics;
      traffic = new Traffic(topic, kind, eventsReceived.series(attributes), bytesReceived.series(attributes));
      byKind.set(kind, traffic);
    }
    return traffic;
  }
}

/** commitlog.events.received and .size of one topic and outcome. */
class Traffic {
  pendingEvents = 0;
  pendingBytes = 0;

  constructor(
    readonly topic: string,
    readonly kind: Outcome['kind'],
    readonly events: CounterSeries,
    readonly bytes: CounterSeries,
  ) {}

  flush(): void {
    this.events.add(this.pendingEvents);
    this.bytes.add(this.pendingBytes);
    this.pendingEvents = 0;
    this.pendingBytes = 0;
  }
}

/** The topic attribute of events rejected before routing. */
const UNROUTED = '(unrouted)';

/** What a batch holds in memory while in flight: payloads plus a fixed cost per event. */
function batchBytes(events: readonly CommitEvent__Output[]): number {
  let bytes = 0;
  for (const e of events) {
    // Key and value count twice: librdkafka holds its own copy until delivery.
    bytes +=
      EVENT_OVERHEAD_BYTES + 2 * (e.key.length + e.value.length) + e.id.length + e.bucket.length + e.topic.length;
    for (const name in e.metadata) bytes += name.length + e.metadata[name].length;
  }
  return bytes;
}

/** Decoded objects, the Kafka record and promises around each event's payload. */
const EVENT_OVERHEAD_BYTES = 512;
