import { metrics as metricsApi, trace, type Meter, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import os from 'node:os';
import type { TelemetryConfig } from '../config/schema';
import { LocalHistograms } from './local-histograms';
import type { Logger } from './logger';
import { GatewayMetrics } from './metrics';

const SCOPE = 'commitlog';

/** What the stages record into: handed down from the Gateway, like the Config. */
export interface Instruments {
  readonly tracer: Tracer;
  /** False when no traces are exported: `tracer` is the API's no-op one. */
  readonly tracing: boolean;
  readonly propagator: TextMapPropagator;
  readonly metrics: GatewayMetrics;
}

/**
 * The OpenTelemetry SDK of one gateway: traces over OTLP (http/protobuf) when
 * an endpoint is configured, metrics on a Prometheus scrape endpoint and over
 * OTLP. With nothing configured it costs nothing: the API's no-op tracer and
 * meter are handed out. Started once, flushed and shut down on close.
 */
export class Telemetry {
  readonly #config: TelemetryConfig;
  readonly #log: Logger;
  readonly #version: string;
  #tracerProvider: NodeTracerProvider | undefined;
  #meterProvider: MeterProvider | undefined;
  #prometheus: PrometheusExporter | undefined;
  /** Per-event histograms aggregated outside the SDK; every reader collects them too. */
  readonly #local: LocalHistograms;

  constructor(config: TelemetryConfig, version: string, log: Logger) {
    this.#config = config;
    this.#version = version;
    this.#log = log.child({ component: 'telemetry' });
    this.#local = new LocalHistograms({ name: SCOPE, version });
    this.#build();
    this.instruments = {
      tracer: this.tracer,
      tracing: this.#tracerProvider !== undefined,
      propagator: this.propagator,
      metrics: new GatewayMetrics(this.meter, this.#local),
    };
  }

  readonly instruments: Instruments;

  /**
   * W3C trace context, used explicitly (not through the global API) so that a
   * traceparent from the client reaches the Kafka headers even with tracing off.
   */
  readonly propagator = new W3CTraceContextPropagator();

  get tracer(): Tracer {
    return (this.#tracerProvider ?? trace).getTracer(SCOPE, this.#version);
  }

  get meter(): Meter {
    return (this.#meterProvider ?? metricsApi).getMeter(SCOPE, this.#version);
  }

  /** Binds the Prometheus endpoint; the providers were built in the constructor. */
  async start(): Promise<void> {
    if (this.#prometheus === undefined) return;
    await this.#prometheus.startServer();
    this.#log.info({ address: this.#config.metricsListen }, 'serving Prometheus metrics on /metrics');
  }

  #build(): void {
    const config = this.#config;
    if (config.disabled) return;
    const resource = resourceFromAttributes({
      ...config.resourceAttributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: this.#version,
      // service.instance.id: the pod name in Kubernetes, which is what an SRE searches by.
      'service.instance.id': config.resourceAttributes['service.instance.id'] ?? `${os.hostname()}-${process.pid}`,
    });
    const tracesUrl =
      config.otlpTracesEndpoint || (config.otlpEndpoint && `${config.otlpEndpoint.replace(/\/$/, '')}/v1/traces`);
    if (tracesUrl) {
      this.#tracerProvider = new NodeTracerProvider({
        resource,
        sampler: sampler(config),
        spanProcessors: [
          new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl, headers: config.otlpHeaders })),
        ],
      });
      this.#log.info({ url: tracesUrl, sampler: config.sampler }, 'exporting traces over OTLP');
    }
    const readers: MetricReader[] = [];
    if (config.metricsListen !== '') {
      const at = config.metricsListen.lastIndexOf(':');
      const host = config.metricsListen.slice(0, at).replace(/^\[|\]$/g, '');
      const port = Number(config.metricsListen.slice(at + 1));
      this.#prometheus = new PrometheusExporter({
        host,
        port,
        preventServerStart: true,
        metricProducers: [this.#local],
      });
      readers.push(this.#prometheus);
    }
    const metricsUrl =
      config.otlpMetricsEndpoint || (config.otlpEndpoint && `${config.otlpEndpoint.replace(/\/$/, '')}/v1/metrics`);
    if (metricsUrl) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: metricsUrl, headers: config.otlpHeaders }),
          exportIntervalMillis: config.metricExportIntervalMs,
          metricProducers: [this.#local],
        }),
      );
    }
    if (readers.length > 0) this.#meterProvider = new MeterProvider({ resource, readers });
  }

  /** Flushes what is buffered (the last spans of a drain) and stops the exporters. */
  async close(): Promise<void> {
    this.instruments.metrics.close();
    const results = await Promise.allSettled([this.#tracerProvider?.shutdown(), this.#meterProvider?.shutdown()]);
    for (const result of results) {
      if (result.status === 'rejected') this.#log.warn({ err: String(result.reason) }, 'telemetry shutdown failed');
    }
    this.#tracerProvider = undefined;
    this.#meterProvider = undefined;
    this.#prometheus = undefined;
  }
}

function sampler(config: TelemetryConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerArg);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}
