import { status as Status } from '@grpc/grpc-js';
import type { CommitEvent } from '../gen/commitlog/v1/CommitEvent';
import type { CommitLogServiceClient } from '../gen/commitlog/v1/CommitLogService';
import { loadCommitlogProto } from '../server/proto';
import { CircuitBreaker, type BreakerState } from './circuit-breaker';
import { channelCredentials, tlsChannelOptions } from './credentials';
import { Delays } from './delays';
import { EventBudget } from './event-budget';
import { PendingEvent, toWire, type ClientEvent } from './event';
import { resolveOptions, type CommitLogClientOptions, type ResolvedOptions } from './options';
import type { CommitOutcome } from './outcome';
import type { Counters, Sender } from './sender';
import { StreamSender } from './stream-sender';
import { UnarySender } from './unary-sender';

export interface ClientStats extends Readonly<Counters> {
  /** Events handed over and not yet settled. */
  readonly buffered: number;
  readonly breaker: BreakerState;
}

/**
 * The commitlog client: hands events to the gateway and resolves one outcome
 * per event, retries included. Outcomes are data; commit() never throws for a
 * failed event, it resolves as `rejected` with the last code and message.
 */
export class CommitLogClient {
  readonly #options: ResolvedOptions;
  readonly #grpc: CommitLogServiceClient;
  readonly #breaker: CircuitBreaker;
  readonly #budget: EventBudget;
  readonly #delays = new Delays();
  readonly #sender: Sender;
  readonly #counters: Counters = {
    calls: 0,
    streams: 0,
    streamMessages: 0,
    eventsSent: 0,
    resends: 0,
    fastFailures: 0,
  };
  /** Pending events by id: an id already pending shares its outcome instead of going out twice. */
  readonly #pending = new Map<string, PendingEvent>();
  /** Ids generated for id-less events, per event object, so handing the same object over again reuses its id. */
  readonly #generatedIds = new WeakMap<ClientEvent, string>();
  #seq = 0;
  #closing: Promise<void> | undefined;

  constructor(options: CommitLogClientOptions) {
    this.#options = resolveOptions(options);
    const { address, tls, channelOptions, interceptors } = this.#options;
    const proto = loadCommitlogProto();
    this.#grpc = new proto.commitlog.v1.CommitLogService(address, channelCredentials(tls), {
      ...tlsChannelOptions(tls),
      ...channelOptions,
      interceptors: [...interceptors],
    });
    this.#breaker = new CircuitBreaker(this.#options.circuitBreaker);
    this.#budget = new EventBudget(this.#options.maxBufferedEvents);
    const context = {
      options: this.#options,
      grpc: this.#grpc,
      breaker: this.#breaker,
      delays: this.#delays,
      counters: this.#counters,
      pending: (id: string) => this.#pending.get(id),
    };
    this.#sender = this.#options.mode === 'stream' ? new StreamSender(context) : new UnarySender(context);
  }

  /** Hands one event over; resolves with its outcome. Waits for buffer room (or is rejected, per whenFull). */
  async commit(event: ClientEvent): Promise<CommitOutcome> {
    const [outcome] = await this.#handOver([event], false);
    return outcome;
  }

  /** Hands events over in order and sends them without lingering; one outcome per event, in the same order. */
  commitMany(events: Iterable<ClientEvent>): Promise<CommitOutcome[]> {
    return this.#handOver(events, true);
  }

  /**
   * Resolves once commit() would take an event without waiting. A reader of a
   * socket or file awaits it before each event, so that reading pauses at the
   * buffer cap and backpressure travels upstream instead of piling up promises.
   */
  whenRoom(): Promise<void> {
    this.#sender.flush();
    return this.#budget.whenRoom();
  }

  get stats(): ClientStats {
    return { ...this.#counters, buffered: this.#pending.size, breaker: this.#breaker.state };
  }

  /**
   * Sends what is queued and waits for every outcome, then ends the stream and
   * the channel. After `timeoutMs`, events still unsettled resolve as rejected
   * CANCELLED: their fate is unknown, and a later retry with the same id is safe.
   */
  close(timeoutMs = Infinity): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#budget.close();
    this.#sender.flush();
    const all = Promise.all([...this.#pending.values()].map((e) => e.outcome));
    if (Number.isFinite(timeoutMs)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    } else {
      await all;
    }
    this.#delays.close();
    for (const event of this.#pending.values()) {
      event.reject(Status.CANCELLED, 'client closed before the event settled; its fate is unknown');
    }
    await this.#sender.close();
    this.#grpc.close();
  }

  async #handOver(events: Iterable<ClientEvent>, flush: boolean): Promise<CommitOutcome[]> {
    const outcomes: Promise<CommitOutcome>[] = [];
    for (const event of events) outcomes.push((await this.#admit(event)).outcome);
    if (flush) this.#sender.flush();
    return Promise.all(outcomes);
  }

  /** Takes room for one event and queues it; resolves once it is queued or refused (wrapped: a bare promise would be awaited). */
  async #admit(event: ClientEvent): Promise<{ outcome: Promise<CommitOutcome> }> {
    const id = this.#idOf(event);
    let wire: CommitEvent;
    try {
      wire = toWire(event, id);
    } catch (err) {
      return refused(id, Status.INVALID_ARGUMENT, (err as Error).message);
    }
    const shared = this.#pending.get(id);
    if (shared !== undefined) return shared;
    if (this.#closing !== undefined) return refused(id, Status.CANCELLED, 'client is closed');
    if (!this.#budget.tryTake()) {
      const { maxBufferedEvents, whenFull } = this.#options;
      if (whenFull === 'reject') {
        return refused(id, Status.RESOURCE_EXHAUSTED, `client buffer full (maxBufferedEvents ${maxBufferedEvents})`);
      }
      // What is queued must go out, or waiting for room could wait on the linger timer.
      this.#sender.flush();
      if (!(await this.#budget.take())) return refused(id, Status.CANCELLED, 'client closed while waiting for room');
      const sharedNow = this.#pending.get(id);
      if (sharedNow !== undefined) {
        this.#budget.give();
        return sharedNow;
      }
    }
    const pending = new PendingEvent({ ...wire, id }, this.#seq++);
    this.#pending.set(id, pending);
    void pending.outcome.then(() => {
      this.#pending.delete(id);
      this.#budget.give();
    });
    this.#sender.add(pending);
    return pending;
  }

  #idOf(event: ClientEvent): string {
    if (event.id !== undefined && event.id !== '') return event.id;
    let id = this.#generatedIds.get(event);
    if (id === undefined) {
      id = this.#options.idGenerator();
      this.#generatedIds.set(event, id);
    }
    return id;
  }
}

function refused(id: string, code: Status, message: string): { outcome: Promise<CommitOutcome> } {
  return { outcome: Promise.resolve({ kind: 'rejected', code, message, id, attempts: 0 }) };
}
