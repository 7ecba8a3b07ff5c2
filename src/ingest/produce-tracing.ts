import { SpanKind, SpanStatusCode, TraceFlags, trace, type Context, type TextMapSetter } from '@opentelemetry/api';
import type { KafkaRecord, Outcome } from '../sink';
import { isDurable } from '../sink';
import type { Instruments } from '../telemetry/telemetry';

const HEADER_SETTER: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Ends one record's produce span with its outcome. */
export type EndProduceSpan = (outcome: Outcome) => void;

/**
 * Carries a call's trace into Kafka (DESIGN.md §5): when the call's trace is
 * sampled, each record gets a PRODUCER span with the OTel messaging
 * attributes, and that span's context goes into the record's headers; when it
 * is not, the call's context goes into the headers as it is, so a consumer
 * still continues the trace. With tracing off the tracer's spans are no-ops.
 */
export class ProduceTracing {
  readonly #instruments: Instruments;

  constructor(instruments: Instruments) {
    this.#instruments = instruments;
  }

  /** The records with trace headers, and per record the function that ends its span (a no-op when not recording). */
  start(records: KafkaRecord[], parent: Context): { records: KafkaRecord[]; end: EndProduceSpan[] } | undefined {
    const parentSpan = trace.getSpan(parent);
    if (parentSpan === undefined || !trace.isSpanContextValid(parentSpan.spanContext())) return undefined;
    const { tracer, propagator } = this.#instruments;
    // The parent is the server span's context from the call's metadata: sampled means record.
    const recording = (parentSpan.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
    const traced: KafkaRecord[] = new Array<KafkaRecord>(records.length);
    const end: EndProduceSpan[] = new Array<EndProduceSpan>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      let context = parent;
      if (recording) {
        const span = tracer.startSpan(
          `send ${record.topic}`,
          {
            kind: SpanKind.PRODUCER,
            attributes: {
              'messaging.system': 'kafka',
              'messaging.operation.type': 'send',
              'messaging.operation.name': 'send',
              'messaging.destination.name': record.topic,
              'messaging.message.id': record.id,
              'messaging.message.body.size': record.value?.length ?? 0,
              'messaging.kafka.message.tombstone': record.value === null,
            },
          },
          parent,
        );
        context = trace.setSpan(parent, span);
        end[i] = (outcome) => {
          span.setAttribute('commitlog.outcome', outcome.kind);
          const where = outcome.kind === 'duplicate' ? outcome.first : outcome;
          if (where.kind === 'delivered') {
            span.setAttribute('messaging.destination.partition.id', String(where.partition));
            span.setAttribute('messaging.kafka.offset', Number(where.offset));
          }
          if (!isDurable(outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: describe(outcome) });
          span.end();
        };
      } else {
        end[i] = () => undefined;
      }
      const carrier: Record<string, string> = {};
      propagator.inject(context, carrier, HEADER_SETTER);
      traced[i] = {
        ...record,
        headers: [...record.headers, ...Object.entries(carrier).map(([key, value]) => ({ [key]: value }))],
      };
    }
    return { records: traced, end };
  }
}

function describe(outcome: Outcome): string {
  return outcome.kind === 'rejected' ? outcome.message : outcome.kind;
}
