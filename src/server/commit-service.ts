import {
  Metadata,
  status as Status,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Config } from '../config/schema';
import type { Ack } from '../gen/commitlog/v1/Ack';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import type { CommitLogServiceHandlers } from '../gen/commitlog/v1/CommitLogService';
import type { CommitRequest__Output } from '../gen/commitlog/v1/CommitRequest';
import type { CommitResponse } from '../gen/commitlog/v1/CommitResponse';
import type { CommitStreamRequest__Output } from '../gen/commitlog/v1/CommitStreamRequest';
import type { CommitStreamResponse } from '../gen/commitlog/v1/CommitStreamResponse';
import type { Ingestor } from '../ingest/ingestor';
import type { Outcome } from '../sink';
import type { HistogramSeries, LocalHistogram } from '../telemetry/local-histograms';
import type { Instruments } from '../telemetry/telemetry';
import { toAck } from './ack';
import { callPrincipal } from './auth-interceptor';
import { callContext } from './rpc-telemetry';

/** The CommitLogService RPCs over the ingest stage. */
export function commitServiceHandlers(
  ingestor: Ingestor,
  config: Config,
  instruments: Instruments,
): CommitLogServiceHandlers {
  const { limits, admission } = config;
  const ackLatency = new AckLatency(instruments);

  /** The outcome of every event of a message that carries too many; undefined when the message is within the limit. */
  function tooMany(events: readonly CommitEvent__Output[]): Outcome | undefined {
    if (events.length <= limits.maxEventsPerMessage) return undefined;
    return {
      kind: 'rejected',
      code: Status.INVALID_ARGUMENT,
      message: `events: ${events.length} in one message, more than limits.maxEventsPerMessage (${limits.maxEventsPerMessage})`,
    };
  }

  return {
    Commit(
      call: ServerUnaryCall<CommitRequest__Output, CommitResponse>,
      callback: sendUnaryData<CommitResponse>,
    ): void {
      const received = performance.now();
      const events = call.request.events;
      if (events.length === 0) {
        callback(null, { acks: [] });
        return;
      }
      const acks = new Array<Ack>(events.length);
      const kinds = new Array<Outcome['kind']>(events.length);
      let remaining = events.length;
      const settle = (i: number, outcome: Outcome): void => {
        acks[i] = toAck(events[i].id, outcome);
        kinds[i] = outcome.kind;
        if (--remaining > 0) return;
        callback(null, { acks });
        const seconds = (performance.now() - received) / 1000;
        for (const kind of kinds) ackLatency.record('Commit', kind, seconds);
      };
      const refused = tooMany(events);
      if (refused !== undefined) {
        for (let i = 0; i < events.length; i++) settle(i, refused);
        return;
      }
      if (ingestor.trySubmit(events, settle, callContext(instruments, call.metadata), callPrincipal(call.metadata)))
        return;
      // gRPC clients with a retry policy honour grpc-retry-pushback-ms.
      const trailer = new Metadata();
      trailer.set('grpc-retry-pushback-ms', String(admission.retryAfterMs));
      callback({
        code: Status.RESOURCE_EXHAUSTED,
        details: `gateway at its in-flight cap (admission.maxInFlightEvents ${admission.maxInFlightEvents}, admission.maxInFlightBytes ${admission.maxInFlightBytes}); retry after ${admission.retryAfterMs} ms`,
        metadata: trailer,
      });
    },

    CommitStream(call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>): void {
      new StreamSession(call, ingestor, tooMany, instruments, ackLatency);
    },
  };
}

/** commitlog.ack.duration, one series per method and outcome, looked up once. */
class AckLatency {
  readonly #series = { Commit: new Map<string, HistogramSeries>(), CommitStream: new Map<string, HistogramSeries>() };
  readonly #histogram: LocalHistogram;

  constructor(instruments: Instruments) {
    this.#histogram = instruments.metrics.ackDuration;
  }

  record(method: 'Commit' | 'CommitStream', kind: Outcome['kind'], seconds: number): void {
    const byKind = this.#series[method];
    let series = byKind.get(kind);
    if (series === undefined) {
      series = this.#histogram.series({ 'rpc.method': method, 'commitlog.outcome': kind });
      byKind.set(kind, series);
    }
    series.record(seconds);
  }
}

/**
 * One CommitStream call: acks are sent as events settle, coalesced so that
 * everything settled in one turn of the event loop goes out in one message.
 * The stream ends once the client has half-closed and every event is acked.
 */
class StreamSession {
  readonly #call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>;
  readonly #ackLatency: AckLatency;
  #ready: Ack[] = [];
  /** Per ack in #ready: when its message was received (performance.now()), and its outcome. */
  #readyReceived: number[] = [];
  #readyKinds: Array<Outcome['kind']> = [];
  #unsettled = 0;
  #clientDone = false;
  #flushScheduled = false;

  constructor(
    call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>,
    ingestor: Ingestor,
    tooMany: (events: readonly CommitEvent__Output[]) => Outcome | undefined,
    instruments: Instruments,
    ackLatency: AckLatency,
  ) {
    this.#call = call;
    this.#ackLatency = ackLatency;
    const context = callContext(instruments, call.metadata);
    const principal = callPrincipal(call.metadata);
    call.on('data', (request: CommitStreamRequest__Output) => {
      const received = performance.now();
      const events = request.events;
      this.#unsettled += events.length;
      const settle = (i: number, outcome: Outcome): void => this.#settled(events[i].id, outcome, received);
      const refused = tooMany(events);
      if (refused !== undefined) {
        for (let i = 0; i < events.length; i++) settle(i, refused);
      } else {
        ingestor.submit(events, settle, context, principal);
      }
      if (ingestor.admission.full && !call.isPaused()) {
        // Stop reading: grpc-js then stops pulling from the HTTP/2 stream and
        // flow control pushes back on the client until acks free room.
        call.pause();
        void ingestor.admission.whenRoom().then(() => call.resume());
      }
    });
    call.on('end', () => {
      this.#clientDone = true;
      this.#maybeEnd();
    });
    // A cancelled call has no one to ack; its events still settle in the sink.
    call.on('error', () => undefined);
  }

  #settled(id: string, outcome: Outcome, received: number): void {
    this.#unsettled--;
    this.#ready.push(toAck(id, outcome));
    this.#readyReceived.push(received);
    this.#readyKinds.push(outcome.kind);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#ready.length > 0 && !this.#call.cancelled) {
      this.#call.write({ acks: this.#ready });
    }
    const now = performance.now();
    const received = this.#readyReceived;
    const kinds = this.#readyKinds;
    for (let i = 0; i < kinds.length; i++)
      this.#ackLatency.record('CommitStream', kinds[i], (now - received[i]) / 1000);
    this.#ready = [];
    this.#readyReceived = [];
    this.#readyKinds = [];
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#clientDone && this.#unsettled === 0 && this.#ready.length === 0 && !this.#call.cancelled) {
      this.#call.end();
    }
  }
}
