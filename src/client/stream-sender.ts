import { status as Status, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import type { Ack__Output } from '../gen/commitlog/v1/Ack';
import type { CommitStreamRequest } from '../gen/commitlog/v1/CommitStreamRequest';
import type { CommitStreamResponse__Output } from '../gen/commitlog/v1/CommitStreamResponse';
import { Batcher } from './batcher';
import { callMetadata } from './credentials';
import { unsettled, type PendingEvent } from './event';
import { isRetryableRejection, settlementFromAck } from './outcome';
import { backoffMs, isGatewayFailure, isRetryableCall, retryDelayMs } from './retry-policy';
import { keepRetrying, markSent, mostAttempts, refuseByBreaker, type Sender, type SenderContext } from './sender';

/** One CommitStream call and the events written to it that have no ack yet. */
interface OpenStream {
  readonly call: ClientDuplexStream<CommitStreamRequest, CommitStreamResponse__Output>;
  readonly unacked: Map<string, PendingEvent>;
  readonly timers: Set<NodeJS.Timeout>;
  /** A response arrived: the gateway works. */
  answered: boolean;
  /** Why this client cancelled the call, overriding the CANCELLED status grpc-js reports. */
  failure: { code: Status; message: string } | undefined;
  /** Ended on purpose by close(): nothing left to retry. */
  closing: boolean;
  /** Opened after a stream failed: one message goes, the rest wait for the first response. */
  readonly probation: boolean;
  /** write() returned false: wait for 'drain'. */
  awaitingDrain: boolean;
}

/**
 * Stream mode: batches go as messages on one long-lived CommitStream and each
 * event settles from its own ack. A broken stream (gateway restarted, network
 * cut, no ack within deadlineMs) is replaced by a new one on the next batch,
 * and only the events without an ack are sent again — with the same ids, so
 * the gateway's dedup window answers those it had already settled.
 */
export class StreamSender implements Sender {
  readonly #context: SenderContext;
  readonly #batcher: Batcher<PendingEvent>;
  #stream: OpenStream | undefined;
  /** The last stream ended with events unacked: the next one starts on probation. */
  #lastFailed = false;

  constructor(context: SenderContext) {
    this.#context = context;
    const { batchSize, lingerMs } = context.options;
    this.#batcher = new Batcher({ maxItems: batchSize, lingerMs }, (batch) => this.#write(batch));
  }

  add(event: PendingEvent): void {
    this.#batcher.add(event);
  }

  flush(): void {
    this.#batcher.flush();
  }

  async close(): Promise<void> {
    this.#batcher.close();
    const stream = this.#stream;
    if (stream === undefined) return;
    stream.closing = true;
    const ended = new Promise<void>((resolve) => stream.call.once('status', () => resolve()));
    // Half-close: the gateway ends the stream once it has acked everything it read.
    if (unsettled(stream.unacked.values()).length === 0) stream.call.end();
    else stream.call.cancel();
    const timer = setTimeout(() => stream.call.cancel(), 5_000);
    await ended;
    clearTimeout(timer);
  }

  #write(batch: readonly PendingEvent[]): void {
    const events = unsettled(batch);
    if (events.length === 0) return;
    const stream = this.#stream ?? this.#open();
    if (stream === undefined) return refuseByBreaker(events, this.#context);
    markSent(events, this.#context.counters);
    for (const event of events) stream.unacked.set(event.id, event);
    this.#context.counters.streamMessages++;
    const accepted = stream.call.write({ events: events.map((e) => e.wire) });
    this.#armDeadline(stream, events);
    if (!accepted) {
      // HTTP/2 flow control: the gateway stopped reading (it is at its in-flight cap).
      stream.awaitingDrain = true;
      stream.call.once('drain', () => {
        stream.awaitingDrain = false;
        this.#release(stream);
      });
    }
    // Further batches wait (the client's buffer cap bounds what piles up) while the gateway pushes
    // back, or until a stream opened after a failure has shown that it works: without that, every
    // reconnect attempt to a gateway that is still down would spend a try of every queued event.
    if (this.#holding(stream)) this.#batcher.pause();
  }

  #holding(stream: OpenStream): boolean {
    return stream.awaitingDrain || (stream.probation && !stream.answered);
  }

  #release(stream: OpenStream): void {
    if (this.#stream === stream && !this.#holding(stream)) this.#batcher.resume();
  }

  #open(): OpenStream | undefined {
    if (!this.#context.breaker.tryAcquire()) return undefined;
    this.#context.counters.streams++;
    const call = this.#context.grpc.CommitStream(callMetadata(this.#context.options.token));
    const stream: OpenStream = {
      call,
      unacked: new Map(),
      timers: new Set(),
      answered: false,
      failure: undefined,
      closing: false,
      probation: this.#lastFailed,
      awaitingDrain: false,
    };
    call.on('data', (response: CommitStreamResponse__Output) => this.#onAcks(stream, response.acks));
    // grpc-js emits 'status' after 'error'; that handler decides.
    call.on('error', () => undefined);
    call.on('status', (status: StatusObject) => this.#onStatus(stream, status));
    this.#stream = stream;
    return stream;
  }

  #onAcks(stream: OpenStream, acks: readonly Ack__Output[]): void {
    if (!stream.answered) {
      stream.answered = true;
      this.#lastFailed = false;
      this.#context.breaker.success();
      this.#release(stream);
    }
    const retry: PendingEvent[] = [];
    for (const ack of acks) {
      const onThisStream = stream.unacked.get(ack.id);
      stream.unacked.delete(ack.id);
      // An ack from a stream the event has left (it timed out, or the stream broke and the ack was
      // still buffered) may settle it, but must not trigger yet another resend.
      const event = onThisStream ?? this.#context.pending(ack.id);
      if (event === undefined || event.settled) continue;
      const settlement = settlementFromAck(ack);
      if (!isRetryableRejection(settlement)) event.settle(settlement);
      else if (onThisStream !== undefined) {
        retry.push(...keepRetrying([event], settlement.code, settlement.message, this.#maxAttempts));
      }
    }
    this.#retryLater(retry, backoffMs(this.#context.options.retry, mostAttempts(retry)));
  }

  #onStatus(stream: OpenStream, status: StatusObject): void {
    for (const timer of stream.timers) clearTimeout(timer);
    if (this.#stream === stream) this.#stream = undefined;
    const left = unsettled(stream.unacked.values());
    stream.unacked.clear();
    // close(): the client settles whatever is left.
    const reconnectLater = !stream.closing && this.#broken(stream, status, left);
    // Batches held for this stream go to the next one, now that the breaker has heard of this one;
    // after a failure, not before the backoff is over: a reconnect is a retry too.
    if (!reconnectLater) this.#batcher.resume();
  }

  /**
   * The stream ended before acking `left`: counts the failure and schedules their
   * retry, or gives them up. True when a retry (and with it the reconnect) is scheduled.
   */
  #broken(stream: OpenStream, status: StatusObject, left: PendingEvent[]): boolean {
    const { breaker, options } = this.#context;
    let { code, message } = stream.failure ?? { code: status.code, message: status.details };
    if (left.length === 0) {
      if (!stream.answered) breaker.release();
      return false;
    }
    this.#lastFailed = true;
    if (code === Status.OK) {
      code = Status.UNAVAILABLE;
      message = `gateway ended the stream with ${left.length} events unacked`;
    }
    if (isGatewayFailure(code)) breaker.failure();
    else if (!stream.answered) breaker.release();
    if (!isRetryableCall(code)) {
      for (const event of left) event.reject(code, message);
      return false;
    }
    const retry = keepRetrying(left, code, message, this.#maxAttempts);
    if (retry.length === 0) return false;
    // Nothing goes out (and no new stream opens) until the backoff is over.
    this.#batcher.pause();
    this.#retryLater(retry, retryDelayMs(options.retry, mostAttempts(retry), code, status.metadata), true);
    return true;
  }

  /** An event without its ack deadlineMs after it was written means the stream is presumed dead. */
  #armDeadline(stream: OpenStream, events: readonly PendingEvent[]): void {
    const { deadlineMs } = this.#context.options;
    const timer = setTimeout(() => {
      stream.timers.delete(timer);
      if (events.some((e) => !e.settled && stream.unacked.has(e.id))) {
        stream.failure = { code: Status.DEADLINE_EXCEEDED, message: `no ack within deadlineMs (${deadlineMs} ms)` };
        stream.call.cancel();
      }
    }, deadlineMs);
    stream.timers.add(timer);
  }

  /** Queues the events again after `delayMs`; `reconnect`: the batcher was held since their stream broke. */
  #retryLater(events: readonly PendingEvent[], delayMs: number, reconnect = false): void {
    if (events.length === 0) return;
    void this.#context.delays.sleep(delayMs).then((completed) => {
      if (!completed) return;
      this.#batcher.addFront(unsettled(events));
      if (reconnect) this.#batcher.resume();
    });
  }

  get #maxAttempts(): number {
    return this.#context.options.retry.maxAttempts;
  }
}
