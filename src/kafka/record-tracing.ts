import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { isDurable, type KafkaRecord, type Outcome } from '../sink';
import type { Instruments } from '../telemetry/telemetry';

const HEADER_GETTER: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * Spans of what happens to a record after its produce span: spilled to disk,
 * replayed from it. Their parent is the trace context in the record's own
 * headers, which the spill log keeps, so a replay hours later still lands in
 * the trace of the call that sent the event. Nothing is started for records
 * of unsampled traces.
 */
export class RecordTracing {
  readonly #instruments: Instruments;

  constructor(instruments: Instruments) {
    this.#instruments = instruments;
  }

  /** A span under the record's trace, or undefined when the record carries no sampled trace. */
  start(record: KafkaRecord, name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
    const carrier: Record<string, string> = {};
    for (const header of record.headers) {
      if ('traceparent' in header) carrier.traceparent = header.traceparent;
      if ('tracestate' in header) carrier.tracestate = header.tracestate;
    }
    if (carrier.traceparent === undefined) return undefined;
    const { propagator, tracer } = this.#instruments;
    const parent = propagator.extract(ROOT_CONTEXT, carrier, HEADER_GETTER);
    const context = trace.getSpanContext(parent);
    if (context === undefined || (context.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
    return tracer.startSpan(name, { kind, attributes: { 'messaging.message.id': record.id, ...attributes } }, parent);
  }

  /** Ends a span with the record's outcome (where it landed, and ERROR when not durable). */
  static end(span: Span | undefined, outcome: Outcome): void {
    if (span === undefined) return;
    span.setAttribute('commitlog.outcome', outcome.kind);
    if (outcome.kind === 'delivered') {
      span.setAttribute('messaging.destination.partition.id', String(outcome.partition));
      span.setAttribute('messaging.kafka.offset', Number(outcome.offset));
    }
    if (!isDurable(outcome))
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: outcome.kind === 'rejected' ? outcome.message : outcome.kind,
      });
    span.end();
  }
}
