import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptor,
  type ServerInterceptingCallInterface,
} from '@grpc/grpc-js';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { CounterSeries } from '../telemetry/local-histograms';
import type { Logger } from '../telemetry/logger';
import type { Instruments } from '../telemetry/telemetry';

const getter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const value = carrier.get(key)[0];
    return value === undefined ? undefined : String(value);
  },
};

const setter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/**
 * A server interceptor that gives every RPC its server span (parent: the
 * client's W3C traceparent) and counts it by method and status code. The
 * span's context replaces the traceparent the handler sees, so what the
 * handler starts (produce spans, record headers) hangs under the server span.
 * Failed RPCs are logged with their trace and span ids (all RPCs at debug).
 */
export function rpcTelemetryInterceptor(instruments: Instruments, log: Logger): ServerInterceptor {
  const { tracer, tracing, propagator, metrics } = instruments;
  const debug = log.isLevelEnabled('debug');
  /** Per method path: its names, span attributes and call counters by status code, made on its first call. */
  const methods = new Map<string, MethodTelemetry>();
  return (method, next: ServerInterceptingCallInterface) => {
    let known = methods.get(method.path);
    if (known === undefined) {
      known = methodTelemetry(method.path);
      methods.set(method.path, known);
    }
    const { service, name, attributes, calls } = known;
    let ended = false;
    let span: ReturnType<typeof tracer.startSpan> | undefined;
    const end = (code: Status, details: string): void => {
      if (ended) return;
      ended = true;
      let counted = calls.get(code);
      if (counted === undefined) {
        counted = metrics.rpcCalls.series({ ...attributes, 'rpc.grpc.status_code': code });
        calls.set(code, counted);
      }
      counted.add(1);
      const failed = code !== Status.OK && code !== Status.CANCELLED;
      if (failed || debug) {
        const context = span?.spanContext();
        const fields = { trace_id: context?.traceId, span_id: context?.spanId, method: method.path, code, details };
        if (failed) log.warn(fields, 'rpc failed');
        else log.debug(fields, 'rpc finished');
      }
      if (span === undefined) return;
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
      span.end();
    };
    return new ServerInterceptingCall(next, {
      start: (startNext) => {
        startNext({
          onReceiveMetadata: (metadata, mdNext) => {
            // Tracing off and no trace context to pass on: a no-op span would change nothing.
            if (!tracing && !hasTraceContext(metadata)) {
              mdNext(metadata);
              return;
            }
            const parent = propagator.extract(ROOT_CONTEXT, metadata, getter);
            span = tracer.startSpan(`${service}/${name}`, { kind: SpanKind.SERVER, attributes }, parent);
            metadata.remove('traceparent');
            metadata.remove('tracestate');
            propagator.inject(trace.setSpan(parent, span), metadata, setter);
            mdNext(metadata);
          },
          onCancel: () => end(Status.CANCELLED, 'cancelled by the client'),
        });
      },
      sendStatus: (status, statusNext) => {
        end(status.code, status.details);
        statusNext(status);
      },
    });
  };
}

interface MethodTelemetry {
  readonly service: string;
  readonly name: string;
  readonly attributes: Attributes;
  readonly calls: Map<Status, CounterSeries>;
}

function methodTelemetry(path: string): MethodTelemetry {
  const [, service = '', name = path] = path.split('/');
  return {
    service,
    name,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': name },
    calls: new Map(),
  };
}

/** The trace context the rpcTelemetryInterceptor left in a call's metadata: the server span's. */
export function callContext(instruments: Instruments, metadata: Metadata): Context {
  if (!hasTraceContext(metadata)) return ROOT_CONTEXT;
  return instruments.propagator.extract(ROOT_CONTEXT, metadata, getter);
}

/** W3C trace context headers: without them extracting yields the root context. */
function hasTraceContext(metadata: Metadata): boolean {
  return metadata.get('traceparent').length > 0 || metadata.get('tracestate').length > 0;
}
