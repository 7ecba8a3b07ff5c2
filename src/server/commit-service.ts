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
  const { ackDuration } = instruments.metrics;

  /** Every event of a message that carries too many, rejected; undefined when the message is within the limit. */
  function tooMany(events: readonly CommitEvent__Output[]): Promise<Outcome>[] | undefined {
    if (events.length <= limits.maxEventsPerMessage) return undefined;
    const outcome: Outcome = {
      kind: 'rejected',
      code: Status.INVALID_ARGUMENT,
      message: `events: ${events.length} in one message, more than limits.maxEventsPerMessage (${limits.maxEventsPerMessage})`,
    };
    return events.map(() => Promise.resolve(outcome));
  }

  return {
    Commit(
      call: ServerUnaryCall<CommitRequest__Output, CommitResponse>,
      callback: sendUnaryData<CommitResponse>,
    ): void {
      const received = performance.now();
      const events = call.request.events;
      const outcomes =
        tooMany(events) ??
        ingestor.trySubmit(events, callContext(instruments, call.metadata), callPrincipal(call.metadata));
      if (outcomes === undefined) {
        // gRPC clients with a retry policy honour grpc-retry-pushback-ms.
        const trailer = new Metadata();
        trailer.set('grpc-retry-pushback-ms', String(admission.retryAfterMs));
        callback({
          code: Status.RESOURCE_EXHAUSTED,
          details: `gateway at its in-flight cap (admission.maxInFlightEvents ${admission.maxInFlightEvents}, admission.maxInFlightBytes ${admission.maxInFlightBytes}); retry after ${admission.retryAfterMs} ms`,
          metadata: trailer,
        });
        return;
      }
      void Promise.all(outcomes).then((settled) => {
        callback(null, { acks: settled.map((outcome, i) => toAck(events[i].id, outcome)) });
        const seconds = (performance.now() - received) / 1000;
        for (const outcome of settled)
          ackDuration.record(seconds, { 'rpc.method': 'Commit', 'commitlog.outcome': outcome.kind });
      });
    },

    CommitStream(call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>): void {
      new StreamSession(call, ingestor, tooMany, instruments);
    },
  };
}

/**
 * One CommitStream call: acks are sent as events settle, coalesced so that
 * everything settled in one turn of the event loop goes out in one message.
 * The stream ends once the client has half-closed and every event is acked.
 */
class StreamSession {
  readonly #call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>;
  #ready: Ack[] = [];
  #unsettled = 0;
  #clientDone = false;
  #flushScheduled = false;

  constructor(
    call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>,
    ingestor: Ingestor,
    tooMany: (events: readonly CommitEvent__Output[]) => Promise<Outcome>[] | undefined,
    instruments: Instruments,
  ) {
    this.#call = call;
    const { ackDuration } = instruments.metrics;
    const context = callContext(instruments, call.metadata);
    const principal = callPrincipal(call.metadata);
    call.on('data', (request: CommitStreamRequest__Output) => {
      const received = performance.now();
      const events = request.events;
      const outcomes = tooMany(events) ?? ingestor.submit(events, context, principal);
      if (ingestor.admission.full && !call.isPaused()) {
        // Stop reading: grpc-js then stops pulling from the HTTP/2 stream and
        // flow control pushes back on the client until acks free room.
        call.pause();
        void ingestor.admission.whenRoom().then(() => call.resume());
      }
      this.#unsettled += events.length;
      for (let i = 0; i < events.length; i++) {
        const id = events[i].id;
        void outcomes[i].then((outcome) => {
          this.#settled(toAck(id, outcome));
          ackDuration.record((performance.now() - received) / 1000, {
            'rpc.method': 'CommitStream',
            'commitlog.outcome': outcome.kind,
          });
        });
      }
    });
    call.on('end', () => {
      this.#clientDone = true;
      this.#maybeEnd();
    });
    // A cancelled call has no one to ack; its events still settle in the sink.
    call.on('error', () => undefined);
  }

  #settled(ack: Ack): void {
    this.#unsettled--;
    this.#ready.push(ack);
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
    this.#ready = [];
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#clientDone && this.#unsettled === 0 && this.#ready.length === 0 && !this.#call.cancelled) {
      this.#call.end();
    }
  }
}
