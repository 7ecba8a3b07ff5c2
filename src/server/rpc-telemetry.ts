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
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
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
 */
export function rpcTelemetryInterceptor(instruments: Instruments): ServerInterceptor {
  const { tracer, propagator, metrics } = instruments;
  return (method, next: ServerInterceptingCallInterface) => {
    const [, service = '', name = method.path] = method.path.split('/');
    const attributes = { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': name };
    let ended = false;
    let span: ReturnType<typeof tracer.startSpan> | undefined;
    const end = (code: Status, details: string): void => {
      if (ended) return;
      ended = true;
      metrics.rpcCalls.add(1, { ...attributes, 'rpc.grpc.status_code': code });
      if (span === undefined) return;
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
      span.end();
    };
    return new ServerInterceptingCall(next, {
      start: (startNext) => {
        startNext({
          onReceiveMetadata: (metadata, mdNext) => {
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

/** The trace context the rpcTelemetryInterceptor left in a call's metadata: the server span's. */
export function callContext(instruments: Instruments, metadata: Metadata): Context {
  return instruments.propagator.extract(ROOT_CONTEXT, metadata, getter);
}
