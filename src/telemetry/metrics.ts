import type { Attributes, Counter, Meter, ObservableGauge } from '@opentelemetry/api';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { LocalHistograms, type LocalCounter, type LocalHistogram } from './local-histograms';

/** Seconds, from 100 µs to a minute: sub-millisecond acks and a broker that hangs both resolve. */
const LATENCY_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** What the saturation gauges read, each from the component that owns it. */
export interface SaturationSources {
  inFlightEvents: () => number;
  inFlightBytes: () => number;
  readonly maxInFlightEvents: number;
  readonly maxInFlightBytes: number;
  /** Records handed to librdkafka (or waiting for room in its queue) and not yet reported. */
  producerQueueDepth: () => number;
  spillBacklog: () => { events: number; bytes: number; oldestReceivedAt: number | undefined };
}

/**
 * The gateway's instruments: the four golden signals. Names and units follow
 * the OTel conventions; docs/telemetry.md lists each with its meaning.
 */
export class GatewayMetrics {
  /** Receive → ack, per event: aggregated locally (see LocalHistograms), one series per method and outcome. */
  readonly ackDuration: LocalHistogram;
  /** Handed to librdkafka → delivery report, per record: aggregated locally, one series per librdkafka error. */
  readonly deliveryDuration: LocalHistogram;
  /** Added to per batch and per call: aggregated locally, like ackDuration. */
  readonly eventsReceived: LocalCounter;
  readonly bytesReceived: LocalCounter;
  readonly rpcCalls: LocalCounter;
  readonly deliveryFailures: Counter;
  readonly rejections: Counter;
  readonly spillErrors: Counter;
  readonly #gauges: ObservableGauge[] = [];
  #loopDelay: IntervalHistogram | undefined;

  /** `local` must be among the metric producers of the readers that export `meter`'s metrics. */
  constructor(meter: Meter, local: LocalHistograms = new LocalHistograms({ name: 'commitlog' })) {
    this.ackDuration = local.create('commitlog.ack.duration', {
      unit: 's',
      description: 'Time from receiving an event to sending its ack',
      boundaries: LATENCY_BUCKETS_S,
    });
    this.deliveryDuration = local.create('commitlog.kafka.delivery.duration', {
      unit: 's',
      description: 'Time from handing a record to librdkafka to its delivery report',
      boundaries: LATENCY_BUCKETS_S,
    });
    this.eventsReceived = local.createCounter('commitlog.events.received', {
      unit: '{event}',
      description: 'Events received, by topic and outcome',
    });
    this.bytesReceived = local.createCounter('commitlog.events.received.size', {
      unit: 'By',
      description: 'Key and value bytes of the events received, by topic and outcome',
    });
    this.rpcCalls = local.createCounter('commitlog.rpc.calls', {
      unit: '{call}',
      description: 'RPCs finished, by method and gRPC status code',
    });
    this.deliveryFailures = meter.createCounter('commitlog.kafka.delivery.failures', {
      unit: '{record}',
      description: 'Records Kafka did not take, by librdkafka error',
    });
    this.rejections = meter.createCounter('commitlog.events.rejected', {
      unit: '{event}',
      description: 'Events acked REJECTED, by gRPC status code',
    });
    this.spillErrors = meter.createCounter('commitlog.spill.errors', {
      unit: '{error}',
      description: 'Spill log failures (full, I/O) and records cut at recovery',
    });
    // Error counters are exported from the start, at zero, so "no errors" shows as 0 rather than as no data.
    for (const counter of [this.deliveryFailures, this.rejections, this.spillErrors]) counter.add(0);
    this.#meter = meter;
  }

  readonly #meter: Meter;

  /** For the instruments of parts that come and go with the configuration (the worker pool's). */
  get meter(): Meter {
    return this.#meter;
  }

  /** Starts the saturation gauges (observed at each collection) and the event-loop delay monitor. */
  observe(sources: SaturationSources): void {
    const meter = this.#meter;
    this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.#loopDelay.enable();
    const gauge = (
      name: string,
      unit: string,
      description: string,
      read: () => number | undefined,
      attributes?: Attributes,
    ) => {
      const g = meter.createObservableGauge(name, { unit, description });
      g.addCallback((result) => {
        const value = read();
        if (value !== undefined) result.observe(value, attributes);
      });
      this.#gauges.push(g);
    };
    gauge('commitlog.inflight.events', '{event}', 'Events received and not yet settled', sources.inFlightEvents);
    gauge('commitlog.inflight.size', 'By', 'Bytes of the events in flight', sources.inFlightBytes);
    gauge('commitlog.inflight.events.limit', '{event}', 'admission.maxInFlightEvents', () => sources.maxInFlightEvents);
    gauge('commitlog.inflight.size.limit', 'By', 'admission.maxInFlightBytes', () => sources.maxInFlightBytes);
    gauge(
      'commitlog.kafka.producer.queue.depth',
      '{record}',
      'Records with librdkafka, not yet reported',
      sources.producerQueueDepth,
    );
    gauge(
      'commitlog.spill.backlog.events',
      '{event}',
      'Spilled events not yet replayed',
      () => sources.spillBacklog().events,
    );
    gauge(
      'commitlog.spill.backlog.size',
      'By',
      'Bytes of spilled events not yet replayed',
      () => sources.spillBacklog().bytes,
    );
    gauge('commitlog.spill.backlog.age', 's', 'Age of the oldest spilled event not yet replayed', () => {
      const oldest = sources.spillBacklog().oldestReceivedAt;
      return oldest === undefined ? 0 : (Date.now() - oldest) / 1000;
    });
    gauge('nodejs.eventloop.delay.p99', 's', 'Event-loop delay, 99th percentile since the last collection', () => {
      const delay = this.#loopDelay;
      if (delay === undefined) return undefined;
      const p99 = delay.percentile(99) / 1e9;
      delay.reset();
      return p99;
    });
  }

  close(): void {
    this.#loopDelay?.disable();
  }
}
