import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { Config } from '../config/schema';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import type { KafkaRecord, Outcome, Sink } from '../sink';
import { Admission } from './admission';
import { DedupSink } from './dedup-sink';
import type { Instruments } from '../telemetry/telemetry';
import { ProduceTracing, type EndProduceSpan } from './produce-tracing';
import { EventValidator } from './validate';

/**
 * The ingest stage: validates and routes a batch of decoded events, hands the
 * valid ones to the sink as one batch, and returns one outcome per event in
 * the order received. An invalid event is rejected alone; the rest of its
 * batch goes on. Retries of settled ids are caught before the sink.
 */
export class Ingestor {
  readonly #validator: EventValidator;
  readonly #sink: Sink;
  readonly #tracing: ProduceTracing;
  readonly #instruments: Instruments;
  readonly admission: Admission;

  constructor(config: Config, sink: Sink, instruments: Instruments) {
    this.#validator = new EventValidator(config.limits, config.routing, config.security.principals);
    this.#sink = new DedupSink(sink, config.dedup);
    this.#tracing = new ProduceTracing(instruments);
    this.#instruments = instruments;
    this.admission = new Admission(config.admission);
  }

  /**
   * For unary calls: undefined, and nothing taken, when the in-flight caps have no room for the whole batch.
   * `principal` is the authenticated caller (security.principals decides what it may write).
   */
  trySubmit(
    events: readonly CommitEvent__Output[],
    trace: Context = ROOT_CONTEXT,
    principal?: string,
  ): Promise<Outcome>[] | undefined {
    const bytes = batchBytes(events);
    if (!this.admission.tryAcquire(events.length, bytes)) return undefined;
    return this.#submit(events, bytes, trace, principal);
  }

  /** For streams: always taken; the caller stops reading while `admission.full`. */
  submit(
    events: readonly CommitEvent__Output[],
    trace: Context = ROOT_CONTEXT,
    principal?: string,
  ): Promise<Outcome>[] {
    const bytes = batchBytes(events);
    this.admission.acquire(events.length, bytes);
    return this.#submit(events, bytes, trace, principal);
  }

  #submit(
    events: readonly CommitEvent__Output[],
    bytes: number,
    trace: Context,
    principal: string | undefined,
  ): Promise<Outcome>[] {
    const outcomes = new Array<Promise<Outcome>>(events.length);
    /** Each event's topic once routed, for the traffic metrics. */
    const topics = new Array<string>(events.length).fill(UNROUTED);
    let records: KafkaRecord[] = [];
    const positions: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const result = this.#validator.validate(events[i], principal);
      if (result.ok) {
        records.push(result.record);
        positions.push(i);
        topics[i] = result.record.topic;
      } else {
        outcomes[i] = Promise.resolve(result.outcome);
      }
    }
    if (records.length > 0) {
      const traced = this.#tracing.start(records, trace);
      if (traced !== undefined) records = traced.records;
      const sent = this.#sink.send(records);
      for (let j = 0; j < sent.length; j++) {
        outcomes[positions[j]] = traced === undefined ? sent[j] : sent[j].then(endSpan(traced.end[j]));
      }
    }
    // The batch's room is given back, and its traffic counted, when its last event settles.
    void Promise.all(outcomes).then((settled) => {
      this.admission.release(events.length, bytes);
      this.#count(events, topics, settled);
    });
    return outcomes;
  }

  /** Traffic and errors by topic and outcome, one counter add per distinct pair in the batch. */
  #count(events: readonly CommitEvent__Output[], topics: string[], outcomes: Outcome[]): void {
    const { eventsReceived, bytesReceived, rejections } = this.#instruments.metrics;
    const tally = new Map<string, { topic: string; outcome: string; events: number; bytes: number }>();
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i];
      const key = `${topics[i]}\u0000${outcome.kind}`;
      const entry = tally.get(key) ?? { topic: topics[i], outcome: outcome.kind, events: 0, bytes: 0 };
      entry.events++;
      entry.bytes += events[i].key.length + events[i].value.length;
      tally.set(key, entry);
      if (outcome.kind === 'rejected') rejections.add(1, { 'rpc.grpc.status_code': outcome.code });
    }
    for (const { topic, outcome, events: n, bytes } of tally.values()) {
      const attributes = { 'messaging.destination.name': topic, 'commitlog.outcome': outcome };
      eventsReceived.add(n, attributes);
      bytesReceived.add(bytes, attributes);
    }
  }
}

/** The topic attribute of events rejected before routing. */
const UNROUTED = '(unrouted)';

function endSpan(end: EndProduceSpan): (outcome: Outcome) => Outcome {
  return (outcome) => {
    end(outcome);
    return outcome;
  };
}

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
