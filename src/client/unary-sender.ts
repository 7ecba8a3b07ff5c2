import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { Ack__Output } from '../gen/commitlog/v1/Ack';
import { Batcher } from './batcher';
import { callMetadata } from './credentials';
import { unsettled, type PendingEvent } from './event';
import { isRetryableRejection, settlementFromAck } from './outcome';
import { backoffMs, isGatewayFailure, isRetryableCall, retryDelayMs } from './retry-policy';
import { keepRetrying, markSent, mostAttempts, refuseByBreaker, type Sender, type SenderContext } from './sender';

/**
 * Unary mode: every batch is one Commit call. A call that fails retryably is
 * tried again as a whole; after a call that succeeded, only the events whose
 * acks are retryable rejections are. Each batch retries on its own, so a slow
 * batch does not hold up the next.
 */
export class UnarySender implements Sender {
  readonly #context: SenderContext;
  readonly #batcher: Batcher<PendingEvent>;
  readonly #calls = new Set<Promise<void>>();

  constructor(context: SenderContext) {
    this.#context = context;
    const { batchSize, lingerMs } = context.options;
    this.#batcher = new Batcher({ maxItems: batchSize, lingerMs }, (batch) => {
      const call = this.#settle(batch);
      this.#calls.add(call);
      void call.finally(() => this.#calls.delete(call));
    });
  }

  add(event: PendingEvent): void {
    this.#batcher.add(event);
  }

  flush(): void {
    this.#batcher.flush();
  }

  async close(): Promise<void> {
    this.#batcher.close();
    await Promise.all(this.#calls);
  }

  async #settle(batch: readonly PendingEvent[]): Promise<void> {
    const { breaker, delays, options } = this.#context;
    let events = unsettled(batch);
    while (events.length > 0) {
      if (!breaker.tryAcquire()) return refuseByBreaker(events, this.#context);
      markSent(events, this.#context.counters);
      const result = await this.#call(events);
      let retry: PendingEvent[];
      let delay: number;
      if ('error' in result) {
        const { code, details, metadata } = result.error;
        if (isGatewayFailure(code)) breaker.failure();
        else breaker.release();
        if (!isRetryableCall(code)) {
          for (const event of events) event.reject(code, details);
          return;
        }
        retry = keepRetrying(events, code, details, options.retry.maxAttempts);
        delay = retryDelayMs(options.retry, mostAttempts(retry), code, metadata);
      } else {
        breaker.success();
        retry = this.#settleAcks(events, result.acks);
        delay = backoffMs(options.retry, mostAttempts(retry));
      }
      if (retry.length === 0) return;
      // false: the client is closing; it settles what is left.
      if (!(await delays.sleep(delay))) return;
      events = unsettled(retry);
    }
  }

  /** Settles events by their acks; returns those to try again. */
  #settleAcks(events: readonly PendingEvent[], acks: readonly Ack__Output[]): PendingEvent[] {
    const byId = new Map(acks.map((ack) => [ack.id, ack]));
    const retry: PendingEvent[] = [];
    for (const event of events) {
      const ack = byId.get(event.id);
      if (ack === undefined) {
        event.reject(Status.INTERNAL, `gateway answered without an ack for event ${event.id}`);
        continue;
      }
      const settlement = settlementFromAck(ack);
      if (isRetryableRejection(settlement)) {
        retry.push(
          ...keepRetrying([event], settlement.code, settlement.message, this.#context.options.retry.maxAttempts),
        );
      } else {
        event.settle(settlement);
      }
    }
    return retry;
  }

  #call(events: readonly PendingEvent[]): Promise<{ acks: Ack__Output[] } | { error: ServiceError }> {
    const { grpc, options, counters } = this.#context;
    counters.calls++;
    return new Promise((resolve) => {
      grpc.Commit(
        { events: events.map((e) => e.wire) },
        callMetadata(options.token),
        { deadline: Date.now() + options.deadlineMs },
        (error, response) => {
          if (error !== null) resolve({ error });
          else resolve({ acks: response?.acks ?? [] });
        },
      );
    });
  }
}
